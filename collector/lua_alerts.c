/* lua_alerts: the "zflow_alerts" Lua module behind scripts/lua/modules/alerts_api.lua (store,
 * trigger, release, isEngaged on an alert description table; api_store, ... on alerts_api's
 * (entity_info, type_info [, when])), the JSON text of Lua values for
 * alert details, and the glue that hands an alert to the collector (engine_host_t). */
#include "lua_api.h"

#include <lauxlib.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_BYTES (1u << 20)

static const char *const severity_names[] = {NULL,    "debug",    "info",      "notice", "warning",
                                             "error", "critical", "emergency", NULL};

int lua_alerts_severity_from_score(int score)
{
    if (score >= 100) return ALERT_SEVERITY_ERROR;
    if (score >= 50) return ALERT_SEVERITY_WARNING;
    return ALERT_SEVERITY_NOTICE;
}

/* ---------------------------------------------------------------- JSON text */

/* Room for n more bytes of JSON text: where they go (c->jlen is not moved). Raises past
 * JSON_MAX_BYTES. */
static char *jroom(lua_State *L, lua_api_ctx_t *c, size_t n)
{
    if (n > JSON_MAX_BYTES - c->jlen)
        luaL_error(L, "JSON text larger than %d bytes", (int)JSON_MAX_BYTES);
    if (c->jlen + n > c->jcap) {
        size_t cap = c->jcap ? c->jcap : 256;
        while (cap < c->jlen + n)
            cap *= 2;
        char *p = realloc(c->jbuf, cap);
        if (!p) luaL_error(L, "not enough memory");
        c->jbuf = p;
        c->jcap = cap;
    }
    return c->jbuf + c->jlen;
}

static void jput(lua_State *L, lua_api_ctx_t *c, const char *s, size_t n)
{
    memcpy(jroom(L, c, n), s, n);
    c->jlen += n;
}

static void jputs(lua_State *L, lua_api_ctx_t *c, const char *s)
{
    jput(L, c, s, strlen(s));
}

static void jputc(lua_State *L, lua_api_ctx_t *c, char ch)
{
    *jroom(L, c, 1) = ch;
    c->jlen++;
}

static int jplain(unsigned char ch)
{
    return ch >= 0x20 && ch != '"' && ch != '\\';
}

/* A JSON string: runs of plain bytes are copied at once; room for the rest is taken as each
 * escape comes. */
static void jstring(lua_State *L, lua_api_ctx_t *c, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = jroom(L, c, n + 2);
    size_t i = 0;
    *o++ = '"';
    for (;;) {
        size_t run = i;
        while (run < n && jplain((unsigned char)s[run]))
            run++;
        memcpy(o, s + i, run - i);
        o += run - i;
        if (run == n) break;
        /* s[run] needs an escape of up to 6 bytes: room for it, the rest and the quote */
        c->jlen = (size_t)(o - c->jbuf);
        o = jroom(L, c, 6 + (n - run - 1) + 1);
        unsigned char ch = (unsigned char)s[run];
        const char *esc = ch == '"'    ? "\\\""
                          : ch == '\\' ? "\\\\"
                          : ch == '\n' ? "\\n"
                          : ch == '\r' ? "\\r"
                          : ch == '\t' ? "\\t"
                          : ch == '\b' ? "\\b"
                          : ch == '\f' ? "\\f"
                                       : NULL;
        if (esc) {
            *o++ = esc[0];
            *o++ = esc[1];
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[ch >> 4];
            o[5] = hex[ch & 15];
            o += 6;
        }
        i = run + 1;
    }
    *o++ = '"';
    c->jlen = (size_t)(o - c->jbuf);
}

/* Decimal text of v into buf (at least 21 bytes); returns its length. */
static size_t jint_text(char *buf, lua_Integer v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    /* in unsigned arithmetic, so that the most negative integer has a magnitude too */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* JSON text of a number into buf (at least 32 bytes); returns its length, 0 for NaN and
 * infinities (no JSON number). Integers, and floats with an integral value below 2^63, are
 * written exactly (Eve flow ids are near 2^50, far past the 14 digits of "%.14g"); other
 * floats with the fewest digits that read back to the same double. */
static size_t jnumber_text(char *buf, int is_int, lua_Integer i, lua_Number d)
{
    if (is_int) return jint_text(buf, i);
    if (!isfinite(d)) return 0;
    if (d == floor(d) && fabs(d) < 9223372036854775808.0) return jint_text(buf, (lua_Integer)d);
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d) break;
    }
    return strlen(buf);
}

