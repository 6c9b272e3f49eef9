/* lua_ntop: the `ntop` Lua module: directories (getDirs, as the documented contract uses it),
 * clocks, product information and the answers ntopng scripts ask of it (isnEdge, isPro, ...). */
#include "lua_api.h"

#include <lauxlib.h>

#include <string.h>
#include <time.h>

#ifndef ZFLOW_VERSION
#define ZFLOW_VERSION "0"
#endif

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* {installdir, scriptdir, callbacksdir, workingdir (the data directory), scriptdirs = {the
 * --scripts-dir DIRs}}; installdir .. "/scripts/lua/modules" holds the stock modules. */
static int n_getDirs(lua_State *L)
{
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, ctx->installdir);
    lua_setfield(L, -2, "installdir");
    lua_pushfstring(L, "%s/scripts", ctx->installdir);
    lua_setfield(L, -2, "scriptdir");
    lua_pushfstring(L, "%s/scripts/callbacks", ctx->installdir);
    lua_setfield(L, -2, "callbacksdir");
    lua_pushstring(L, ctx->data_dir);
    lua_setfield(L, -2, "workingdir");
    lua_createtable(L, ctx->n_user_dirs, 0);
    for (int i = 0; i < ctx->n_user_dirs; i++) {
        lua_pushstring(L, ctx->user_dirs[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "scriptdirs");
    return 1;
}

/* Seconds since the epoch (integer). */
static int n_gettime(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)time(NULL));
    return 1;
}

/* Seconds since the epoch with sub-second precision. */
static int n_gettimemsec(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
    return 1;
}

/* A monotonic tick counter (nanoseconds); see gettickspersec(). */
static int n_getticks(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
    return 1;
}

static int n_gettickspersec(lua_State *L)
{
    lua_pushinteger(L, 1000000000);
    return 1;
}

/* Seconds since the script engine started. */
static int n_getUptime(lua_State *L)
{
    lua_pushinteger(L,
                    (lua_Integer)(clock_seconds(CLOCK_MONOTONIC) - lua_api_ctx(L)->started_mono));
    return 1;
}

static int n_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int n_getInfo(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "zflow");
    lua_setfield(L, -2, "product");
    lua_pushliteral(L, ZFLOW_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushliteral(L, "zflow-collector");
    lua_setfield(L, -2, "program");
    return 1;
}

/* The --local-networks CIDRs as an array of strings. */
static int n_getLocalNetworks(lua_State *L)
{
    const char *s = lua_api_ctx(L)->local_networks;
    int n = 0;
    lua_newtable(L);
    while (s && *s) {
        size_t len = strcspn(s, ", ");
        if (len) {
            lua_pushlstring(L, s, len);
            lua_rawseti(L, -2, ++n);
        }
        s += len;
        s += strspn(s, ", ");
    }
    return 1;
}

static const luaL_Reg ntop_funcs[] = {
    {"getDirs", n_getDirs},
    {"gettime", n_gettime},
    {"gettimemsec", n_gettimemsec},
    {"getticks", n_getticks},
    {"gettickspersec", n_gettickspersec},
    {"getUptime", n_getUptime},
    {"isnEdge", n_false},
    {"isPro", n_false},
    {"isEnterprise", n_false},
    {"isWindows", n_false},
    {"getInfo", n_getInfo},
    {"getLocalNetworks", n_getLocalNetworks},
    {NULL, NULL},
};

int lua_ntop_open(lua_State *L)
{
    luaL_newlib(L, ntop_funcs);
    lua_setglobal(L, "ntop");
    return 0;
}
