/* script_engine: loads ntopng-style Lua user scripts (DESIGN.md, "the user-script contract")
 * into one sandboxed Lua state and runs their hooks.
 *
 * Sandbox: a capped allocator (mem_limit; a refused allocation fails the running call with
 * "not enough memory"), an instruction budget per call (a count hook raising "instruction
 * budget exceeded"), every call into Lua through vm_call() (lua_pcall with a traceback
 * handler, counted per script and hook), and only the libraries scripts need: base (no
 * dofile/loadfile; load() takes text only; print() goes to the log), package/require (Lua
 * modules from installdir/scripts/lua/modules, DIR/lua/modules of every --scripts-dir and
 * Debian's Lua path, text chunks only; the only C modules are cjson and cjson.safe, preloaded
 * from Debian's lua-cjson), table, string (no dump), math, utf8 and os.time/clock/date/difftime.
 *
 * Per-script configuration: <data_dir>/scripts_config.json (engine_config_t.config_path
 * overrides the location). A missing file means defaults; a malformed one is logged and the
 * defaults are used. Format:
 *
 *   { "<subdir>": { "<key>": { "enabled": true|false,
 *                              "value": "<key>;<operator>;<threshold>" | { ... } } } }
 *
 * "enabled" replaces default_enabled; "value" has the shapes of default_value and is merged
 * over the script's default configuration (the string form sets key/operator/threshold, a
 * table sets its fields). A bad entry is logged and that script keeps its defaults.
 *
 * The config table a hook receives: { enabled = bool, key = ..., operator = "gt"|"lt"|"ge"|
 * "le"|"eq"|"ne", threshold = number } for the string form, or a shallow copy of the table
 * form (with `enabled` added); operator/threshold, when present, are validated. */
#include "script_engine.h"

#include "lua_api.h"
#include "asan_poison.h"

#include <lauxlib.h>
#include <lualib.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef ZFLOW_LUA_LMOD
#define ZFLOW_LUA_LMOD "/usr/share/lua/5.4"
#endif
#ifndef ZFLOW_LUA_CMOD
#define ZFLOW_LUA_CMOD "/usr/lib/x86_64-linux-gnu/lua/5.4"
#endif

#define HOOK_SLOTS 4 /* most hooks a subdir has (flow, periodic) */
enum { SLOT_SETUP = HOOK_SLOTS, SLOT_TEARDOWN, SLOT_COUNT };
#define SLOT_NONE (-1) /* engine-internal call: not counted */

#define MAX_SCRIPTS           4096
#define ERRFUNC_INDEX         1    /* the traceback handler stays at stack slot 1 */
#define LOG_INTERVAL_S        10.0 /* at most one error line per script per interval */
#define CONFIG_MAX_BYTES      (4u << 20)
#define INTERN_MAX            65536
#define DEFAULT_MEM_LIMIT     ((size_t)64 << 20)
#define DEFAULT_INSTR_BUDGET  10000000ull
#define DEFAULT_MAX_ERRORS    50u
#define DEFAULT_TIME_LIMIT_MS 1000u
#define HOOK_CHUNK            1000        /* instructions between two budget/clock checks */
#define BIG_ALLOC             (64u << 10) /* allocations that also check the clock */
#define LOG_MSG_MAX           2000        /* longest error text logged */
#define PRINT_MAX             8192        /* longest print() line */

enum { RUNNING = 0, STOP_BUDGET, STOP_TIME };

static const char *const subdir_names[SUBDIR_COUNT] = {"flow",   "interface", "network",
                                                       "system", "snmp",      "syslog"};
static const char *const flow_hook_names[] = {"protocolDetected", "statusChanged", "periodicUpdate",
                                              "flowEnd", NULL};
static const char *const periodic_hook_names[] = {"min", "5mins", "hour", "day", NULL};
static const char *const syslog_hook_names[] = {"handleEvent", NULL};
static const char *const operators[] = {"gt", "lt", "ge", "le", "eq", "ne", NULL};

typedef struct script {
    script_subdir_t subdir;
    char key[128];
    char path[512];
    char title[128];
    char description[256];
    char hooks[256];
    char why_not[256];
    char config_json[512];
    char last_error[256];
    int loaded;
    int enabled;    /* after configuration */
    int configured; /* the configuration file has an entry for it */
    int runnable;   /* loaded, enabled, applicable, setup() ok, not disabled */
    int packet_interface_only, nedge_only, nedge_exclude, default_enabled;
    int l4_proto;                     /* -1: any */
    int l7_id;                        /* -1: any */
    char l7_name[48];                 /* "": any */
    uint32_t periodic_update_seconds; /* 0: every periodicUpdate */
    int fn_ref[HOOK_SLOTS];           /* LUA_NOREF when the script lacks the hook */
    int all_ref, setup_ref, teardown_ref, config_ref;
    uint32_t consecutive_errors;
    uint64_t calls[SLOT_COUNT], errors[SLOT_COUNT], ns[SLOT_COUNT];
    double last_log;
    int logged;
    uint64_t log_suppressed;
} script_t;

/* Small blocks of a Lua state (strings, tables, closures up to POOL_MAX bytes) come from
 * per-size free lists carved out of slabs the state owns: one thread uses a state, so no
 * locking, and Lua tells the size of every block it frees, so no headers. Scripts make and
 * drop thousands of these per call (a decoded JSON event), more than malloc's per-thread
 * cache holds. The slabs go when the state is closed. */
#define POOL_MAX     512
#define POOL_GRAIN   16
#define POOL_CLASSES (POOL_MAX / POOL_GRAIN)
#define POOL_SLAB    (64u << 10)

typedef struct pool_slab {
    struct pool_slab *next;
    max_align_t data[];
} pool_slab_t;

typedef struct pool {
    void *free[POOL_CLASSES]; /* class k: blocks of (k + 1) * POOL_GRAIN bytes */
    pool_slab_t *slabs;
    char *cur, *end;          /* the newest slab's part not carved yet */
} pool_t;

typedef struct vm {
    lua_api_ctx_t ctx; /* first: lua_getextraspace() points here */
    script_engine_t *engine;
    lua_State *L;
    pool_t pool;
    size_t mem_used, mem_limit;
    uint64_t budget, budget_left;
    uint64_t time_limit_ns, deadline_ns;
    int hook_chunk;
    int stopped; /* RUNNING, STOP_BUDGET, STOP_TIME (this call) */
    int in_call;
    int overrides_ref; /* decoded configuration file, during loading */
    script_t *scripts;
    int n_scripts;
    int first[SUBDIR_COUNT], count[SUBDIR_COUNT];
    uint32_t hook_mask[SUBDIR_COUNT]; /* bit per slot: some runnable script has that hook */
    char errbuf[512];                 /* first line of the last failed internal call */
} vm_t;

_Static_assert(offsetof(vm_t, ctx) == 0, "lua_getextraspace() points at vm_t.ctx");

struct script_engine {
    engine_config_t cfg; /* strings point to the copies below */
    char *installdir, *config_path, *data_dir, *local_networks;
    char **user_dirs;
    FILE *log;
    vm_t *vm;
    char **intern; /* open addressing set of owned strings */
    size_t intern_cap, intern_n;
    double started_mono;
    uint64_t calls, errors, budget_exceeded, time_exceeded, mem_refused, disabled, reloads;
};

/* ---------------------------------------------------------------- helpers */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

