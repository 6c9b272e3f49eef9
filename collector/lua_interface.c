/* lua_interface: the `interface` Lua module: the interface the running hook is about (the
 * flow's interface in flow hooks, the iterated one in interface hooks). The interface is a
 * borrowed pointer set by the engine for one call; outside such a call every function raises
 * a Lua error. Names, ids and stats come from the collector through engine_host_t. */
#include "lua_api.h"

#include <lauxlib.h>

static const struct iface *check_iface(lua_State *L, const char *fn)
{
    const struct iface *i = lua_api_ctx(L)->iface;
    if (!i) luaL_error(L, "interface.%s: no current interface in this hook", fn);
    return i;
}

static int i_getId(lua_State *L)
{
    const struct iface *i = check_iface(L, "getId");
    const engine_host_t *h = lua_api_ctx(L)->host;
    lua_pushinteger(L, h->iface_id ? h->iface_id(i) : -1);
    return 1;
}

static int i_getName(lua_State *L)
{
    const struct iface *i = check_iface(L, "getName");
    const engine_host_t *h = lua_api_ctx(L)->host;
    const char *n = h->iface_name ? h->iface_name(i) : NULL;
    lua_pushstring(L, n ? n : "");
    return 1;
}

/* The probe id of a probe interface; "" for a local packet interface. */
static int i_getProbeId(lua_State *L)
{
    const struct iface *i = check_iface(L, "getProbeId");
    const engine_host_t *h = lua_api_ctx(L)->host;
    const char *p = h->iface_probe_id ? h->iface_probe_id(i) : NULL;
    lua_pushstring(L, p ? p : "");
    return 1;
}

static int i_isPacketInterface(lua_State *L)
{
    const struct iface *i = check_iface(L, "isPacketInterface");
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    const engine_host_t *h = ctx->host;
    lua_pushboolean(L, h->iface_is_packet ? h->iface_is_packet(i) : ctx->is_packet_iface);
    return 1;
}

/* A table of counters from the collector (host.push_interface_stats); {} without one. */
static int i_getStats(lua_State *L)
{
    const struct iface *i = check_iface(L, "getStats");
    const engine_host_t *h = lua_api_ctx(L)->host;
    int top = lua_gettop(L);
    if (h->push_interface_stats) h->push_interface_stats(h->ctx, L, i);
    if (lua_gettop(L) != top + 1 || !lua_istable(L, -1)) {
        lua_settop(L, top);
        lua_newtable(L);
    }
    return 1;
}

static const luaL_Reg interface_funcs[] = {
    {"getId", i_getId},           {"getName", i_getName},
    {"getProbeId", i_getProbeId}, {"isPacketInterface", i_isPacketInterface},
    {"getStats", i_getStats},     {NULL, NULL},
};

int lua_interface_open(lua_State *L)
{
    luaL_newlib(L, interface_funcs);
    lua_setglobal(L, "interface");
    return 0;
}
