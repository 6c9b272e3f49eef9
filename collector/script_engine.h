/* script_engine: loads and runs ntopng-style Lua user scripts (one Lua state per engine; each
 * worker thread owns its own engine). The contract is DESIGN.md's "user-script contract". */
#ifndef ZFLOW_SCRIPT_ENGINE_H
#define ZFLOW_SCRIPT_ENGINE_H

#include "alert.h"
#include "cflow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum script_subdir {
    SUBDIR_FLOW = 0,
    SUBDIR_INTERFACE,
    SUBDIR_NETWORK,
    SUBDIR_SYSTEM,
    SUBDIR_SNMP,
    SUBDIR_SYSLOG,
    SUBDIR_COUNT
} script_subdir_t;

/* Flow hooks; `all` is not a hook of its own: a script's `all` function runs for every one. */
typedef enum flow_hook {
    FLOW_HOOK_PROTOCOL_DETECTED = 0,
    FLOW_HOOK_STATUS_CHANGED,
    FLOW_HOOK_PERIODIC_UPDATE,
    FLOW_HOOK_FLOW_END,
    FLOW_HOOK_COUNT
} flow_hook_t;

typedef struct script_engine script_engine_t;

/* Calls from Lua back into the collector. Every callback gets `ctx`. All may be NULL. */
typedef struct engine_host {
    void *ctx;
    /* Stores an alert (one-shot or engaged); returns 0 or -1. */
    int (*store_alert)(void *ctx, const alert_t *alert);
    /* Releases an engaged alert; returns 0 or -1. */
    int (*release_alert)(void *ctx, const char *entity, const char *entity_value,
                         const char *alert_type, const char *script_key);
    /* 1 when the alert is engaged. */
    int (*is_engaged)(void *ctx, const char *entity, const char *entity_value,
                      const char *alert_type, const char *script_key);
    /* Interns a string for cflow_t fields (status keys); returns a pointer that lives as long
     * as the engine. */
    const char *(*intern)(void *ctx, const char *s);
    /* Pushes interface.getStats() of the current interface as a Lua table. */
    void (*push_interface_stats)(void *ctx, void *lua_state, const struct iface *iface);
    /* Name, id, probe id and packet-interface flag of an interface. */
    const char *(*iface_name)(const struct iface *iface);
    int (*iface_id)(const struct iface *iface);
    const char *(*iface_probe_id)(const struct iface *iface);
    int (*iface_is_packet)(const struct iface *iface);
} engine_host_t;

typedef struct engine_config {
    const char *installdir;      /* contains scripts/lua/modules and scripts/callbacks */
    const char *const *user_dirs;/* --scripts-dir DIRs, same layout (DIR/callbacks/<subdir>) */
    int n_user_dirs;
    const char *config_path;     /* per-script configuration JSON (may not exist) */
    const char *data_dir;
    size_t mem_limit;            /* Lua heap cap in bytes (default 64 MiB) */
    uint64_t instr_budget;       /* VM instructions per hook call (default 10,000,000) */
    uint32_t time_limit_ms;      /* wall clock per hook call (default 1000), checked every
                                    1,000 instructions and on big allocations: bounds loops
                                    of costly C calls the instruction budget cannot see */
    uint32_t max_errors;         /* consecutive errors before a script is disabled (default 50) */
    uint32_t subdir_mask;        /* 1 << script_subdir_t of what to load (0 = all) */
    const char *local_networks;  /* comma separated CIDRs, for flow locality getters */
    FILE *log;                   /* where script errors, print() and load problems go
                                    (NULL = stderr) */
    engine_host_t host;
    /* An extra C module scripts can require (e.g. the syslog flow API): `preload_open` is a
     * lua_CFunction run as package.preload[preload_name] with `preload_ctx` as its first
     * upvalue (lua_upvalueindex(1), a light userdata). NULL = none. */
    const char *preload_name;
    int (*preload_open)(void *lua_state);
    void *preload_ctx;
} engine_config_t;