__attribute__((format(printf, 2, 3))) static void engine_log(FILE *f, const char *fmt, ...)
{
    va_list ap;
    fputs("zflow-collector: ", f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

static void copy_first_line(char *dst, size_t len, const char *src)
{
    size_t n = strcspn(src, "\n");
    if (n >= len) n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

const char *script_subdir_name(script_subdir_t subdir)
{
    return (unsigned)subdir < SUBDIR_COUNT ? subdir_names[subdir] : NULL;
}

static const char *const *subdir_hooks(script_subdir_t sd)
{
    switch (sd) {
    case SUBDIR_FLOW:
        return flow_hook_names;
    case SUBDIR_SYSLOG:
        return syslog_hook_names;
    default:
        return periodic_hook_names;
    }
}

static int hook_slot(script_subdir_t sd, const char *name)
{
    const char *const *names = subdir_hooks(sd);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static const char *slot_name(script_subdir_t sd, int slot)
{
    if (slot == SLOT_SETUP) return "setup";
    if (slot == SLOT_TEARDOWN) return "teardown";
    if (slot < 0) return "load";
    return subdir_hooks(sd)[slot];
}

static int is_periodic_subdir(script_subdir_t sd)
{
    return sd == SUBDIR_INTERFACE || sd == SUBDIR_NETWORK || sd == SUBDIR_SYSTEM ||
           sd == SUBDIR_SNMP;
}

/* ---------------------------------------------------------------- interning */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int intern_grow(script_engine_t *self)
{
    size_t ncap = self->intern_cap ? self->intern_cap * 2 : 64;
    char **n = calloc(ncap, sizeof(*n));
    if (!n) return -1;
    for (size_t i = 0; i < self->intern_cap; i++) {
        char *s = self->intern[i];
        if (!s) continue;
        size_t j = fnv1a(s) & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = s;
    }
    free(self->intern);
    self->intern = n;
    self->intern_cap = ncap;
    return 0;
}

const char *script_engine_intern(script_engine_t *self, const char *s)
{
    if (self->cfg.host.intern) return self->cfg.host.intern(self->cfg.host.ctx, s);
    if (self->intern_n * 2 >= self->intern_cap && self->intern_n < INTERN_MAX)
        intern_grow(self); /* on failure, lookups of known strings still work */
    if (!self->intern_cap) return NULL;
    size_t mask = self->intern_cap - 1, j = fnv1a(s) & mask;
    while (self->intern[j]) {
        if (strcmp(self->intern[j], s) == 0) return self->intern[j];
        j = (j + 1) & mask;
    }
    if (self->intern_n * 2 >= self->intern_cap) return NULL; /* full */
    if (!(self->intern[j] = strdup(s))) return NULL;
    self->intern_n++;
    return self->intern[j];
}

/* ---------------------------------------------------------------- sandbox primitives */

static void vm_count_hook(lua_State *L, lua_Debug *ar);

static inline unsigned pool_class(size_t size)
{
    return (unsigned)((size - 1) / POOL_GRAIN);
}

static void *pool_get(pool_t *p, size_t size)
{
    unsigned k = pool_class(size);
    void *b = p->free[k];
    if (b) {
        ZFLOW_UNPOISON(b, size > sizeof(void *) ? size : sizeof(void *));
        memcpy(&p->free[k], b, sizeof(void *)); /* the next free block */
        return b;
    }
    size_t bytes = (size_t)(k + 1) * POOL_GRAIN;
    if ((size_t)(p->end - p->cur) < bytes) {
        pool_slab_t *slab = malloc(POOL_SLAB);
        if (!slab) return NULL;
        slab->next = p->slabs;
        p->slabs = slab;
        p->cur = (char *)slab->data;
        p->end = (char *)slab + POOL_SLAB;
        ZFLOW_POISON(p->cur, (size_t)(p->end - p->cur)); /* an overrun of a block is caught */
    }
    b = p->cur;
    p->cur += bytes;
    ZFLOW_UNPOISON(b, size);
    return b;
}

static inline void pool_put(pool_t *p, void *b, size_t size)
{
    unsigned k = pool_class(size);
    ZFLOW_POISON(b, (size_t)(k + 1) * POOL_GRAIN); /* a use after free is caught */
    ZFLOW_UNPOISON(b, sizeof(void *));
    memcpy(b, &p->free[k], sizeof(void *));
    ZFLOW_POISON(b, sizeof(void *));
    p->free[k] = b;
}

static void pool_release(pool_t *p)
{
    while (p->slabs) {
        pool_slab_t *next = p->slabs->next;
        ZFLOW_UNPOISON(p->slabs, POOL_SLAB);
        free(p->slabs);
        p->slabs = next;
    }
    memset(p, 0, sizeof *p);
}

/* malloc/realloc/free of a block of the state: small ones from the pool (above). */
static void *block_resize(pool_t *p, void *ptr, size_t old, size_t nsize)
{
    if (!ptr) return nsize <= POOL_MAX ? pool_get(p, nsize) : malloc(nsize);
    if (old > POOL_MAX && nsize > POOL_MAX) return realloc(ptr, nsize);
    if (old <= POOL_MAX && nsize <= POOL_MAX && pool_class(old) == pool_class(nsize)) {
        ZFLOW_POISON(ptr, (size_t)(pool_class(old) + 1) * POOL_GRAIN);
        ZFLOW_UNPOISON(ptr, nsize);
        return ptr;
    }
    void *n = nsize <= POOL_MAX ? pool_get(p, nsize) : malloc(nsize);
    if (!n) return NULL;
    memcpy(n, ptr, old < nsize ? old : nsize);
    if (old <= POOL_MAX)
        pool_put(p, ptr, old);
    else
        free(ptr);
    return n;
}

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    vm_t *vm = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        if (ptr) {
            if (old <= POOL_MAX)
                pool_put(&vm->pool, ptr, old);
            else
                free(ptr);
        }
        vm->mem_used -= old;
        return NULL;
    }
    if (nsize > old && vm->mem_used + (nsize - old) > vm->mem_limit) {
        vm->engine->mem_refused++;
        return NULL;
    }
    /* Costly C functions (string.rep, upper, concat, ...) allocate their results: a big
     * allocation past the call's deadline stops it at the next instruction. */
    if (nsize >= BIG_ALLOC && vm->in_call && vm->stopped == RUNNING && vm->L &&
        mono_ns() >= vm->deadline_ns) {
        vm->stopped = STOP_TIME;
        lua_sethook(vm->L, vm_count_hook, LUA_MASKCOUNT, 1);
    }
    void *p = block_resize(&vm->pool, ptr, old, nsize);
    if (!p) return NULL;
    vm->mem_used = vm->mem_used - old + nsize;
    return p;
}

/* Every hook_chunk instructions: charge the budget, check the clock (vm_alloc checks it too,
 * on big allocations). Once a call is stopped, every instruction fails, so a script cannot
 * pcall() its way past it. */
static void vm_count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    vm_t *vm = (vm_t *)lua_api_ctx(L);
    if (vm->stopped == RUNNING) {
        if (vm->budget_left > (uint64_t)vm->hook_chunk) {
            vm->budget_left -= (uint64_t)vm->hook_chunk;
            if (mono_ns() < vm->deadline_ns) return;
            vm->stopped = STOP_TIME;
        } else {
            vm->budget_left = 0;
            vm->stopped = STOP_BUDGET;
        }
        lua_sethook(L, vm_count_hook, LUA_MASKCOUNT, 1);
    }
    if (vm->stopped == STOP_TIME)
        luaL_error(L, "time limit exceeded (%d ms)", (int)(vm->time_limit_ns / 1000000));
    luaL_error(L, "instruction budget exceeded (%I instructions)", (lua_Integer)vm->budget);
}

static int vm_msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int vm_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "zflow-collector: Lua panic: %s\n", msg ? msg : "?");
    abort();
}

static void vm_update_masks(vm_t *vm)
{
    for (int sd = 0; sd < SUBDIR_COUNT; sd++) {
        uint32_t m = 0;
        for (int i = vm->first[sd]; i < vm->first[sd] + vm->count[sd]; i++) {
            const script_t *s = &vm->scripts[i];
            if (!s->runnable) continue;
            for (int k = 0; k < HOOK_SLOTS; k++)
                if (s->fn_ref[k] != LUA_NOREF) m |= 1u << k;
        }
        vm->hook_mask[sd] = m;
    }
}

static void script_log_error(vm_t *vm, script_t *s, int slot, const char *msg)
{
    FILE *f = vm->engine->log;
    double now = mono_now();
    if (s->logged && now - s->last_log < LOG_INTERVAL_S) {
        s->log_suppressed++;
        return;
    }
    if (s->log_suppressed)
        engine_log(f, "script %s/%s: %s: %.*s (%llu more errors not logged)",
                   subdir_names[s->subdir], s->key, slot_name(s->subdir, slot), LOG_MSG_MAX, msg,
                   (unsigned long long)s->log_suppressed);
    else
        engine_log(f, "script %s/%s: %s: %.*s", subdir_names[s->subdir], s->key,
                   slot_name(s->subdir, slot), LOG_MSG_MAX, msg);
    s->logged = 1;
    s->last_log = now;
    s->log_suppressed = 0;
}

static void vm_call_failed(vm_t *vm, script_t *s, int slot, int rc)
{
    lua_State *L = vm->L;
    const char *msg = rc == LUA_ERRMEM ? "not enough memory" : lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    copy_first_line(vm->errbuf, sizeof(vm->errbuf), msg);

    if (s && slot >= 0) {
        script_engine_t *e = vm->engine;
        e->errors++;
        s->errors[slot]++;
        s->consecutive_errors++;
        copy_first_line(s->last_error, sizeof(s->last_error), msg);
        script_log_error(vm, s, slot, msg);
        uint32_t max = e->cfg.max_errors;
        if (slot < HOOK_SLOTS && s->runnable && s->consecutive_errors >= max) {
            s->runnable = 0;
            snprintf(s->why_not, sizeof(s->why_not), "disabled after %u consecutive errors: %.200s",
                     s->consecutive_errors, s->last_error);
            engine_log(e->log, "script %s/%s: disabled after %u consecutive errors: %s",
                       subdir_names[s->subdir], s->key, s->consecutive_errors, s->last_error);
            e->disabled++;
            vm_update_masks(vm);
        }
    }
    lua_pop(L, 1);
    if (rc == LUA_ERRMEM) lua_gc(L, LUA_GCCOLLECT);
}

/* The one way into Lua: the function and its nargs arguments are on the stack (above the
 * traceback handler). Runs it under lua_pcall with a fresh instruction budget, times it and
 * counts it against `s`/`slot` (s == NULL or slot == SLOT_NONE: engine-internal, not
 * counted). Returns 0 with nres results pushed, or -1 with nothing pushed (the first line of
 * the error is in vm->errbuf, and the script's counters and log have it). */
