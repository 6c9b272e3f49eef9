/* lua_alerts: the "zflow_alerts" Lua module behind scripts/lua/modules/alerts_api.lua (store,
 * trigger, release, isEngaged on an alert description table), the JSON text of Lua values for
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

static void jput(lua_State *L, lua_api_ctx_t *c, const char *s, size_t n)
{
    if (c->jlen + n > JSON_MAX_BYTES)
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
    memcpy(c->jbuf + c->jlen, s, n);
    c->jlen += n;
}

static void jputs(lua_State *L, lua_api_ctx_t *c, const char *s)
{
    jput(L, c, s, strlen(s));
}

static void jstring(lua_State *L, lua_api_ctx_t *c, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    jput(L, c, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        jput(L, c, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            len = 6;
        }
        jput(L, c, esc, len);
    }
    jput(L, c, s + run, n - run);
    jput(L, c, "\"", 1);
}

static void jnumber(lua_State *L, lua_api_ctx_t *c, int idx)
{
    char buf[64];
    if (lua_isinteger(L, idx)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)lua_tointeger(L, idx));
    } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
            jputs(L, c, "null");
            return;
        }
        snprintf(buf, sizeof(buf), "%.14g", d);
    }
    jputs(L, c, buf);
}

typedef struct jkey {
    const char *s; /* the key text (a string key, or text in num) */
    size_t len;
    int is_num;
    lua_Number n;
    lua_Integer i;
    int is_int;
    char num[32];
} jkey_t;

static int jkey_cmp(const void *a, const void *b)
{
    const jkey_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->s, y->s, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static void jvalue(lua_State *L, lua_api_ctx_t *c, int idx, int depth);

static void jtable(lua_State *L, lua_api_ctx_t *c, int t, int depth)
{
    if (depth >= JSON_MAX_DEPTH)
        luaL_error(L, "JSON nesting deeper than %d (a table containing itself?)", JSON_MAX_DEPTH);
    luaL_checkstack(L, 8, "JSON encoding");

    lua_Integer len = (lua_Integer)lua_rawlen(L, t), count = 0;
    int array = len > 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        count++;
        int kt = lua_type(L, -1);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
            luaL_error(L, "cannot encode a table with a %s key as JSON", luaL_typename(L, -1));
        if (array &&
            (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > len))
            array = 0;
    }
    if (array && count == len) {
        jput(L, c, "[", 1);
        for (lua_Integer i = 1; i <= len; i++) {
            if (i > 1) jput(L, c, ",", 1);
            lua_rawgeti(L, t, i);
            jvalue(L, c, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        jput(L, c, "]", 1);
        return;
    }

    /* An object with its keys in byte order (stable output). */
    jkey_t *keys = count ? lua_newuserdatauv(L, (size_t)count * sizeof(jkey_t), 0) : NULL;
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (n >= count) continue;
        jkey_t *k = &keys[n++];
        memset(k, 0, sizeof(*k));
        if (lua_type(L, -1) == LUA_TSTRING) {
            k->s = lua_tolstring(L, -1, &k->len); /* anchored by the table */
        } else {
            k->is_num = 1;
            k->is_int = lua_isinteger(L, -1);
            if (k->is_int) {
                k->i = lua_tointeger(L, -1);
                snprintf(k->num, sizeof(k->num), "%lld", (long long)k->i);
            } else {
                k->n = lua_tonumber(L, -1);
                snprintf(k->num, sizeof(k->num), "%.14g", (double)k->n);
            }
            k->s = k->num;
            k->len = strlen(k->num);
        }
    }
    if (n > 1) qsort(keys, (size_t)n, sizeof(jkey_t), jkey_cmp);
    jput(L, c, "{", 1);
    for (lua_Integer i = 0; i < n; i++) {
        jkey_t *k = &keys[i];
        if (i) jput(L, c, ",", 1);
        jstring(L, c, k->s, k->len);
        jput(L, c, ":", 1);
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
    jput(L, c, "}", 1);
    if (keys) lua_pop(L, 1);
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

/* toJSON(value): the JSON text the alert functions store for a table. */
static int a_toJSON(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_api_push_json(L, 1);
    return 1;
}

static const luaL_Reg alerts_funcs[] = {
    {"store", a_store},         {"trigger", a_trigger}, {"release", a_release},
    {"isEngaged", a_isEngaged}, {"toJSON", a_toJSON},   {NULL, NULL},
};

int luaopen_zflow_alerts(lua_State *L)
{
    luaL_newlib(L, alerts_funcs);
    return 1;
}