static void jnumber(lua_State *L, lua_api_ctx_t *c, int idx)
{
    char buf[32];
    int is_int = lua_isinteger(L, idx);
    size_t n = jnumber_text(buf, is_int, is_int ? lua_tointeger(L, idx) : 0,
                            is_int ? 0 : lua_tonumber(L, idx));
    if (n)
        jput(L, c, buf, n);
    else
        jputs(L, c, "null");
}

/* One key of a table being encoded, and where its value is. */
typedef struct jkey {
    const char *s; /* the key text: a string key's, or num */
    size_t len;
    uint64_t prefix; /* the first 8 bytes of the text, big-endian: most comparisons end here */
    int is_num, is_int;
    lua_Number n;
    lua_Integer i;
    int vidx; /* stack index of the value (small tables), or 0 */
    char num[32];
} jkey_t;

static int jkey_cmp(const jkey_t *x, const jkey_t *y)
{
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->s, y->s, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static int jkey_qsort_cmp(const void *a, const void *b)
{
    return jkey_cmp(*(const jkey_t *const *)a, *(const jkey_t *const *)b);
}

/* Reads the key at the top of the stack (lua_next's) into k; raises on a key JSON cannot
 * have. The key stays where it is (lua_next needs it unchanged). */
static void jkey_read(lua_State *L, jkey_t *k)
{
    int kt = lua_type(L, -1);
    if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
        luaL_error(L, "cannot encode a table with a %s key as JSON", luaL_typename(L, -1));
    k->vidx = 0;
    k->is_num = kt == LUA_TNUMBER;
    if (!k->is_num) {
        k->s = lua_tolstring(L, -1, &k->len); /* anchored by the table */
    } else {
        k->is_int = lua_isinteger(L, -1);
        k->i = k->is_int ? lua_tointeger(L, -1) : 0;
        k->n = k->is_int ? 0 : lua_tonumber(L, -1);
        k->len = jnumber_text(k->num, k->is_int, k->i, k->n);
        if (!k->len) k->len = (size_t)snprintf(k->num, sizeof k->num, "%g", (double)k->n);
        k->s = k->num; /* (the keys are sorted through pointers: num does not move) */
    }
    k->prefix = 0;
    for (size_t j = 0; j < 8; j++)
        k->prefix = k->prefix << 8 | (j < k->len ? (unsigned char)k->s[j] : 0u);
}

static void jvalue(lua_State *L, lua_api_ctx_t *c, int idx, int depth);

/* Writes table t: as an array when its keys are exactly 1..n, else as an object with its keys
 * in byte order (stable output; `order` points at the keys and is sorted here). A key's value
 * is at its vidx, or is looked up in t. */
static void jentries(lua_State *L, lua_api_ctx_t *c, int t, int depth, jkey_t **order, size_t n,
                     int array)
{
    if (array) {
        jputc(L, c, '[');
        for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
            if (i > 1) jputc(L, c, ',');
            lua_rawgeti(L, t, i);
            jvalue(L, c, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        jputc(L, c, ']');
        return;
    }
    if (n > 16) {
        qsort(order, n, sizeof *order, jkey_qsort_cmp);
    } else { /* insertion sort: fewer comparisons and no calls for the usual small object */
        for (size_t i = 1; i < n; i++) {
            jkey_t *k = order[i];
            size_t j = i;
            for (; j > 0 && jkey_cmp(order[j - 1], k) > 0; j--)
                order[j] = order[j - 1];
            order[j] = k;
        }
    }
    jputc(L, c, '{');
    for (size_t i = 0; i < n; i++) {
        jkey_t *k = order[i];
        if (i) jputc(L, c, ',');
        jstring(L, c, k->s, k->len);
        jputc(L, c, ':');
        if (k->vidx) {
            jvalue(L, c, k->vidx, depth + 1);
            continue;
        }
        if (!k->is_num)
            lua_pushlstring(L, k->s, k->len);
        else if (k->is_int)
            lua_pushinteger(L, k->i);
        else
            lua_pushnumber(L, k->n);
        lua_rawget(L, t);
        jvalue(L, c, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    jputc(L, c, '}');
}

/* Tables up to this many entries are encoded in one traversal, their values kept on the Lua
 * stack and their keys in a C array (no allocation); larger ones take a second traversal. */
#define JSON_SMALL_TABLE 32

static void jtable(lua_State *L, lua_api_ctx_t *c, int t, int depth)
{
    if (depth >= JSON_MAX_DEPTH)
        luaL_error(L, "JSON nesting deeper than %d (a table containing itself?)", JSON_MAX_DEPTH);
    luaL_checkstack(L, JSON_SMALL_TABLE + 8, "JSON encoding");

    lua_Integer len = (lua_Integer)lua_rawlen(L, t);
    int array = 1, base = lua_gettop(L);
    size_t n = 0;
    jkey_t small[JSON_SMALL_TABLE], *order[JSON_SMALL_TABLE];
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (n == JSON_SMALL_TABLE) { /* a large table: start over below */
            lua_settop(L, base);
            break;
        }
        lua_insert(L, -2); /* keep the value below the key */
        jkey_t *k = order[n] = &small[n];
        n++;
        jkey_read(L, k);
        k->vidx = lua_gettop(L) - 1;
        if (!k->is_num || !k->is_int || k->i < 1 || k->i > len) array = 0;
    }
    if (n < JSON_SMALL_TABLE || lua_gettop(L) > base) {
        jentries(L, c, t, depth, order, n, array && len > 0 && (lua_Integer)n == len);
        lua_settop(L, base);
        return;
    }

    /* more than JSON_SMALL_TABLE entries: count, then the keys in a userdata, values by
     * lookup */
    size_t count = 0;
    array = 1;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > len)
            array = 0;
    }
    jkey_t *keys = lua_newuserdatauv(L, count * (sizeof(jkey_t) + sizeof(jkey_t *)), 0);
    jkey_t **korder = (jkey_t **)(keys + count);
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (n < count) {
            korder[n] = &keys[n];
            jkey_read(L, &keys[n++]);
        }
    }
    jentries(L, c, t, depth, korder, n, array && (lua_Integer)n == len);
    lua_settop(L, base);
}