/* Per script, as --list-scripts shows it. */
typedef struct script_info {
    char subdir[16];
    char key[128];
    char path[512];
    char hooks[256];             /* comma separated */
    int enabled;                 /* after configuration */
    int loaded;                  /* 0 = load error (see why) */
    int packet_interface_only;
    int nedge_only;
    int nedge_exclude;
    char why_not[256];           /* "" or why it does not run (disabled, load error: ..., ...) */
    char config_json[512];       /* effective configuration as JSON */
    uint64_t calls;
    uint64_t errors;
    double seconds;              /* time spent in the script's hooks */
} script_info_t;

/* Creates the Lua state, installs the sandbox (capped allocator, instruction budget and time
 * limit per call, only the base, table, string, math, utf8, os.time/clock/date/difftime and
 * package/require libraries; cjson, dkjson and scripts/lua/modules are requirable), the C
 * modules (flow, interface, ntop) and loads every script of the subdirs in cfg->subdir_mask,
 * stock first then user dirs (same key replaces), applies the configuration file
 * (config_path, default <data_dir>/scripts_config.json; format in script_engine.c) and runs
 * setup(). Load problems are logged (file, key, problem) and the script skipped; they are not
 * fatal. Strings of cfg are copied. Returns NULL only when the engine itself cannot be built
 * (err gets one line). */
script_engine_t *script_engine_new(const engine_config_t *cfg, char *err, size_t errlen);

/* Runs teardown() of the runnable flow and syslog scripts (periodic scripts get theirs from
 * script_engine_end_round) and closes the state. Accepts NULL; sets *self to NULL. */
void script_engine_destroy(script_engine_t **self);

/* Runs `hook` of every runnable flow script that has it (or `all`) for `flow`, in key order,
 * honouring packet_interface_only (is_packet_iface), the l4_proto/l7_proto filters (l7_proto
 * by name matches the master, app or full name, case-insensitively; by number the master or
 * app id) and, for periodicUpdate, periodic_update_seconds: a script with it runs when a
 * multiple of its period, counted from the flow's first_ns, was crossed since the previous
 * round (flow->last_update_s, set to now_s after each round), so at most once per period.
 * Each call gets (now, config). The engine keeps the per-flow order in flow->hook_state:
 * protocolDetected runs once and first (a periodicUpdate/flowEnd on a flow without it runs it
 * before), flowEnd once, nothing after flowEnd. A flow.triggerStatus() that changes the
 * status records a flow alert through the host and, once the script returns, runs
 * statusChanged on the flow's other eligible scripts (one round: a status set from
 * statusChanged does not cascade). `flow` is borrowed for the call only. Returns the number
 * of script calls. */
int script_engine_run_flow_hook(script_engine_t *self, flow_hook_t hook, cflow_t *flow,
                                int is_packet_iface, int64_t now_s);

/* 1 when at least one enabled script of the subdir has that hook (callers skip work if not). */
int script_engine_has_flow_hook(const script_engine_t *self, flow_hook_t hook);

/* Number of scripts and their info (for --list-scripts). Returns the count; fills at most max. */
int script_engine_list(const script_engine_t *self, script_info_t *out, int max);

/* Total hook calls and errors so far. */
void script_engine_totals(const script_engine_t *self, uint64_t *calls, uint64_t *errors);

/* "flow", "interface", "network", "system", "snmp", "syslog"; NULL when out of range. */
const char *script_subdir_name(script_subdir_t subdir);

/* What a non-flow hook call is about; given to the caller's push_args function. */
typedef struct script_call {
    script_subdir_t subdir;
    const char *hook;            /* "min", "5mins", "hour", "day", "handleEvent" */
    const char *script_key;
    const struct iface *iface;   /* NULL when the call has no interface */
    int64_t now;
    int config_index;            /* absolute Lua stack index of the script's config table */
} script_call_t;

