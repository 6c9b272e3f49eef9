/* lua_api: internal glue between the script engine and its Lua C modules (lua_flow.c,
 * lua_interface.c, lua_ntop.c, lua_alerts.c): the call context they read. Not for the rest of
 * the collector, which uses script_engine.h. */
#ifndef ZFLOW_LUA_API_H
#define ZFLOW_LUA_API_H

#include "script_engine.h"

#include <lua.h>
#include <stdint.h>
#include <stdio.h>

/* One per Lua state, reached through lua_getextraspace(). The "per call" fields are set by the
 * engine for the duration of one hook call and cleared afterwards: the borrowed flow and
 * interface pointers are never valid outside the call that received them. */
typedef struct lua_api_ctx {
    /* Engine lifetime (owned by the engine). */
    script_engine_t *engine;
    const engine_host_t *host;
    const char *installdir;
    const char *data_dir;
    const char *const *user_dirs;
    int n_user_dirs;
    const char *local_networks;
    double started_mono; /* CLOCK_MONOTONIC seconds at engine creation */
    FILE *log;
    char *jbuf; /* lua_api_push_json() scratch (capped), freed with the state */
    size_t jlen, jcap;
    /* Per call. */
    cflow_t *flow;             /* borrowed: NULL outside flow hooks */
    const struct iface *iface; /* borrowed: NULL when the call has no interface */
    int is_packet_iface;
    int64_t now;            /* the hook's `now` (seconds since the epoch) */
    const char *script_key; /* the running script, NULL between calls */
    const char *subdir;
    int status_changed; /* set by flow.triggerStatus() when the status changed */
} lua_api_ctx_t;

static inline lua_api_ctx_t *lua_api_ctx(lua_State *L)
{
    return *(lua_api_ctx_t **)lua_getextraspace(L);
}

/* Interns `s` (host.intern when set, else the engine's own table, which survives reloads).
 * Returns NULL when the table is full. */
const char *script_engine_intern(script_engine_t *self, const char *s);

/* Module openers: each creates its table from the luaL_Reg list in its file. The first three
 * set a global (`flow`, `interface`, `ntop`); the alerts one is a package.preload loader for
 * "zflow_alerts" (used by scripts/lua/modules/alerts_api.lua). */
int lua_flow_open(lua_State *L);
int lua_interface_open(lua_State *L);
int lua_ntop_open(lua_State *L);
int luaopen_zflow_alerts(lua_State *L);

/* IP protocol number of "tcp", "UDP", "17", ...; -1 when unknown. */
int lua_flow_l4_proto_by_name(const char *name);
/* "TCP", "UDP", ... or NULL when the number has no name here. */
const char *lua_flow_l4_proto_name(int proto);

/* ntopng's mapping: score >= 100 error, >= 50 warning, else notice. */
int lua_alerts_severity_from_score(int score);

/* Pushes the JSON text of the value at `idx` (nil, booleans, numbers, strings, tables as
 * arrays or objects with sorted keys; nesting is capped). Raises a Lua error on a table that
 * is nested too deeply (cycles included). */
void lua_api_push_json(lua_State *L, int idx);

/* Fills the location fields of an alert (probe id, interface, script, subdir, tstamp) from
 * the call context and hands it to host.store_alert. Returns 0, or -1 (no host or refused). */
int lua_api_store_alert(lua_State *L, alert_t *alert);

#endif