static void jvalue(lua_State *L, lua_api_ctx_t *c, int idx, int depth)
{
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        jputs(L, c, "null");
        break;
    case LUA_TBOOLEAN:
        jputs(L, c, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        jnumber(L, c, idx);
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        jstring(L, c, s, n);
        break;
    case LUA_TTABLE:
        jtable(L, c, idx, depth);
        break;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) { /* cjson.null */
            jputs(L, c, "null");
            break;
        }
        /* fallthrough */
    default:
        luaL_error(L, "cannot encode a %s value as JSON", luaL_typename(L, idx));
    }
}

void lua_api_push_json(lua_State *L, int idx)
{
    lua_api_ctx_t *c = lua_api_ctx(L);
    idx = lua_absindex(L, idx);
    c->jlen = 0;
    jvalue(L, c, idx, 0);
    lua_pushlstring(L, c->jbuf ? c->jbuf : "", c->jlen);
}

/* ---------------------------------------------------------------- alerts */

int lua_api_store_alert(lua_State *L, alert_t *a)
{
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    const engine_host_t *h = ctx->host;
    if (!a->tstamp) a->tstamp = ctx->now ? ctx->now : (int64_t)time(NULL);
    if (!a->probe_id)
        a->probe_id = ctx->iface && h->iface_probe_id ? h->iface_probe_id(ctx->iface) : NULL;
    if (!a->interface)
        a->interface = ctx->iface && h->iface_name ? h->iface_name(ctx->iface) : NULL;
    if (!a->probe_id) a->probe_id = "";
    if (!a->interface) a->interface = "";
    a->script_key = ctx->script_key ? ctx->script_key : "";
    a->subdir = ctx->subdir ? ctx->subdir : "";
    if (!a->message) a->message = "";
    if (!a->json) a->json = "{}";
    if (!h->store_alert) return -1;
    return h->store_alert(h->ctx, a);
}