static int vm_call(vm_t *vm, script_t *s, int slot, int nargs, int nres)
{
    lua_State *L = vm->L;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    vm->deadline_ns = ts_ns(&t0) + vm->time_limit_ns;
    vm->budget_left = vm->budget;
    vm->stopped = RUNNING;
    lua_sethook(L, vm_count_hook, LUA_MASKCOUNT, vm->hook_chunk);
    if (s) {
        vm->ctx.script_key = s->key;
        vm->ctx.subdir = subdir_names[s->subdir];
    }
    vm->in_call++;
    int rc = lua_pcall(L, nargs, nres, ERRFUNC_INDEX);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    vm->in_call--;
    vm->ctx.script_key = NULL;
    vm->ctx.subdir = NULL;
    if (vm->stopped == STOP_BUDGET)
        vm->engine->budget_exceeded++;
    else if (vm->stopped == STOP_TIME)
        vm->engine->time_exceeded++;
    if (s && slot >= 0) {
        s->calls[slot]++;
        s->ns[slot] +=
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
        vm->engine->calls++;
    }
    if (rc == LUA_OK) {
        if (s && slot >= 0) s->consecutive_errors = 0;
        return 0;
    }
    vm_call_failed(vm, s, slot, rc);
    return -1;
}

/* Runs C function `fn` with one light userdata argument through vm_call(). */
static int vm_run(vm_t *vm, lua_CFunction fn, void *arg, script_t *s, int slot)
{
    lua_pushcfunction(vm->L, fn);
    lua_pushlightuserdata(vm->L, arg);
    return vm_call(vm, s, slot, 1, 0);
}

/* ---------------------------------------------------------------- libraries */

static int base_print(lua_State *L)
{
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *line = lua_tolstring(L, -1, &len);
    int cut = len > PRINT_MAX;
    if (ctx->script_key)
        fprintf(ctx->log, "zflow-collector: script %s/%s: %.*s%s\n", ctx->subdir, ctx->script_key,
                PRINT_MAX, line, cut ? "..." : "");
    else
        fprintf(ctx->log, "zflow-collector: lua: %.*s%s\n", PRINT_MAX, line, cut ? "..." : "");
    fflush(ctx->log);
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to text. */
static int base_load(lua_State *L)
{
    int n = lua_gettop(L);
    if (n < 3) lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n < 3 ? 3 : n, LUA_MULTRET);
    return lua_gettop(L);
}

/* collectgarbage("count") only: a full collection per instruction would stall the collector
 * without exceeding any budget. "collect" and "step" are accepted and do nothing. */
static int base_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") == 0) {
        lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                              (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
        return 1;
    }
    if (strcmp(opt, "collect") == 0 || strcmp(opt, "step") == 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    if (strcmp(opt, "isrunning") == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return luaL_error(L, "collectgarbage(\"%s\") is not available to user scripts", opt);
}

static const luaL_Reg base_overrides[] = {
    {"print", base_print},
    {"collectgarbage", base_collectgarbage},
    {NULL, NULL},
};

/* package.searchers[2] replacement: Lua modules from package.path, text chunks only. */
static int searcher_lua(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, lua_upvalueindex(1), "path");
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "'package.path' must be a string");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2)) return 1; /* the "no file ..." message */
    const char *file = lua_tostring(L, -2);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                          lua_tostring(L, -1));
    lua_pushstring(L, file);
    return 2;
}

static void preload_c_module(lua_State *L, int pkg, const char *name, const char *symbol)
{
    lua_getfield(L, pkg, "searchpath");
    lua_pushstring(L, "cjson");
    lua_getfield(L, pkg, "cpath");
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return; /* require() will say it is not found */
    }
    lua_getfield(L, pkg, "loadlib");
    lua_insert(L, -2);
    lua_pushstring(L, symbol);
    lua_call(L, 2, 1);
    if (lua_isfunction(L, -1)) {
        lua_getfield(L, pkg, "preload");
        lua_insert(L, -2);
        lua_setfield(L, -2, name);
    }
    lua_pop(L, 1);
}

static int open_libs_protected(lua_State *L)
{
    vm_t *vm = lua_touserdata(L, 1);
    script_engine_t *e = vm->engine;
    static const char *const base_removed[] = {"dofile", "loadfile", NULL};
    static const char *const os_kept[] = {"time", "clock", "date", "difftime", NULL};

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    for (int i = 0; base_removed[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, base_removed[i]);
    }
    luaL_setfuncs(L, base_overrides, 0);
    lua_getfield(L, -1, "load");
    lua_pushcclosure(L, base_load, 1);
    lua_setfield(L, -2, "load");
    lua_pop(L, 1);

    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 4);

    /* os: only the clock and calendar functions. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    for (int i = 0; os_kept[i]; i++) {
        lua_getfield(L, -2, os_kept[i]);
        lua_setfield(L, -2, os_kept[i]);
    }
    lua_pushvalue(L, -1);
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 3);

    /* package: our path, our Lua searcher, cjson preloaded, no loadlib. */
    luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
    int pkg = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, e->installdir);
    luaL_addstring(&b, "/scripts/lua/modules/?.lua");
    for (int i = 0; i < e->cfg.n_user_dirs; i++) {
        luaL_addchar(&b, ';');
        luaL_addstring(&b, e->user_dirs[i]);
        luaL_addstring(&b, "/lua/modules/?.lua");
    }
    luaL_addstring(&b, ";" ZFLOW_LUA_LMOD "/?.lua;" ZFLOW_LUA_LMOD "/?/init.lua");
    luaL_pushresult(&b);
    lua_setfield(L, pkg, "path");
    lua_pushliteral(L, ZFLOW_LUA_CMOD "/?.so");
    lua_setfield(L, pkg, "cpath");
    preload_c_module(L, pkg, "cjson", "luaopen_cjson");
    preload_c_module(L, pkg, "cjson.safe", "luaopen_cjson_safe");
    lua_pushnil(L);
    lua_setfield(L, pkg, "loadlib");
    lua_createtable(L, 2, 0);
    lua_getfield(L, pkg, "searchers");
    lua_rawgeti(L, -1, 1); /* the preload searcher */
    lua_rawseti(L, -3, 1);
    lua_pop(L, 1);
    lua_pushvalue(L, pkg);
    lua_pushcclosure(L, searcher_lua, 1);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, pkg, "searchers");
    lua_getfield(L, pkg, "preload");
    lua_pushcfunction(L, luaopen_zflow_alerts);
    lua_setfield(L, -2, "zflow_alerts");
    if (e->cfg.preload_name && e->cfg.preload_open) {
        lua_pushlightuserdata(L, e->cfg.preload_ctx);
        lua_pushcclosure(L, (lua_CFunction)e->cfg.preload_open, 1);
        lua_setfield(L, -2, e->cfg.preload_name);
    }
    lua_pop(L, 2);

    lua_flow_open(L);
    lua_interface_open(L);
    lua_ntop_open(L);
    return 0;
}

/* ---------------------------------------------------------------- contract validation */

/* Pushes t[name] without metamethods. */
static int rawfield(lua_State *L, int t, const char *name)
{
    lua_pushstring(L, name);
    return lua_rawget(L, t);
}

static void opt_bool(lua_State *L, int t, const char *name, int *out)
{
    int ty = rawfield(L, t, name);
    if (ty == LUA_TBOOLEAN)
        *out = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL)
        luaL_error(L, "'%s' must be a boolean (got %s)", name, lua_typename(L, ty));
    lua_pop(L, 1);
}