/* Pushes the arguments of one hook call onto `lua_state` (a lua_State *) and returns how many
 * it pushed. It runs inside the protected call, under the script's instruction budget and the
 * memory cap, so it may raise Lua errors (they count against the script). Periodic subdirs
 * push one params table ({granularity, entity_info, user_script_config = the value at
 * call->config_index, when, ...}); syslog pushes (message, ...). */
typedef int (*script_push_args_fn)(void *ctx, void *lua_state, const script_call_t *call);

/* Runs `hook_name` of every runnable script of `subdir` that has it (or `all`), in key order,
 * for one entity: `iface` (may be NULL) is what the `interface` API sees and decides
 * packet_interface_only; push_args (may be NULL: no arguments) builds the arguments per script.
 * Not for SUBDIR_FLOW (use script_engine_run_flow_hook). Returns the number of script calls,
 * or -1 when the hook does not exist in that subdir. */
int script_engine_run_hook(script_engine_t *self, script_subdir_t subdir, const char *hook_name,
                           const struct iface *iface, int64_t now_s,
                           script_push_args_fn push_args, void *ctx);

/* script_engine_run_hook() for the one script `key` of the subdir (syslog: the script of a
 * source). Returns the number of calls (0 when that script is not runnable), -1 as above. */
int script_engine_run_script_hook(script_engine_t *self, script_subdir_t subdir, const char *key,
                                  const char *hook_name, const struct iface *iface, int64_t now_s,
                                  script_push_args_fn push_args, void *ctx);

/* 1 when the subdir has a runnable script `key`. */
int script_engine_has_script(const script_engine_t *self, script_subdir_t subdir, const char *key);

/* 1 when at least one runnable script of `subdir` has `hook_name` (or `all`). */
int script_engine_has_hook(const script_engine_t *self, script_subdir_t subdir,
                           const char *hook_name);

/* Periodic subdirs: runs teardown() of the subdir's runnable scripts once all entities of a
 * round were iterated. Returns the number of teardown() calls. */
int script_engine_end_round(script_engine_t *self, script_subdir_t subdir);

/* Reloads every script and the configuration file into a new Lua state (SIGHUP). The old
 * scripts get teardown(); per-script counters of scripts that still exist are kept, as are
 * interned status keys (flows keep their cflow_t.status_key). Returns 0, or -1 with err when
 * the new state cannot be built, in which case the old one stays in service. */
int script_engine_reload(script_engine_t *self, char *err, size_t errlen);

/* Engine-wide counters (hitting a cap bumps a named counter). */
typedef struct script_engine_stats {
    uint64_t calls;              /* hook calls (setup/teardown included) */
    uint64_t errors;             /* failed calls */
    uint64_t budget_exceeded;    /* calls stopped by the instruction budget */
    uint64_t time_exceeded;      /* calls stopped by the time limit */
    uint64_t mem_refused;        /* allocations refused by the memory cap */
    uint64_t disabled;           /* scripts disabled after max_errors consecutive errors */
    uint64_t reloads;
    size_t mem_used;             /* Lua heap now, bytes */
    int scripts;                 /* scripts listed (load errors included) */
    int runnable;                /* scripts that can run */
} script_engine_stats_t;

void script_engine_get_stats(const script_engine_t *self, script_engine_stats_t *out);

/* Prints every script for --list-scripts: subdir, key, hooks, enabled, config, why it does not
 * run where it does not, calls/errors/time. json = 0: a text table; 1: one JSON array of
 * objects (with per-hook counters). */
void script_engine_print_list(const script_engine_t *self, FILE *out, int json);

/* Counters a running collector recorded for a script: returns 1 and sets them when known. */
typedef int (*script_runtime_fn)(void *ctx, const char *subdir, const char *key,
                                 uint64_t *calls, uint64_t *errors, double *seconds);

/* script_engine_print_list() with each script's calls, errors and time taken from `fn` when it
 * knows them (JSON: "live": true), else from this engine. */
void script_engine_print_list_runtime(const script_engine_t *self, FILE *out, int json,
                                      script_runtime_fn fn, void *ctx);

#endif