/* Pushes t[name] when it is a string (numbers are converted); NULL otherwise. The value stays
 * on the stack, so the pointer lives as long as the caller's frame. */
static const char *opt_field(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
        return lua_tostring(L, -1);
    return NULL;
}

static const char *req_field(lua_State *L, int t, const char *a, const char *b)
{
    const char *v = opt_field(L, t, a);
    if (!v && b) v = opt_field(L, t, b);
    if (!v || !*v) luaL_error(L, "alert: '%s' is missing", a);
    return v;
}

static int parse_severity(lua_State *L, int t, int score)
{
    int ty = lua_getfield(L, t, "severity");
    int sev = 0;
    if (ty == LUA_TNUMBER) {
        sev = (int)lua_tointeger(L, -1);
    } else if (ty == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        for (int i = 1; severity_names[i]; i++)
            if (strcmp(s, severity_names[i]) == 0) sev = i;
    } else if (ty == LUA_TTABLE) { /* ntopng style {severity_id = n, ...} */
        lua_getfield(L, -1, "severity_id");
        sev = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    } else if (ty == LUA_TNIL) {
        sev = lua_alerts_severity_from_score(score);
    }
    lua_pop(L, 1);
    if (sev < ALERT_SEVERITY_DEBUG || sev > ALERT_SEVERITY_EMERGENCY)
        luaL_error(L, "alert: bad severity (1-7 or debug, info, notice, warning, error, "
                      "critical, emergency)");
    return sev;
}

/* Reads the alert description table at index 1:
 * {entity, entity_value, alert_type, severity, score, message, json (text or table), when}. */
static void read_alert(lua_State *L, alert_t *a, int full)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    memset(a, 0, sizeof(*a));
    a->entity = req_field(L, 1, "entity", NULL);
    a->entity_value = req_field(L, 1, "entity_value", "entity_val");
    a->alert_type = req_field(L, 1, "alert_type", "type");
    if (!full) return;
    lua_getfield(L, 1, "score");
    a->score = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    a->severity = parse_severity(L, 1, a->score);
    a->message = opt_field(L, 1, "message");
    if (lua_getfield(L, 1, "json") == LUA_TTABLE) {
        lua_api_push_json(L, -1);
        a->json = lua_tostring(L, -1);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        a->json = lua_tostring(L, -1);
    }
    lua_getfield(L, 1, "when");
    a->tstamp = (int64_t)luaL_optinteger(L, -1, 0);
}