static int opt_function_ref(lua_State *L, int t, const char *name)
{
    int ty = rawfield(L, t, name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    if (ty != LUA_TFUNCTION)
        luaL_error(L, "'%s' must be a function (got %s)", name, lua_typename(L, ty));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int is_operator(const char *op)
{
    for (int i = 0; operators[i]; i++)
        if (strcmp(op, operators[i]) == 0) return 1;
    return 0;
}

/* Merges a default_value-shaped value (index v) into the config table (index cfg) and
 * validates operator/threshold. `what` names the value in errors. */
static void merge_value(lua_State *L, int v, int cfg, const char *what)
{
    int ty = lua_type(L, v);
    if (ty == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, v, &len);
        const char *p1 = memchr(s, ';', len);
        const char *p2 = p1 ? memchr(p1 + 1, ';', len - (size_t)(p1 + 1 - s)) : NULL;
        if (!p2 || memchr(p2 + 1, ';', len - (size_t)(p2 + 1 - s)) || p1 == s)
            luaL_error(L, "bad %s \"%s\": expected \"<key>;<operator>;<value>\"", what, s);
        lua_pushlstring(L, s, (size_t)(p1 - s));
        lua_setfield(L, cfg, "key");
        lua_pushlstring(L, p1 + 1, (size_t)(p2 - p1 - 1));
        lua_setfield(L, cfg, "operator");
        lua_pushstring(L, p2 + 1);
        lua_setfield(L, cfg, "threshold");
    } else if (ty == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, v)) {
            int kt = lua_type(L, -2);
            if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
                luaL_error(L, "bad %s: keys must be strings or numbers", what);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, cfg);
        }
    } else {
        luaL_error(L, "bad %s: must be a string \"<key>;<operator>;<value>\" or a table (got %s)",
                   what, lua_typename(L, ty));
    }

    int ot = rawfield(L, cfg, "operator");
    if (ot != LUA_TNIL) {
        const char *op = lua_tostring(L, -1);
        if (ot != LUA_TSTRING || !is_operator(op))
            luaL_error(L, "bad %s: unknown operator '%s' (valid: gt, lt, ge, le, eq, ne)", what,
                       op ? op : lua_typename(L, ot));
        int tt = rawfield(L, cfg, "threshold");
        int isnum = 0;
        lua_Number n = lua_tonumberx(L, -1, &isnum);
        if (tt == LUA_TNIL || !isnum) luaL_error(L, "bad %s: 'threshold' must be a number", what);
        lua_pushnumber(L, n);
        if (lua_isinteger(L, -2)) {
            lua_pop(L, 1);
            lua_pushinteger(L, lua_tointeger(L, -1));
        } else if (n == (lua_Number)(lua_Integer)n && n > -9e15 && n < 9e15) {
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)n);
        }
        lua_setfield(L, cfg, "threshold");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void set_config_json(lua_State *L, script_t *s, int cfg)
{
    size_t len;
    lua_api_push_json(L, cfg);
    const char *j = lua_tolstring(L, -1, &len);
    if (len < sizeof(s->config_json)) {
        memcpy(s->config_json, j, len + 1);
    } else {
        memcpy(s->config_json, j, sizeof(s->config_json) - 4);
        strcpy(s->config_json + sizeof(s->config_json) - 4, "...");
    }
    lua_pop(L, 1);
}

static void copy_gui_string(lua_State *L, int gui, const char *a, const char *b, char *dst,
                            size_t len)
{
    const char *names[2] = {a, b};
    for (int i = 0; i < 2 && names[i]; i++) {
        if (rawfield(L, gui, names[i]) == LUA_TSTRING && !dst[0])
            snprintf(dst, len, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

struct load_job {
    vm_t *vm;
    script_t *s;
};

/* Loads a script file, validates the contract and builds its default config table. */
static int load_script_protected(lua_State *L)
{
    struct load_job *job = lua_touserdata(L, 1);
    script_t *s = job->s;
    const char *const *names = subdir_hooks(s->subdir);
    lua_settop(L, 0);

    if (luaL_loadfilex(L, s->path, "t") != LUA_OK) return lua_error(L);
    /* A per-script environment: globals a script defines stay its own. */
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, 1, 1);
    lua_call(L, 0, 1);
    if (!lua_istable(L, 1))
        return luaL_error(L, "the script must return a table (got %s)", luaL_typename(L, 1));
    int mod = 1;

    /* hooks */
    int ty = rawfield(L, mod, "hooks");
    if (ty == LUA_TNIL) return luaL_error(L, "'hooks' is missing");
    if (ty != LUA_TTABLE)
        return luaL_error(L, "'hooks' must be a table (got %s)", lua_typename(L, ty));
    int hooks = lua_gettop(L), n = 0;
    lua_pushnil(L);
    while (lua_next(L, hooks)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "'hooks' has a %s key (hook names are strings)",
                              luaL_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        int slot = strcmp(name, "all") == 0 ? HOOK_SLOTS : hook_slot(s->subdir, name);
        if (slot < 0) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; names[i]; i++) {
                luaL_addstring(&b, names[i]);
                luaL_addstring(&b, ", ");
            }
            luaL_addstring(&b, "all");
            luaL_pushresult(&b);
            return luaL_error(L, "unknown hook '%s' for %s scripts (valid: %s)", name,
                              subdir_names[s->subdir], lua_tostring(L, -1));
        }
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "hook '%s' must be a function (got %s)", name,
                              luaL_typename(L, -1));
        int ref = luaL_ref(L, LUA_REGISTRYINDEX);
        if (slot == HOOK_SLOTS)
            s->all_ref = ref;
        else
            s->fn_ref[slot] = ref;
        n++;
    }
    if (n == 0) return luaL_error(L, "'hooks' is empty");
    s->hooks[0] = '\0';
    for (int i = 0; names[i]; i++) {
        if (s->fn_ref[i] == LUA_NOREF) continue;
        if (s->hooks[0]) strncat(s->hooks, ",", sizeof(s->hooks) - strlen(s->hooks) - 1);
        strncat(s->hooks, names[i], sizeof(s->hooks) - strlen(s->hooks) - 1);
    }
    if (s->all_ref != LUA_NOREF) {
        if (s->hooks[0]) strncat(s->hooks, ",", sizeof(s->hooks) - strlen(s->hooks) - 1);
        strncat(s->hooks, "all", sizeof(s->hooks) - strlen(s->hooks) - 1);
        for (int i = 0; names[i]; i++)
            if (s->fn_ref[i] == LUA_NOREF) s->fn_ref[i] = s->all_ref;
    }
    lua_pop(L, 1);

    /* gui */
    ty = rawfield(L, mod, "gui");
    if (ty == LUA_TTABLE) {
        int gui = lua_gettop(L);
        copy_gui_string(L, gui, "i18n_title", "title", s->title, sizeof(s->title));
        copy_gui_string(L, gui, "name", NULL, s->title, sizeof(s->title));
        copy_gui_string(L, gui, "i18n_description", "description", s->description,
                        sizeof(s->description));
    } else if (ty != LUA_TNIL) {
        return luaL_error(L, "'gui' must be a table (got %s)", lua_typename(L, ty));
    }
    lua_pop(L, 1);

    opt_bool(L, mod, "packet_interface_only", &s->packet_interface_only);
    opt_bool(L, mod, "nedge_only", &s->nedge_only);
    opt_bool(L, mod, "nedge_exclude", &s->nedge_exclude);
    opt_bool(L, mod, "default_enabled", &s->default_enabled);
    if (s->nedge_only && s->nedge_exclude)
        return luaL_error(L, "'nedge_only' and 'nedge_exclude' are both set");

    /* filters */
    ty = rawfield(L, mod, "l4_proto");
    if (ty == LUA_TNUMBER) {
        lua_Integer p = lua_tointeger(L, -1);
        if (!lua_isinteger(L, -1) || p < 0 || p > 255)
            return luaL_error(L, "'l4_proto' must be a protocol number 0-255 or a name");
        s->l4_proto = (int)p;
    } else if (ty == LUA_TSTRING) {
        s->l4_proto = lua_flow_l4_proto_by_name(lua_tostring(L, -1));
        if (s->l4_proto < 0) return luaL_error(L, "unknown l4_proto '%s'", lua_tostring(L, -1));
    } else if (ty != LUA_TNIL) {
        return luaL_error(L, "'l4_proto' must be a string or a number (got %s)",
                          lua_typename(L, ty));
    }
    lua_pop(L, 1);
    ty = rawfield(L, mod, "l7_proto");
    if (ty == LUA_TNUMBER) {
        lua_Integer p = lua_tointeger(L, -1);
        if (!lua_isinteger(L, -1) || p < 0 || p > 65535)
            return luaL_error(L, "'l7_proto' must be a protocol id 0-65535 or a name");
        s->l7_id = (int)p;
    } else if (ty == LUA_TSTRING) {
        size_t len;
        const char *p = lua_tolstring(L, -1, &len);
        if (len == 0 || len >= sizeof(s->l7_name))
            return luaL_error(L, "'l7_proto' must be a protocol name of 1-%d characters",
                              (int)sizeof(s->l7_name) - 1);
        memcpy(s->l7_name, p, len + 1);
    } else if (ty != LUA_TNIL) {
        return luaL_error(L, "'l7_proto' must be a string or a number (got %s)",
                          lua_typename(L, ty));
    }
    lua_pop(L, 1);
    ty = rawfield(L, mod, "periodic_update_seconds");
    if (ty != LUA_TNIL) {
        lua_Integer p = lua_tointeger(L, -1);
        if (ty != LUA_TNUMBER || !lua_isinteger(L, -1) || p < 1 || p > 86400 * 365)
            return luaL_error(L, "'periodic_update_seconds' must be a positive integer");
        s->periodic_update_seconds = (uint32_t)p;
    }
    lua_pop(L, 1);

    s->setup_ref = opt_function_ref(L, mod, "setup");
    s->teardown_ref = opt_function_ref(L, mod, "teardown");

    /* default_value -> config */
    lua_newtable(L);
    int cfg = lua_gettop(L);
    ty = rawfield(L, mod, "default_value");
    if (ty != LUA_TNIL) merge_value(L, lua_gettop(L), cfg, "default_value");
    lua_pop(L, 1);
    lua_pushboolean(L, s->default_enabled);
    lua_setfield(L, cfg, "enabled");
    set_config_json(L, s, cfg);
    s->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Applies the configuration file's entry of one script, if any. */
