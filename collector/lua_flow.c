/* lua_flow: the `flow` Lua module: cheap getters on the flow of the running flow hook, its
 * status (getStatus, triggerStatus) and getInfo(), which builds a table only when asked.
 *
 * The flow is a borrowed cflow_t pointer that the engine sets for one hook call; any flow.*
 * call outside a flow hook raises a Lua error. Counters are cumulative; times are seconds
 * (floats), RTTs milliseconds. */
#include "lua_api.h"

#include <lauxlib.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    int proto;
    const char *name;
} l4_names[] = {
    {1, "ICMP"}, {2, "IGMP"}, {6, "TCP"},     {17, "UDP"},  {41, "IPv6"},  {47, "GRE"},
    {50, "ESP"}, {51, "AH"},  {58, "ICMPv6"}, {89, "OSPF"}, {132, "SCTP"},
};

int lua_flow_l4_proto_by_name(const char *name)
{
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && !*end) return n >= 0 && n <= 255 ? (int)n : -1;
    for (size_t i = 0; i < sizeof(l4_names) / sizeof(l4_names[0]); i++)
        if (strcasecmp(name, l4_names[i].name) == 0) return l4_names[i].proto;
    return -1;
}

const char *lua_flow_l4_proto_name(int proto)
{
    for (size_t i = 0; i < sizeof(l4_names) / sizeof(l4_names[0]); i++)
        if (l4_names[i].proto == proto) return l4_names[i].name;
    return NULL;
}

static cflow_t *check_flow(lua_State *L, const char *fn)
{
    cflow_t *f = lua_api_ctx(L)->flow;
    if (!f)
        luaL_error(L, "flow.%s: no current flow (the flow API is only valid inside a flow hook)",
                   fn);
    return f;
}

static void push_ip(lua_State *L, const uint8_t *ip, int version)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, ip, buf, sizeof(buf)))
        lua_pushnil(L);
    else
        lua_pushstring(L, buf);
}