/* Pushes the first of t[k1], t[k2] (, t[k3]) that is neither nil nor false, or nil; its type. */
static int push_first(lua_State *L, int t, const char *k1, const char *k2, const char *k3)
{
    const char *keys[3] = {k1, k2, k3};
    t = lua_absindex(L, t);
    for (int i = 0; i < 3 && keys[i]; i++) {
        lua_getfield(L, t, keys[i]);
        if (lua_toboolean(L, -1)) return lua_type(L, -1);
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    return LUA_TNIL;
}

/* Pops a value and stores tostring() of it as d[name] (d: the description at index 4). */
static void set_text(lua_State *L, const char *name)
{
    luaL_tolstring(L, -1, NULL);
    lua_setfield(L, 4, name);
    lua_pop(L, 1);
}

/* alerts_api's arguments (entity_info, type_info [, when]) -> the description table the
 * functions above read, left alone on the stack. entity_info = {entity, entity_value} or
 * ntopng's {alert_entity = {entity_type = ...} or "...", entity_val = ...}; type_info =
 * {alert_type (or type, or a table with alert_key / key / i18n_title), severity (or
 * alert_severity), score, message, json (or alert_type_params), when}. Errors name the
 * caller's line. */
static void api_describe(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TTABLE) luaL_error(L, "alerts_api: type_info must be a table");
    if (lua_type(L, 1) != LUA_TTABLE) luaL_error(L, "alerts_api: entity_info must be a table");
    lua_settop(L, 3);
    lua_createtable(L, 0, 8); /* 4 */
    if (push_first(L, 1, "entity", "alert_entity", NULL) == LUA_TTABLE) {
        push_first(L, -1, "entity_type", "key", "label");
        lua_remove(L, -2);
    }
    push_first(L, 1, "entity_value", "entity_val", NULL);
    if (lua_isnil(L, -1) || lua_isnil(L, -2))
        luaL_error(L, "alerts_api: entity_info needs entity and entity_value");
    set_text(L, "entity_value");
    set_text(L, "entity");
    if (push_first(L, 2, "alert_type", "type", NULL) == LUA_TTABLE) {
        push_first(L, -1, "alert_key", "key", "i18n_title");
        lua_remove(L, -2);
    }
    if (lua_isnil(L, -1)) luaL_error(L, "alerts_api: type_info needs alert_type");
    set_text(L, "alert_type");
    push_first(L, 2, "severity", "alert_severity", NULL);
    lua_setfield(L, 4, "severity");
    lua_getfield(L, 2, "score");
    lua_setfield(L, 4, "score");
    lua_getfield(L, 2, "message");
    lua_setfield(L, 4, "message");
    push_first(L, 2, "json", "alert_type_params", NULL);
    lua_setfield(L, 4, "json");
    if (lua_toboolean(L, 3))
        lua_pushvalue(L, 3);
    else
        lua_getfield(L, 2, "when");
    lua_setfield(L, 4, "when");
    lua_replace(L, 1);
    lua_settop(L, 1);
}

static int a_store(lua_State *L)
{
    alert_t a;
    read_alert(L, &a, 1);
    a.kind = ALERT_ONESHOT;
    lua_pushboolean(L, lua_api_store_alert(L, &a) == 0);
    return 1;
}

static int a_trigger(lua_State *L)
{
    alert_t a;
    read_alert(L, &a, 1);
    a.kind = ALERT_ENGAGED;
    lua_pushboolean(L, lua_api_store_alert(L, &a) == 0);
    return 1;
}

static int a_release(lua_State *L)
{
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    const engine_host_t *h = ctx->host;
    alert_t a;
    read_alert(L, &a, 0);
    int rc = h->release_alert ? h->release_alert(h->ctx, a.entity, a.entity_value, a.alert_type,
                                                 ctx->script_key ? ctx->script_key : "")
                              : -1;
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int a_isEngaged(lua_State *L)
{
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    const engine_host_t *h = ctx->host;
    alert_t a;
    read_alert(L, &a, 0);
    lua_pushboolean(L,
                    h->is_engaged && h->is_engaged(h->ctx, a.entity, a.entity_value, a.alert_type,
                                                   ctx->script_key ? ctx->script_key : "") == 1);
    return 1;
}

/* alerts_api.store / trigger / release / isEngaged (entity_info, type_info [, when]) */
static int a_api_store(lua_State *L)
{
    api_describe(L);
    return a_store(L);
}

static int a_api_trigger(lua_State *L)
{
    api_describe(L);
    return a_trigger(L);
}

static int a_api_release(lua_State *L)
{
    api_describe(L);
    return a_release(L);
}

static int a_api_isEngaged(lua_State *L)
{
    lua_settop(L, 2); /* no `when` */
    api_describe(L);
    return a_isEngaged(L);
}

/* toJSON(value): the JSON text the alert functions store for a table. */
static int a_toJSON(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_api_push_json(L, 1);
    return 1;
}

static const luaL_Reg alerts_funcs[] = {
    {"store", a_store},         {"trigger", a_trigger}, {"release", a_release},
    {"isEngaged", a_isEngaged}, {"toJSON", a_toJSON},   {"api_store", a_api_store},
    {"api_trigger", a_api_trigger}, {"api_release", a_api_release},
    {"api_isEngaged", a_api_isEngaged}, {NULL, NULL},
};

int luaopen_zflow_alerts(lua_State *L)
{
    luaL_newlib(L, alerts_funcs);
    return 1;
}