static int apply_override_protected(lua_State *L)
{
    struct load_job *job = lua_touserdata(L, 1);
    vm_t *vm = job->vm;
    script_t *s = job->s;
    lua_settop(L, 0);

    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->overrides_ref);
    if (!lua_istable(L, 1) || rawfield(L, 1, subdir_names[s->subdir]) != LUA_TTABLE) return 0;
    if (rawfield(L, 2, s->key) == LUA_TNIL) return 0;
    if (!lua_istable(L, 3))
        return luaL_error(L, "must be an object {\"enabled\": ..., \"value\": ...}");
    int enabled = s->default_enabled;
    int ty = rawfield(L, 3, "enabled");
    if (ty == LUA_TBOOLEAN)
        enabled = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL && ty != LUA_TLIGHTUSERDATA) /* cjson.null */
        return luaL_error(L, "'enabled' must be true or false");
    lua_pop(L, 1);

    /* A copy of the defaults, with the override's value merged in. */
    lua_newtable(L);
    int cfg = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->config_ref);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, cfg);
    }
    lua_pop(L, 1);
    ty = rawfield(L, 3, "value");
    if (ty != LUA_TNIL && ty != LUA_TLIGHTUSERDATA) merge_value(L, lua_gettop(L), cfg, "value");
    lua_pop(L, 1);
    lua_pushboolean(L, enabled);
    lua_setfield(L, cfg, "enabled");
    set_config_json(L, s, cfg);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_unref(L, LUA_REGISTRYINDEX, s->config_ref);
    s->config_ref = ref;
    s->enabled = enabled;
    s->configured = 1;
    return 0;
}

struct text_job {
    vm_t *vm;
    const char *text;
    size_t len;
};

/* Decodes the configuration file (cjson, or dkjson when cjson is missing). */
static int decode_config_protected(lua_State *L)
{
    struct text_job *job = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_settop(L, 0);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "dkjson");
        lua_call(L, 1, 1);
    }
    lua_getfield(L, -1, "decode");
    lua_pushlstring(L, job->text, job->len);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2)) /* dkjson: nil, pos, msg */
        return luaL_error(L, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "bad JSON");
    lua_pop(L, 1);
    if (!lua_istable(L, -1)) return luaL_error(L, "the top level must be an object of subdirs");
    job->vm->overrides_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Warns about configuration entries that name no subdir. */
static int check_overrides_protected(lua_State *L)
{
    vm_t *vm = lua_touserdata(L, 1);
    script_engine_t *e = vm->engine;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->overrides_ref);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; name && i < SUBDIR_COUNT; i++)
            known |= strcmp(name, subdir_names[i]) == 0;
        if (!known)
            engine_log(e->log, "%s: unknown subdir '%s' ignored", e->config_path,
                       name ? name : "(not a string)");
    }
    return 0;
}