static void push_opt_string(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static void push_mac(lua_State *L, const uint8_t *m)
{
    char buf[18];
    snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    lua_pushstring(L, buf);
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static double duration(const cflow_t *f)
{
    return f->last_ns > f->first_ns ? seconds(f->last_ns - f->first_ns) : 0.0;
}

#define INT_GETTER(name, expr)                                                                     \
    static int f_##name(lua_State *L)                                                              \
    {                                                                                              \
        const cflow_t *f = check_flow(L, #name);                                                   \
        lua_pushinteger(L, (lua_Integer)(expr));                                                   \
        return 1;                                                                                  \
    }
#define NUM_GETTER(name, expr)                                                                     \
    static int f_##name(lua_State *L)                                                              \
    {                                                                                              \
        const cflow_t *f = check_flow(L, #name);                                                   \
        lua_pushnumber(L, (lua_Number)(expr));                                                     \
        return 1;                                                                                  \
    }
#define STR_GETTER(name, expr)                                                                     \
    static int f_##name(lua_State *L)                                                              \
    {                                                                                              \
        const cflow_t *f = check_flow(L, #name);                                                   \
        push_opt_string(L, (expr));                                                                \
        return 1;                                                                                  \
    }
#define BOOL_GETTER(name, expr)                                                                    \
    static int f_##name(lua_State *L)                                                              \
    {                                                                                              \
        const cflow_t *f = check_flow(L, #name);                                                   \
        lua_pushboolean(L, (expr));                                                                \
        return 1;                                                                                  \
    }
#define PAIR_GETTER(name, a, b)                                                                    \
    static int f_##name(lua_State *L)                                                              \
    {                                                                                              \
        const cflow_t *f = check_flow(L, #name);                                                   \
        lua_pushinteger(L, (lua_Integer)(a));                                                      \
        lua_pushinteger(L, (lua_Integer)(b));                                                      \
        return 2;                                                                                  \
    }

INT_GETTER(getFlowId, f->flow_id)
INT_GETTER(getClientPort, f->cli_port)
INT_GETTER(getServerPort, f->srv_port)
INT_GETTER(getIpVersion, f->ip_version)
INT_GETTER(getL4Proto, f->l4_proto)
INT_GETTER(getClientToServerBytes, f->c2s_bytes)
INT_GETTER(getServerToClientBytes, f->s2c_bytes)
INT_GETTER(getClientToServerPackets, f->c2s_packets)
INT_GETTER(getServerToClientPackets, f->s2c_packets)
INT_GETTER(getTotalBytes, f->c2s_bytes + f->s2c_bytes)
INT_GETTER(getTotalPackets, f->c2s_packets + f->s2c_packets)
INT_GETTER(getL7MasterId, f->l7_master_id)
INT_GETTER(getL7AppId, f->l7_app_id)
INT_GETTER(getL7CategoryId, f->l7_category_id)
INT_GETTER(getRisk, f->risk)
INT_GETTER(getRiskScore, f->risk_score)
INT_GETTER(getVlan, f->vlan)
INT_GETTER(getEndReason, f->end_reason)
INT_GETTER(getScore, f->flow_score)
NUM_GETTER(getFirstSeen, seconds(f->first_ns))
NUM_GETTER(getLastSeen, seconds(f->last_ns))
NUM_GETTER(getDuration, duration(f))
NUM_GETTER(getClientRtt, f->cli_rtt_us / 1000.0)
NUM_GETTER(getServerRtt, f->srv_rtt_us / 1000.0)
STR_GETTER(getL7ProtoName, f->l7_proto_name)
STR_GETTER(getL7MasterProtoName, f->l7_master_name)
STR_GETTER(getL7AppProtoName, f->l7_app_name)
STR_GETTER(getL7Category, f->l7_category)
STR_GETTER(getServerName, f->server_name)
STR_GETTER(getCommunityId, f->community_id)
BOOL_GETTER(isClientLocal, f->cli_local)
BOOL_GETTER(isServerLocal, f->srv_local)
BOOL_GETTER(isEnded, (f->hook_state & CFLOW_ENDED) != 0)
PAIR_GETTER(getRetransmissions, f->c2s_retrans, f->s2c_retrans)
PAIR_GETTER(getTcpFlags, f->c2s_tcp_flags, f->s2c_tcp_flags)
PAIR_GETTER(getTos, f->c2s_tos, f->s2c_tos)
PAIR_GETTER(getTTL, f->min_ttl, f->max_ttl)
PAIR_GETTER(getIcmpTypeCode, f->icmp_type, f->icmp_code)

static int f_getClientIp(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getClientIp");
    push_ip(L, f->cli_ip, f->ip_version);
    return 1;
}

static int f_getServerIp(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getServerIp");
    push_ip(L, f->srv_ip, f->ip_version);
    return 1;
}

static int f_getL4ProtoName(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getL4ProtoName");
    const char *n = lua_flow_l4_proto_name(f->l4_proto);
    if (n)
        lua_pushstring(L, n);
    else
        lua_pushfstring(L, "%d", (int)f->l4_proto);
    return 1;
}

/* type, id (nil when the flow was not tunnelled) */
static int f_getTunnel(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getTunnel");
    if (!f->extra || !f->extra->tunnel_type) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, f->extra->tunnel_type);
    lua_pushinteger(L, f->extra->tunnel_id);
    return 2;
}

/* outer source, outer destination (text), nil when not tunnelled */
static int f_getTunnelEndpoints(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getTunnelEndpoints");
    if (!f->extra || !f->extra->tunnel_type) {
        lua_pushnil(L);
        return 1;
    }
    push_ip(L, f->extra->tunnel_src, f->extra->tunnel_ip_version);
    push_ip(L, f->extra->tunnel_dst, f->extra->tunnel_ip_version);
    return 2;
}

static int f_getInnerVlan(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getInnerVlan");
    lua_pushinteger(L, f->extra ? f->extra->vlan_inner : 0);
    return 1;
}

/* client MAC, server MAC (text), nil when unknown */
static int f_getMacs(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getMacs");
    if (!f->extra || !f->extra->has_macs) {
        lua_pushnil(L);
        return 1;
    }
    push_mac(L, f->extra->cli_mac);
    push_mac(L, f->extra->srv_mac);
    return 2;
}

static int f_getProbeId(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getProbeId");
    const engine_host_t *h = lua_api_ctx(L)->host;
    push_opt_string(L, f->iface && h->iface_probe_id ? h->iface_probe_id(f->iface) : NULL);
    return 1;
}

static int f_getInterfaceName(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getInterfaceName");
    const engine_host_t *h = lua_api_ctx(L)->host;
    push_opt_string(L, f->iface && h->iface_name ? h->iface_name(f->iface) : NULL);
    return 1;
}

static int f_getInterfaceId(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getInterfaceId");
    const engine_host_t *h = lua_api_ctx(L)->host;
    lua_pushinteger(L, f->iface && h->iface_id ? h->iface_id(f->iface) : -1);
    return 1;
}

/* status key (nil when normal), flow score */
static int f_getStatus(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getStatus");
    push_opt_string(L, f->status_key);
    lua_pushinteger(L, f->flow_score);
    return 2;
}

/* flow, client, server scores */
static int f_getScores(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getScores");
    lua_pushinteger(L, f->flow_score);
    lua_pushinteger(L, f->cli_score);
    lua_pushinteger(L, f->srv_score);
    return 3;
}

static uint32_t opt_score(lua_State *L, int arg)
{
    lua_Integer v = luaL_optinteger(L, arg, 0);
    return v < 0 ? 0 : v > 100000 ? 100000 : (uint32_t)v;
}

static uint32_t add_score(uint32_t a, uint32_t b)
{
    return a + b > 100000 ? 100000 : a + b;
}

/* triggerStatus(status_key, info, flow_score, cli_score, srv_score): sets the flow's status and
 * records a flow alert (entity "flow", value = community id, type = status_key, severity from
 * the flow score); info is a message string or a table stored as the alert's JSON (its
 * `message`/`msg` field, if any, is the message). status_key may also be a table with a
 * `status_key`/`key`/`alert_type` field. Re-triggering the status the flow already has only
 * raises its scores: no new alert, no statusChanged. Returns true when the status changed;
 * the engine then runs statusChanged on the flow's other scripts. */
static int f_triggerStatus(lua_State *L)
{
    cflow_t *f = check_flow(L, "triggerStatus");
    lua_api_ctx_t *ctx = lua_api_ctx(L);
    const char *key = NULL;

    lua_settop(L, 5);
    if (lua_type(L, 1) == LUA_TTABLE) {
        static const char *const fields[] = {"status_key", "key", "alert_type", NULL};
        for (int i = 0; fields[i] && !key; i++) {
            lua_getfield(L, 1, fields[i]);
            if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
                key = lua_tostring(L, -1);
            else
                lua_pop(L, 1);
        }
        if (!key) return luaL_argerror(L, 1, "status table without status_key");
        lua_replace(L, 1);
    } else {
        key = luaL_checkstring(L, 1);
    }
    if (!*key) return luaL_argerror(L, 1, "empty status key");
    uint32_t fs = opt_score(L, 3), cs = opt_score(L, 4), ss = opt_score(L, 5);

    const char *interned = script_engine_intern(ctx->engine, key);
    if (!interned) return luaL_error(L, "flow.triggerStatus: too many distinct status keys");
    if (f->status_key == interned || (f->status_key && strcmp(f->status_key, interned) == 0)) {
        f->flow_score = fs > f->flow_score ? fs : f->flow_score;
        f->cli_score = cs > f->cli_score ? cs : f->cli_score;
        f->srv_score = ss > f->srv_score ? ss : f->srv_score;
        lua_pushboolean(L, 0);
        return 1;
    }

    const char *message = key, *json = "{}";
    int it = lua_type(L, 2);
    if (it == LUA_TSTRING || it == LUA_TNUMBER) {
        message = lua_tostring(L, 2);
    } else if (it == LUA_TTABLE) {
        lua_api_push_json(L, 2);
        json = lua_tostring(L, -1);
        lua_getfield(L, 2, "message");
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            lua_getfield(L, 2, "msg");
        }
        if (lua_isstring(L, -1)) message = lua_tostring(L, -1);
    } else if (it != LUA_TNIL) {
        return luaL_argerror(L, 2, "info must be a string or a table");
    }

    char idbuf[24];
    const char *entity_value = f->community_id;
    if (!entity_value || !*entity_value) {
        snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)f->flow_id);
        entity_value = idbuf;
    }
    alert_t a = {
        .tstamp = ctx->now,
        .entity = "flow",
        .entity_value = entity_value,
        .alert_type = interned,
        .severity = lua_alerts_severity_from_score((int)fs),
        .score = (int)fs,
        .message = message,
        .json = json,
        .kind = ALERT_ONESHOT,
    };
    f->status_key = interned;
    f->flow_score = add_score(f->flow_score, fs);
    f->cli_score = add_score(f->cli_score, cs);
    f->srv_score = add_score(f->srv_score, ss);
    ctx->status_changed = 1;
    lua_api_store_alert(L, &a);
    lua_pushboolean(L, 1);
    return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* A new table with every field (ntopng-style key names); built on each call, so scripts
 * should call it only when they need the whole record. */
static int f_getInfo(lua_State *L)
{
    const cflow_t *f = check_flow(L, "getInfo");
    const engine_host_t *h = lua_api_ctx(L)->host;
    lua_createtable(L, 0, 56);
    set_int(L, "flow_id", (lua_Integer)f->flow_id);
    push_ip(L, f->cli_ip, f->ip_version);
    lua_setfield(L, -2, "cli.ip");
    push_ip(L, f->srv_ip, f->ip_version);
    lua_setfield(L, -2, "srv.ip");
    set_int(L, "cli.port", f->cli_port);
    set_int(L, "srv.port", f->srv_port);
    lua_pushboolean(L, f->cli_local);
    lua_setfield(L, -2, "cli.localhost");
    lua_pushboolean(L, f->srv_local);
    lua_setfield(L, -2, "srv.localhost");
    set_int(L, "ip_version", f->ip_version);
    set_int(L, "proto.l4_id", f->l4_proto);
    const char *l4 = lua_flow_l4_proto_name(f->l4_proto);
    if (l4)
        set_str(L, "proto.l4", l4);
    else
        set_int(L, "proto.l4", f->l4_proto);
    set_str(L, "proto.ndpi", f->l7_proto_name);
    set_str(L, "proto.ndpi_master", f->l7_master_name);
    set_str(L, "proto.ndpi_app", f->l7_app_name);
    set_int(L, "proto.ndpi_master_id", f->l7_master_id);
    set_int(L, "proto.ndpi_app_id", f->l7_app_id);
    set_str(L, "proto.ndpi_cat", f->l7_category);
    set_int(L, "proto.ndpi_cat_id", f->l7_category_id);
    set_str(L, "host_server_name", f->server_name);
    set_int(L, "cli2srv.bytes", (lua_Integer)f->c2s_bytes);
    set_int(L, "srv2cli.bytes", (lua_Integer)f->s2c_bytes);
    set_int(L, "cli2srv.packets", (lua_Integer)f->c2s_packets);
    set_int(L, "srv2cli.packets", (lua_Integer)f->s2c_packets);
    set_int(L, "bytes", (lua_Integer)(f->c2s_bytes + f->s2c_bytes));
    set_int(L, "packets", (lua_Integer)(f->c2s_packets + f->s2c_packets));
    set_num(L, "seen.first", seconds(f->first_ns));
    set_num(L, "seen.last", seconds(f->last_ns));
    set_num(L, "duration", duration(f));
    set_int(L, "risk", (lua_Integer)f->risk);
    set_int(L, "risk_score", f->risk_score);
    set_num(L, "cli.rtt_ms", f->cli_rtt_us / 1000.0);
    set_num(L, "srv.rtt_ms", f->srv_rtt_us / 1000.0);
    set_int(L, "cli2srv.retransmissions", f->c2s_retrans);
    set_int(L, "srv2cli.retransmissions", f->s2c_retrans);
    set_int(L, "cli2srv.tcp_flags", f->c2s_tcp_flags);
    set_int(L, "srv2cli.tcp_flags", f->s2c_tcp_flags);
    set_int(L, "cli2srv.tos", f->c2s_tos);
    set_int(L, "srv2cli.tos", f->s2c_tos);
    set_int(L, "ttl.min", f->min_ttl);
    set_int(L, "ttl.max", f->max_ttl);
    if (f->l4_proto == 1 || f->l4_proto == 58) {
        set_int(L, "icmp.type", f->icmp_type);
        set_int(L, "icmp.code", f->icmp_code);
    }
    set_int(L, "vlan", f->vlan);
    if (f->extra) {
        set_int(L, "vlan_inner", f->extra->vlan_inner);
        if (f->extra->tunnel_type) {
            set_int(L, "tunnel.type", f->extra->tunnel_type);
            set_int(L, "tunnel.id", f->extra->tunnel_id);
            push_ip(L, f->extra->tunnel_src, f->extra->tunnel_ip_version);
            lua_setfield(L, -2, "tunnel.src");
            push_ip(L, f->extra->tunnel_dst, f->extra->tunnel_ip_version);
            lua_setfield(L, -2, "tunnel.dst");
        }
        if (f->extra->has_macs) {
            push_mac(L, f->extra->cli_mac);
            lua_setfield(L, -2, "cli.mac");
            push_mac(L, f->extra->srv_mac);
            lua_setfield(L, -2, "srv.mac");
        }
    }
    set_str(L, "community_id", f->community_id);
    if (f->iface) {
        set_str(L, "interface", h->iface_name ? h->iface_name(f->iface) : NULL);
        set_str(L, "probe_id", h->iface_probe_id ? h->iface_probe_id(f->iface) : NULL);
    }
    set_str(L, "status", f->status_key);
    set_int(L, "score", f->flow_score);
    set_int(L, "cli.score", f->cli_score);
    set_int(L, "srv.score", f->srv_score);
    set_int(L, "end_reason", f->end_reason);
    return 1;
}

static const luaL_Reg flow_funcs[] = {
    {"getFlowId", f_getFlowId},
    {"getClientIp", f_getClientIp},
    {"getServerIp", f_getServerIp},
    {"getClientPort", f_getClientPort},
    {"getServerPort", f_getServerPort},
    {"getIpVersion", f_getIpVersion},
    {"getL4Proto", f_getL4Proto},
    {"getL4ProtoName", f_getL4ProtoName},
    {"getClientToServerBytes", f_getClientToServerBytes},
    {"getServerToClientBytes", f_getServerToClientBytes},
    {"getBytesSent", f_getClientToServerBytes},
    {"getBytesRcvd", f_getServerToClientBytes},
    {"getClientToServerPackets", f_getClientToServerPackets},
    {"getServerToClientPackets", f_getServerToClientPackets},
    {"getPacketsSent", f_getClientToServerPackets},
    {"getPacketsRcvd", f_getServerToClientPackets},
    {"getTotalBytes", f_getTotalBytes},
    {"getBytes", f_getTotalBytes},
    {"getTotalPackets", f_getTotalPackets},
    {"getPackets", f_getTotalPackets},
    {"getFirstSeen", f_getFirstSeen},
    {"getLastSeen", f_getLastSeen},
    {"getDuration", f_getDuration},
    {"getL7ProtoName", f_getL7ProtoName},
    {"getL7MasterProtoName", f_getL7MasterProtoName},
    {"getL7AppProtoName", f_getL7AppProtoName},
    {"getL7MasterId", f_getL7MasterId},
    {"getL7AppId", f_getL7AppId},
    {"getL7Category", f_getL7Category},
    {"getL7CategoryId", f_getL7CategoryId},
    {"getServerName", f_getServerName},
    {"getRisk", f_getRisk},
    {"getRiskScore", f_getRiskScore},
    {"getClientRtt", f_getClientRtt},
    {"getServerRtt", f_getServerRtt},
    {"getRetransmissions", f_getRetransmissions},
    {"getTcpFlags", f_getTcpFlags},
    {"getTos", f_getTos},
    {"getTTL", f_getTTL},
    {"getIcmpTypeCode", f_getIcmpTypeCode},
    {"getVlan", f_getVlan},
    {"getInnerVlan", f_getInnerVlan},
    {"getTunnel", f_getTunnel},
    {"getTunnelEndpoints", f_getTunnelEndpoints},
    {"getMacs", f_getMacs},
    {"getCommunityId", f_getCommunityId},
    {"getProbeId", f_getProbeId},
    {"getInterfaceName", f_getInterfaceName},
    {"getInterfaceId", f_getInterfaceId},
    {"isClientLocal", f_isClientLocal},
    {"isServerLocal", f_isServerLocal},
    {"isEnded", f_isEnded},
    {"getEndReason", f_getEndReason},
    {"getStatus", f_getStatus},
    {"getScore", f_getScore},
    {"getScores", f_getScores},
    {"triggerStatus", f_triggerStatus},
    {"getInfo", f_getInfo},
    {NULL, NULL},
};

int lua_flow_open(lua_State *L)
{
    luaL_newlib(L, flow_funcs);
    lua_setglobal(L, "flow");
    return 0;
}