static char *read_file(const char *path, size_t max, size_t *len, int *missing)
{
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT;
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int e = !buf ? ENOMEM : ferror(f) ? EIO : n > max ? EFBIG : 0;
    fclose(f);
    if (e) {
        free(buf);
        errno = e;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void vm_load_config(vm_t *vm)
{
    script_engine_t *e = vm->engine;
    size_t len = 0;
    int missing;
    vm->overrides_ref = LUA_NOREF;
    if (!e->config_path) return;
    char *text = read_file(e->config_path, CONFIG_MAX_BYTES, &len, &missing);
    if (!text) {
        if (!missing)
            engine_log(e->log, "%s: cannot read (%s); using script defaults", e->config_path,
                       strerror(errno));
        return;
    }
    struct text_job job = {vm, text, len};
    if (vm_run(vm, decode_config_protected, &job, NULL, SLOT_NONE) < 0)
        engine_log(e->log, "%s: malformed configuration: %s; using script defaults", e->config_path,
                   vm->errbuf);
    else
        vm_run(vm, check_overrides_protected, vm, NULL, SLOT_NONE);
    free(text);
}

/* ---------------------------------------------------------------- script discovery */

static int valid_key(const char *k, size_t len)
{
    if (len == 0 || len >= 128) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static script_t *find_script(vm_t *vm, script_subdir_t sd, const char *key)
{
    for (int i = 0; i < vm->n_scripts; i++)
        if (vm->scripts[i].subdir == sd && strcmp(vm->scripts[i].key, key) == 0)
            return &vm->scripts[i];
    return NULL;
}

static void script_init(script_t *s, script_subdir_t sd)
{
    memset(s, 0, sizeof(*s));
    s->subdir = sd;
    s->default_enabled = 1;
    s->l4_proto = -1;
    s->l7_id = -1;
    s->all_ref = s->setup_ref = s->teardown_ref = s->config_ref = LUA_NOREF;
    for (int i = 0; i < HOOK_SLOTS; i++)
        s->fn_ref[i] = LUA_NOREF;
}

/* Adds the *.lua of dir (one subdir) to the list; a key seen before is replaced. */
static void scan_dir(vm_t *vm, script_subdir_t sd, const char *dir, int required)
{
    script_engine_t *e = vm->engine;
    DIR *d = opendir(dir);
    if (!d) {
        if (required || errno != ENOENT)
            engine_log(e->log, "%s: cannot open scripts directory: %s", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.' || len <= 4 || strcmp(name + len - 4, ".lua") != 0) continue;
        char path[512];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
            engine_log(e->log, "%s/%s: path too long, skipped", dir, name);
            continue;
        }
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        char key[128];
        size_t klen = len - 4;
        snprintf(key, sizeof(key), "%.*s", (int)(klen < sizeof(key) ? klen : sizeof(key) - 1),
                 name);
        script_t *s = find_script(vm, sd, key);
        if (!s) {
            if (vm->n_scripts >= MAX_SCRIPTS) {
                engine_log(e->log, "%s: more than %d scripts, skipped", path, MAX_SCRIPTS);
                continue;
            }
            s = &vm->scripts[vm->n_scripts++];
        }
        script_init(s, sd);
        snprintf(s->key, sizeof(s->key), "%s", key);
        snprintf(s->path, sizeof(s->path), "%s", path);
        if (!valid_key(name, klen))
            snprintf(s->why_not, sizeof(s->why_not),
                     "load error: bad script name (letters, digits, '_' and '-' only)");
    }
    closedir(d);
}

static int script_cmp(const void *a, const void *b)
{
    const script_t *x = a, *y = b;
    if (x->subdir != y->subdir) return (int)x->subdir - (int)y->subdir;
    return strcmp(x->key, y->key);
}

static void script_unref(lua_State *L, script_t *s)
{
    for (int i = 0; i < HOOK_SLOTS; i++) {
        if (s->fn_ref[i] != s->all_ref) luaL_unref(L, LUA_REGISTRYINDEX, s->fn_ref[i]);
        s->fn_ref[i] = LUA_NOREF;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, s->all_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, s->setup_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, s->teardown_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, s->config_ref);
    s->all_ref = s->setup_ref = s->teardown_ref = s->config_ref = LUA_NOREF;
}

static void vm_load_script(vm_t *vm, script_t *s)
{
    script_engine_t *e = vm->engine;
    struct load_job job = {vm, s};

    if (s->why_not[0]) { /* bad name */
        engine_log(e->log, "script %s/%s (%s): %s", subdir_names[s->subdir], s->key, s->path,
                   s->why_not + strlen("load error: "));
        return;
    }
    if (vm_run(vm, load_script_protected, &job, NULL, SLOT_NONE) < 0) {
        script_unref(vm->L, s);
        snprintf(s->why_not, sizeof(s->why_not), "load error: %.240s", vm->errbuf);
        engine_log(e->log, "script %s/%s (%s): %s", subdir_names[s->subdir], s->key, s->path,
                   vm->errbuf);
        return;
    }
    s->loaded = 1;
    s->enabled = s->default_enabled;
    if (vm->overrides_ref != LUA_NOREF &&
        vm_run(vm, apply_override_protected, &job, NULL, SLOT_NONE) < 0)
        engine_log(e->log, "%s: %s/%s: %s; using the script's defaults", e->config_path,
                   subdir_names[s->subdir], s->key, vm->errbuf);

    if (s->nedge_only) {
        snprintf(s->why_not, sizeof(s->why_not), "nedge_only: zflow is not nEdge");
        return;
    }
    if (!s->enabled) {
        snprintf(s->why_not, sizeof(s->why_not), "%s",
                 s->configured ? "disabled in the configuration file"
                               : "disabled by default (default_enabled = false)");
        return;
    }
    if (s->setup_ref != LUA_NOREF) {
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, s->setup_ref);
        if (vm_call(vm, s, SLOT_SETUP, 0, 1) < 0) {
            snprintf(s->why_not, sizeof(s->why_not), "setup() failed: %.235s", vm->errbuf);
            return;
        }
        int refused = lua_isboolean(vm->L, -1) && !lua_toboolean(vm->L, -1);
        lua_pop(vm->L, 1);
        if (refused) {
            snprintf(s->why_not, sizeof(s->why_not), "setup() returned false");
            return;
        }
    }
    s->runnable = 1;
    if (s->packet_interface_only)
        snprintf(s->why_not, sizeof(s->why_not),
                 "packet_interface_only: skipped on probe interfaces");
}

/* ---------------------------------------------------------------- engine life cycle */

static void vm_free(vm_t *vm)
{
    if (!vm) return;
    if (vm->L) lua_close(vm->L);
    pool_release(&vm->pool);
    free(vm->ctx.jbuf);
    free(vm->scripts);
    free(vm);
}

/* Runs teardown() of the runnable flow and syslog scripts (periodic scripts get theirs
 * after each round). */
static void vm_unload(vm_t *vm)
{
    for (int i = 0; i < vm->n_scripts; i++) {
        script_t *s = &vm->scripts[i];
        if (!s->runnable || s->teardown_ref == LUA_NOREF || is_periodic_subdir(s->subdir)) continue;
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, s->teardown_ref);
        vm_call(vm, s, SLOT_TEARDOWN, 0, 0);
    }
}

static vm_t *vm_new(script_engine_t *e, char *err, size_t errlen)
{
    vm_t *vm = calloc(1, sizeof(*vm));
    if (!vm || !(vm->scripts = calloc(MAX_SCRIPTS, sizeof(script_t)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    vm->engine = e;
    vm->mem_limit = e->cfg.mem_limit;
    vm->budget = e->cfg.instr_budget;
    vm->hook_chunk = vm->budget < HOOK_CHUNK ? (int)vm->budget : HOOK_CHUNK;
    vm->time_limit_ns = (uint64_t)e->cfg.time_limit_ms * 1000000ull;
    vm->overrides_ref = LUA_NOREF;
    vm->ctx.engine = e;
    vm->ctx.host = &e->cfg.host;
    vm->ctx.installdir = e->installdir;
    vm->ctx.data_dir = e->data_dir;
    vm->ctx.user_dirs = (const char *const *)e->user_dirs;
    vm->ctx.n_user_dirs = e->cfg.n_user_dirs;
    vm->ctx.local_networks = e->local_networks;
    vm->ctx.started_mono = e->started_mono;
    vm->ctx.log = e->log;

    vm->L = lua_newstate(vm_alloc, vm);
    if (!vm->L) {
        snprintf(err, errlen, "cannot create the Lua state");
        goto fail;
    }
    lua_atpanic(vm->L, vm_panic);
    /* Scripts make many short-lived tables and strings per call (decoded JSON, records):
     * the generational collector handles them for less than the incremental one. */
    lua_gc(vm->L, LUA_GCGEN, 0, 0);
    *(lua_api_ctx_t **)lua_getextraspace(vm->L) = &vm->ctx;
    lua_pushcfunction(vm->L, vm_msgh); /* stays at ERRFUNC_INDEX */
    if (vm_run(vm, open_libs_protected, vm, NULL, SLOT_NONE) < 0) {
        snprintf(err, errlen, "cannot open the Lua libraries: %s", vm->errbuf);
        goto fail;
    }

    /* Stock scripts first, then every --scripts-dir: the same key replaces. */
    for (int sd = 0; sd < SUBDIR_COUNT; sd++) {
        if (e->cfg.subdir_mask && !(e->cfg.subdir_mask & (1u << sd))) continue;
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/scripts/callbacks/%s", e->installdir, subdir_names[sd]);
        scan_dir(vm, (script_subdir_t)sd, dir, 0);
        for (int u = 0; u < e->cfg.n_user_dirs; u++) {
            snprintf(dir, sizeof(dir), "%s/callbacks/%s", e->user_dirs[u], subdir_names[sd]);
            scan_dir(vm, (script_subdir_t)sd, dir, 0);
        }
    }
    qsort(vm->scripts, (size_t)vm->n_scripts, sizeof(script_t), script_cmp);
    for (int sd = 0; sd < SUBDIR_COUNT; sd++)
        vm->first[sd] = -1;
    for (int i = 0; i < vm->n_scripts; i++) {
        script_subdir_t sd = vm->scripts[i].subdir;
        if (vm->first[sd] < 0) vm->first[sd] = i;
        vm->count[sd]++;
    }
    for (int sd = 0; sd < SUBDIR_COUNT; sd++)
        if (vm->first[sd] < 0) vm->first[sd] = 0;

    vm_load_config(vm);
    for (int i = 0; i < vm->n_scripts; i++)
        vm_load_script(vm, &vm->scripts[i]);
    luaL_unref(vm->L, LUA_REGISTRYINDEX, vm->overrides_ref);
    vm->overrides_ref = LUA_NOREF;
    lua_gc(vm->L, LUA_GCCOLLECT);
    vm_update_masks(vm);
    return vm;
fail:
    vm_free(vm);
    return NULL;
}

static void engine_free(script_engine_t *e)
{
    if (!e) return;
    vm_free(e->vm);
    for (size_t i = 0; i < e->intern_cap; i++)
        free(e->intern[i]);
    free(e->intern);
    for (int i = 0; i < e->cfg.n_user_dirs; i++)
        free(e->user_dirs[i]);
    free(e->user_dirs);
    free(e->installdir);
    free(e->config_path);
    free(e->data_dir);
    free(e->local_networks);
    free(e);
}

script_engine_t *script_engine_new(const engine_config_t *cfg, char *err, size_t errlen)
{
    script_engine_t *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->log = cfg->log ? cfg->log : stderr;
    e->cfg.log = e->log;
    if (!e->cfg.mem_limit) e->cfg.mem_limit = DEFAULT_MEM_LIMIT;
    if (!e->cfg.instr_budget) e->cfg.instr_budget = DEFAULT_INSTR_BUDGET;
    if (!e->cfg.max_errors) e->cfg.max_errors = DEFAULT_MAX_ERRORS;
    if (!e->cfg.time_limit_ms) e->cfg.time_limit_ms = DEFAULT_TIME_LIMIT_MS;
    e->started_mono = mono_now();
    e->installdir = strdup(cfg->installdir ? cfg->installdir : ".");
    e->data_dir = strdup(cfg->data_dir ? cfg->data_dir : ".");
    e->local_networks = strdup(cfg->local_networks ? cfg->local_networks : "");
    if (cfg->config_path) {
        e->config_path = strdup(cfg->config_path);
    } else if (cfg->data_dir) {
        size_t n = strlen(cfg->data_dir) + sizeof("/scripts_config.json");
        if ((e->config_path = malloc(n)))
            snprintf(e->config_path, n, "%s/scripts_config.json", cfg->data_dir);
    }
    int nu = cfg->n_user_dirs > 0 ? cfg->n_user_dirs : 0;
    e->cfg.n_user_dirs = 0;
    e->user_dirs = calloc((size_t)nu + 1, sizeof(char *));
    if (!e->installdir || !e->data_dir || !e->local_networks || !e->user_dirs ||
        ((cfg->config_path || cfg->data_dir) && !e->config_path))
        goto oom;
    for (int i = 0; i < nu; i++) {
        if (!cfg->user_dirs[i]) continue;
        if (!(e->user_dirs[e->cfg.n_user_dirs] = strdup(cfg->user_dirs[i]))) goto oom;
        e->cfg.n_user_dirs++;
    }
    e->cfg.installdir = e->installdir;
    e->cfg.user_dirs = (const char *const *)e->user_dirs;
    e->cfg.config_path = e->config_path;
    e->cfg.data_dir = e->data_dir;
    e->cfg.local_networks = e->local_networks;
    for (int i = 0; i < e->cfg.n_user_dirs; i++) {
        struct stat st;
        if (stat(e->user_dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
            engine_log(e->log, "--scripts-dir %s: not a directory", e->user_dirs[i]);
    }
    if (!(e->vm = vm_new(e, err, errlen))) goto fail;
    return e;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    engine_free(e);
    return NULL;
}

void script_engine_destroy(script_engine_t **self)
{
    if (!self || !*self) return;
    if ((*self)->vm) vm_unload((*self)->vm);
    engine_free(*self);
    *self = NULL;
}

int script_engine_reload(script_engine_t *self, char *err, size_t errlen)
{
    vm_t *old = self->vm, *nvm = vm_new(self, err, errlen);
    if (!nvm) return -1;
    /* Keep the counters of the scripts that are still there (both lists are sorted). */
    for (int i = 0, j = 0; i < nvm->n_scripts && j < old->n_scripts;) {
        script_t *a = &nvm->scripts[i], *b = &old->scripts[j];
        int c = script_cmp(a, b);
        if (c == 0) {
            for (int k = 0; k < SLOT_COUNT; k++) {
                a->calls[k] += b->calls[k];
                a->errors[k] += b->errors[k];
                a->ns[k] += b->ns[k];
            }
        }
        i += c <= 0;
        j += c >= 0;
    }
    vm_unload(old);
    vm_free(old);
    self->vm = nvm;
    self->reloads++;
    return 0;
}

/* ---------------------------------------------------------------- flow hooks */

static int l7_matches(const script_t *s, const cflow_t *f)
{
    if (s->l7_id >= 0 && f->l7_master_id != s->l7_id && f->l7_app_id != s->l7_id) return 0;
    if (s->l7_name[0] && !(f->l7_master_name && strcasecmp(f->l7_master_name, s->l7_name) == 0) &&
        !(f->l7_app_name && strcasecmp(f->l7_app_name, s->l7_name) == 0) &&
        !(f->l7_proto_name && strcasecmp(f->l7_proto_name, s->l7_name) == 0))
        return 0;
    return 1;
}

/* periodic_update_seconds: the script runs when a multiple of its period (counted from the
 * flow's start) was crossed since the previous periodicUpdate round, so at most once per
 * period whatever the update interval. */
static int periodic_due(const script_t *s, const cflow_t *f, int64_t now)
{
    int64_t first = (int64_t)(f->first_ns / 1000000000ull);
    int64_t last = f->last_update_s ? (int64_t)f->last_update_s : first;
    int64_t p = s->periodic_update_seconds;
    if (last < first) last = first;
    if (now <= last) return 0;
    return (now - first) / p > (last - first) / p;
}

static int flow_eligible(const script_t *s, const cflow_t *f, int is_packet_iface)
{
    if (!s->runnable) return 0;
    if (s->packet_interface_only && !is_packet_iface) return 0;
    if (s->l4_proto >= 0 && s->l4_proto != f->l4_proto) return 0;
    if ((s->l7_id >= 0 || s->l7_name[0]) && !l7_matches(s, f)) return 0;
    return 1;
}

static int call_flow_script(vm_t *vm, script_t *s, int slot, int64_t now)
{
    lua_State *L = vm->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref[slot]);
    lua_pushinteger(L, now);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->config_ref);
    return vm_call(vm, s, slot, 2, 0);
}

/* statusChanged for the flow's scripts other than `except` (one round, no cascade). */
static int run_status_changed(vm_t *vm, const script_t *except, cflow_t *f, int is_packet,
                              int64_t now)
{
    int calls = 0, first = vm->first[SUBDIR_FLOW], end = first + vm->count[SUBDIR_FLOW];
    for (int i = first; i < end; i++) {
        script_t *s = &vm->scripts[i];
        if (s == except || s->fn_ref[FLOW_HOOK_STATUS_CHANGED] == LUA_NOREF ||
            !flow_eligible(s, f, is_packet))
            continue;
        call_flow_script(vm, s, FLOW_HOOK_STATUS_CHANGED, now);
        calls++;
    }
    return calls;
}

static int run_flow_round(vm_t *vm, flow_hook_t hook, cflow_t *f, int is_packet, int64_t now)
{
    int calls = 0, first = vm->first[SUBDIR_FLOW], end = first + vm->count[SUBDIR_FLOW];
    if (!(vm->hook_mask[SUBDIR_FLOW] & (1u << hook))) return 0;
    for (int i = first; i < end; i++) {
        script_t *s = &vm->scripts[i];
        if (s->fn_ref[hook] == LUA_NOREF || !flow_eligible(s, f, is_packet)) continue;
        if (hook == FLOW_HOOK_PERIODIC_UPDATE && s->periodic_update_seconds &&
            !periodic_due(s, f, now))
            continue;
        vm->ctx.status_changed = 0;
        call_flow_script(vm, s, hook, now);
        calls++;
        if (vm->ctx.status_changed && hook != FLOW_HOOK_STATUS_CHANGED) {
            vm->ctx.status_changed = 0;
            calls += run_status_changed(vm, s, f, is_packet, now);
        }
    }
    return calls;
}

int script_engine_run_flow_hook(script_engine_t *self, flow_hook_t hook, cflow_t *flow,
                                int is_packet_iface, int64_t now_s)
{
    vm_t *vm = self ? self->vm : NULL;
    int calls = 0;
    if (!vm || !flow || (unsigned)hook >= FLOW_HOOK_COUNT || vm->in_call) return 0;
    if (flow->hook_state & CFLOW_ENDED) return 0;
    if (hook == FLOW_HOOK_PROTOCOL_DETECTED && (flow->hook_state & CFLOW_PROTO_DETECTED)) return 0;

    vm->ctx.flow = flow;
    vm->ctx.iface = flow->iface;
    vm->ctx.is_packet_iface = is_packet_iface;
    vm->ctx.now = now_s;
    if (!(flow->hook_state & CFLOW_PROTO_DETECTED) &&
        (hook == FLOW_HOOK_PROTOCOL_DETECTED || (flow->l7_proto_name && *flow->l7_proto_name))) {
        /* protocolDetected comes first, once, as soon as L7 is known. */
        flow->hook_state |= CFLOW_PROTO_DETECTED;
        calls += run_flow_round(vm, FLOW_HOOK_PROTOCOL_DETECTED, flow, is_packet_iface, now_s);
    }
    /* protocolDetected comes before any periodicUpdate or it does not come: a flow updated
     * before its L7 was known never gets it (order protocolDetected -> periodicUpdate* ->
     * flowEnd) */
    if (hook == FLOW_HOOK_PERIODIC_UPDATE && !(flow->hook_state & CFLOW_PROTO_DETECTED))
        flow->hook_state |= CFLOW_PROTO_DETECTED | CFLOW_PD_SKIPPED;
    if (hook == FLOW_HOOK_FLOW_END) flow->hook_state |= CFLOW_ENDED;
    if (hook != FLOW_HOOK_PROTOCOL_DETECTED)
        calls += run_flow_round(vm, hook, flow, is_packet_iface, now_s);
    if (hook == FLOW_HOOK_PERIODIC_UPDATE && now_s > 0 && now_s <= UINT32_MAX)
        flow->last_update_s = (uint32_t)now_s;
    vm->ctx.flow = NULL;
    vm->ctx.iface = NULL;
    vm->ctx.is_packet_iface = 0;
    return calls;
}

int script_engine_has_flow_hook(const script_engine_t *self, flow_hook_t hook)
{
    if (!self || !self->vm || (unsigned)hook >= FLOW_HOOK_COUNT) return 0;
    return (self->vm->hook_mask[SUBDIR_FLOW] >> hook) & 1u;
}

/* ---------------------------------------------------------------- other hooks */

struct generic_call {
    script_t *s;
    int slot;
    script_push_args_fn push_args;
    void *ctx;
    script_call_t call;
};

/* Runs inside vm_call(): pushes the arguments with the caller's function, calls the hook. */
static int generic_trampoline(lua_State *L)
{
    struct generic_call *gc = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, gc->s->fn_ref[gc->slot]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, gc->s->config_ref);
    gc->call.config_index = 2;
    int n = gc->push_args ? gc->push_args(gc->ctx, L, &gc->call) : 0;
    if (n < 0 || lua_gettop(L) != 2 + n)
        return luaL_error(L, "%s arguments: push_args returned %d with %d values pushed",
                          gc->call.hook, n, lua_gettop(L) - 2);
    lua_remove(L, 2);
    lua_call(L, n, 0);
    return 0;
}

/* run_hook for every script of the subdir, or only the one named `key` (NULL = all). */
static int run_hook_for(script_engine_t *self, script_subdir_t subdir, const char *key,
                        const char *hook_name, const struct iface *iface, int64_t now_s,
                        script_push_args_fn push_args, void *ctx)
{
    vm_t *vm = self ? self->vm : NULL;
    if (!vm || (unsigned)subdir >= SUBDIR_COUNT || subdir == SUBDIR_FLOW || !hook_name) return -1;
    int slot = hook_slot(subdir, hook_name);
    if (slot < 0) return -1;
    if (!(vm->hook_mask[subdir] & (1u << slot)) || vm->in_call) return 0;

    const engine_host_t *h = &self->cfg.host;
    int is_packet = !iface || (h->iface_is_packet && h->iface_is_packet(iface));
    struct generic_call gc = {
        .slot = slot,
        .push_args = push_args,
        .ctx = ctx,
        .call = {.subdir = subdir,
                 .hook = subdir_hooks(subdir)[slot],
                 .iface = iface,
                 .now = now_s},
    };
    int calls = 0, first = vm->first[subdir], end = first + vm->count[subdir];
    vm->ctx.iface = iface;
    vm->ctx.is_packet_iface = is_packet;
    vm->ctx.now = now_s;
    for (int i = first; i < end; i++) {
        script_t *s = &vm->scripts[i];
        if (!s->runnable || s->fn_ref[slot] == LUA_NOREF ||
            (s->packet_interface_only && !is_packet) || (key && strcmp(s->key, key) != 0))
            continue;
        gc.s = s;
        gc.call.script_key = s->key;
        vm_run(vm, generic_trampoline, &gc, s, slot);
        calls++;
    }
    vm->ctx.iface = NULL;
    vm->ctx.is_packet_iface = 0;
    return calls;
}

int script_engine_run_hook(script_engine_t *self, script_subdir_t subdir, const char *hook_name,
                           const struct iface *iface, int64_t now_s, script_push_args_fn push_args,
                           void *ctx)
{
    return run_hook_for(self, subdir, NULL, hook_name, iface, now_s, push_args, ctx);
}

int script_engine_run_script_hook(script_engine_t *self, script_subdir_t subdir, const char *key,
                                  const char *hook_name, const struct iface *iface, int64_t now_s,
                                  script_push_args_fn push_args, void *ctx)
{
    return run_hook_for(self, subdir, key, hook_name, iface, now_s, push_args, ctx);
}

int script_engine_has_script(const script_engine_t *self, script_subdir_t subdir, const char *key)
{
    vm_t *vm = self ? self->vm : NULL;
    if (!vm || (unsigned)subdir >= SUBDIR_COUNT || !key) return 0;
    int first = vm->first[subdir], end = first + vm->count[subdir];
    for (int i = first; i < end; i++)
        if (vm->scripts[i].runnable && strcmp(vm->scripts[i].key, key) == 0) return 1;
    return 0;
}

int script_engine_has_hook(const script_engine_t *self, script_subdir_t subdir,
                           const char *hook_name)
{
    if (!self || !self->vm || (unsigned)subdir >= SUBDIR_COUNT || !hook_name) return 0;
    int slot = hook_slot(subdir, hook_name);
    return slot >= 0 && ((self->vm->hook_mask[subdir] >> slot) & 1u);
}

int script_engine_end_round(script_engine_t *self, script_subdir_t subdir)
{
    vm_t *vm = self ? self->vm : NULL;
    if (!vm || (unsigned)subdir >= SUBDIR_COUNT || vm->in_call) return 0;
    int calls = 0, first = vm->first[subdir], end = first + vm->count[subdir];
    for (int i = first; i < end; i++) {
        script_t *s = &vm->scripts[i];
        if (!s->runnable || s->teardown_ref == LUA_NOREF) continue;
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, s->teardown_ref);
        vm_call(vm, s, SLOT_TEARDOWN, 0, 0);
        calls++;
    }
    return calls;
}

/* ---------------------------------------------------------------- listing and stats */

static uint64_t sum64(const uint64_t *v)
{
    uint64_t t = 0;
    for (int i = 0; i < SLOT_COUNT; i++)
        t += v[i];
    return t;
}

static void fill_info(const script_t *s, script_info_t *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->subdir, sizeof(o->subdir), "%s", subdir_names[s->subdir]);
    snprintf(o->key, sizeof(o->key), "%s", s->key);
    snprintf(o->path, sizeof(o->path), "%s", s->path);
    snprintf(o->hooks, sizeof(o->hooks), "%s", s->hooks);
    o->enabled = s->loaded && s->enabled;
    o->loaded = s->loaded;
    o->packet_interface_only = s->packet_interface_only;
    o->nedge_only = s->nedge_only;
    o->nedge_exclude = s->nedge_exclude;
    snprintf(o->why_not, sizeof(o->why_not), "%s", s->why_not);
    snprintf(o->config_json, sizeof(o->config_json), "%s", s->loaded ? s->config_json : "");
    o->calls = sum64(s->calls);
    o->errors = sum64(s->errors);
    o->seconds = (double)sum64(s->ns) / 1e9;
}

int script_engine_list(const script_engine_t *self, script_info_t *out, int max)
{
    if (!self || !self->vm) return 0;
    const vm_t *vm = self->vm;
    for (int i = 0; out && i < vm->n_scripts && i < max; i++)
        fill_info(&vm->scripts[i], &out[i]);
    return vm->n_scripts;
}

void script_engine_totals(const script_engine_t *self, uint64_t *calls, uint64_t *errors)
{
    if (calls) *calls = self ? self->calls : 0;
    if (errors) *errors = self ? self->errors : 0;
}

void script_engine_get_stats(const script_engine_t *self, script_engine_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!self) return;
    out->calls = self->calls;
    out->errors = self->errors;
    out->budget_exceeded = self->budget_exceeded;
    out->time_exceeded = self->time_exceeded;
    out->mem_refused = self->mem_refused;
    out->disabled = self->disabled;
    out->reloads = self->reloads;
    if (self->vm) {
        out->mem_used = self->vm->mem_used;
        out->scripts = self->vm->n_scripts;
        for (int i = 0; i < self->vm->n_scripts; i++)
            out->runnable += self->vm->scripts[i].runnable;
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Counters of a running collector that replace the engine's own in a listing. */
typedef struct runtime_lookup {
    script_runtime_fn fn;
    void *ctx;
} runtime_lookup_t;

static int runtime_counters(const runtime_lookup_t *rt, const script_t *s, uint64_t *calls,
                            uint64_t *errors, double *seconds)
{
    if (rt && rt->fn && rt->fn(rt->ctx, subdir_names[s->subdir], s->key, calls, errors, seconds))
        return 1;
    *calls = sum64(s->calls);
    *errors = sum64(s->errors);
    *seconds = (double)sum64(s->ns) / 1e9;
    return 0;
}

static void print_json_script(FILE *f, const script_t *s, const runtime_lookup_t *rt)
{
    fputs("{\"subdir\":", f);
    json_string(f, subdir_names[s->subdir]);
    fputs(",\"key\":", f);
    json_string(f, s->key);
    fputs(",\"path\":", f);
    json_string(f, s->path);
    fputs(",\"title\":", f);
    json_string(f, s->title);
    fputs(",\"description\":", f);
    json_string(f, s->description);
    fputs(",\"hooks\":[", f);
    const char *const *names = subdir_hooks(s->subdir);
    int n = 0;
    for (int i = 0; names[i]; i++) {
        if (s->fn_ref[i] == LUA_NOREF) continue;
        fputs(n++ ? "," : "", f);
        json_string(f, names[i]);
    }
    fprintf(f, "],\"loaded\":%s,\"enabled\":%s,\"runs\":%s", s->loaded ? "true" : "false",
            s->loaded && s->enabled ? "true" : "false", s->runnable ? "true" : "false");
    fprintf(f, ",\"packet_interface_only\":%s,\"nedge_only\":%s,\"nedge_exclude\":%s",
            s->packet_interface_only ? "true" : "false", s->nedge_only ? "true" : "false",
            s->nedge_exclude ? "true" : "false");
    fputs(",\"why_not\":", f);
    json_string(f, s->why_not);
    size_t cl = strlen(s->config_json);
    int truncated = cl >= 3 && strcmp(s->config_json + cl - 3, "...") == 0;
    fprintf(f, ",\"config\":%s", s->loaded && cl && !truncated ? s->config_json : "null");
    uint64_t calls, errors;
    double secs;
    int live = runtime_counters(rt, s, &calls, &errors, &secs);
    fprintf(f, ",\"calls\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"live\":%s,\"per_hook\":{",
            (unsigned long long)calls, (unsigned long long)errors, secs, live ? "true" : "false");
    n = 0;
    int n_names = 0;
    while (names[n_names])
        n_names++;
    for (int k = 0; k < SLOT_COUNT; k++) {
        if (k >= n_names && k < HOOK_SLOTS) continue;
        if (!s->calls[k] && !s->errors[k]) continue;
        fputs(n++ ? "," : "", f);
        json_string(f, slot_name(s->subdir, k));
        fprintf(f, ":{\"calls\":%llu,\"errors\":%llu,\"seconds\":%.6f}",
                (unsigned long long)s->calls[k], (unsigned long long)s->errors[k],
                (double)s->ns[k] / 1e9);
    }
    fputs("}}", f);
}

void script_engine_print_list(const script_engine_t *self, FILE *out, int json)
{
    script_engine_print_list_runtime(self, out, json, NULL, NULL);
}

void script_engine_print_list_runtime(const script_engine_t *self, FILE *out, int json,
                                      script_runtime_fn fn, void *ctx)
{
    const vm_t *vm = self ? self->vm : NULL;
    int n = vm ? vm->n_scripts : 0;
    runtime_lookup_t rt = {fn, ctx};
    if (json) {
        fputs("[", out);
        for (int i = 0; i < n; i++) {
            fputs(i ? ",\n " : "\n ", out);
            print_json_script(out, &vm->scripts[i], &rt);
        }
        fputs(n ? "\n]\n" : "]\n", out);
        return;
    }
    fprintf(out, "%-9s %-28s %-3s %-40s %10s %8s %10s  %s\n", "SUBDIR", "KEY", "ON", "HOOKS",
            "CALLS", "ERRORS", "TIME_MS", "CONFIG / WHY NOT");
    uint64_t total_calls = 0, total_errors = 0;
    for (int i = 0; i < n; i++) {
        const script_t *s = &vm->scripts[i];
        uint64_t calls, errors;
        double secs;
        runtime_counters(&rt, s, &calls, &errors, &secs);
        total_calls += calls;
        total_errors += errors;
        fprintf(out, "%-9s %-28s %-3s %-40s %10llu %8llu %10.3f  %s%s%s\n", subdir_names[s->subdir],
                s->key, s->runnable ? "yes" : "no", s->hooks[0] ? s->hooks : "-",
                (unsigned long long)calls, (unsigned long long)errors, secs * 1e3,
                s->loaded ? s->config_json : "", s->loaded && s->why_not[0] ? "  " : "",
                s->why_not);
    }
    fprintf(out, "%d scripts, %llu calls, %llu errors\n", n, (unsigned long long)total_calls,
            (unsigned long long)total_errors);
}
