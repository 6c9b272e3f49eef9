/* test_script_engine: the Lua user-script engine (collector/script_engine.c and its Lua
 * modules): the contract, the sandbox, the hooks and the flow API. Every test writes its
 * scripts to a fresh temporary install dir whose scripts/lua links to the repo's modules. */
#include "check.h"
#include "script_engine.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef ZFLOW_SCRIPTS_SRC
#error "ZFLOW_SCRIPTS_SRC (the repo's scripts/ dir) must be defined"
#endif

/* The engine treats interfaces as opaque; this is the test's own. */
struct iface {
    int id;
    int is_packet;
    const char *name;
    const char *probe_id;
};

/* ---------------------------------------------------------------- fake host */

#define MAX_ALERTS 64

typedef struct rec_alert {
    char entity[32], value[128], type[64], script[64], subdir[16], message[256], json[512];
    char probe[64], ifname[64];
    int severity, score, kind;
    long long tstamp;
} rec_alert_t;

typedef struct host {
    int n_alerts;
    rec_alert_t alerts[MAX_ALERTS];
    int n_released;
    char released_type[64];
} host_t;

static int host_store(void *ctx, const alert_t *a)
{
    host_t *h = ctx;
    if (h->n_alerts >= MAX_ALERTS) return -1;
    rec_alert_t *r = &h->alerts[h->n_alerts++];
    snprintf(r->entity, sizeof r->entity, "%s", a->entity);
    snprintf(r->value, sizeof r->value, "%s", a->entity_value);
    snprintf(r->type, sizeof r->type, "%s", a->alert_type);
    snprintf(r->script, sizeof r->script, "%s", a->script_key);
    snprintf(r->subdir, sizeof r->subdir, "%s", a->subdir);
    snprintf(r->message, sizeof r->message, "%s", a->message);
    snprintf(r->json, sizeof r->json, "%s", a->json);
    snprintf(r->probe, sizeof r->probe, "%s", a->probe_id);
    snprintf(r->ifname, sizeof r->ifname, "%s", a->interface);
    r->severity = a->severity;
    r->score = a->score;
    r->kind = a->kind;
    r->tstamp = (long long)a->tstamp;
    return 0;
}

static int host_release(void *ctx, const char *entity, const char *value, const char *type,
                        const char *script)
{
    host_t *h = ctx;
    h->n_released++;
    snprintf(h->released_type, sizeof h->released_type, "%s", type);
    return 0;
}

static int host_is_engaged(void *ctx, const char *entity, const char *value, const char *type,
                           const char *script)
{
    host_t *h = ctx;
    for (int i = 0; i < h->n_alerts; i++)
        if (h->alerts[i].kind == ALERT_ENGAGED && strcmp(h->alerts[i].type, type) == 0)
            return h->n_released == 0;
    return 0;
}

static void host_push_stats(void *ctx, void *lua_state, const struct iface *i)
{
    lua_State *L = lua_state;
    lua_newtable(L);
    lua_pushinteger(L, 42);
    lua_setfield(L, -2, "flows");
}

static const char *host_iface_name(const struct iface *i)
{
    return i->name;
}

static int host_iface_id(const struct iface *i)
{
    return i->id;
}

static const char *host_iface_probe(const struct iface *i)
{
    return i->probe_id;
}

static int host_iface_is_packet(const struct iface *i)
{
    return i->is_packet;
}

/* ---------------------------------------------------------------- fixture */

typedef struct fix {
    char root[256];
    char install[300];
    char user[300];
    char data[300];
    char *logbuf;
    size_t loglen;
    FILE *log;
    host_t host;
    engine_config_t cfg;
    const char *user_dirs[1];
} fix_t;

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
    mkdir(buf, 0755);
}

static void write_file(const char *path, const char *text)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    mkdirs(dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* A stock script: <install>/scripts/callbacks/<subdir>/<key>.lua */
static void stock(fix_t *f, const char *subdir, const char *key, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts/callbacks/%s/%s.lua", f->install, subdir, key);
    write_file(path, text);
}

/* A --scripts-dir script: <user>/callbacks/<subdir>/<key>.lua */
static void user(fix_t *f, const char *subdir, const char *key, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/callbacks/%s/%s.lua", f->user, subdir, key);
    write_file(path, text);
}

static void config_file(fix_t *f, const char *json)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts_config.json", f->data);
    write_file(path, json);
}

static void fix_init(fix_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/zflow-se-XXXXXX");
    if (!mkdtemp(f->root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(f->install, sizeof f->install, "%s/install", f->root);
    snprintf(f->user, sizeof f->user, "%s/user", f->root);
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts/callbacks", f->install);
    mkdirs(path);
    mkdirs(f->user);
    mkdirs(f->data);
    snprintf(path, sizeof path, "%s/scripts/lua", f->install);
    if (symlink(ZFLOW_SCRIPTS_SRC "/lua", path) != 0) {
        perror("symlink");
        exit(2);
    }
    f->log = open_memstream(&f->logbuf, &f->loglen);
    f->user_dirs[0] = f->user;
    f->cfg.installdir = f->install;
    f->cfg.user_dirs = f->user_dirs;
    f->cfg.n_user_dirs = 1;
    f->cfg.data_dir = f->data;
    f->cfg.max_errors = 5;
    f->cfg.instr_budget = 1000000;
    f->cfg.mem_limit = 16u << 20;
    f->cfg.local_networks = "10.0.0.0/8,192.168.0.0/16";
    f->cfg.log = f->log;
    f->cfg.host = (engine_host_t){
        .ctx = &f->host,
        .store_alert = host_store,
        .release_alert = host_release,
        .is_engaged = host_is_engaged,
        .push_interface_stats = host_push_stats,
        .iface_name = host_iface_name,
        .iface_id = host_iface_id,
        .iface_probe_id = host_iface_probe,
        .iface_is_packet = host_iface_is_packet,
    };
}

static const char *fix_log(fix_t *f)
{
    fflush(f->log);
    return f->logbuf ? f->logbuf : "";
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void fix_done(fix_t *f)
{
    char cmd[512];
    if (getenv("ZFLOW_TEST_VERBOSE")) /* show what the engine logged */
        fprintf(stderr, "---- engine log\n%s", fix_log(f));
    fclose(f->log);
    free(f->logbuf);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", f->root);
}

static script_engine_t *fix_engine(fix_t *f)
{
    char err[256] = "";
    script_engine_t *e = script_engine_new(&f->cfg, err, sizeof err);
    if (!e) fprintf(stderr, "script_engine_new: %s\n", err);
    return e;
}

/* The listing entry of one script (static storage; NULL when absent). */
static const script_info_t *info(script_engine_t *e, const char *subdir, const char *key)
{
    static script_info_t list[64];
    int n = script_engine_list(e, list, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (strcmp(list[i].subdir, subdir) == 0 && strcmp(list[i].key, key) == 0) return &list[i];
    return NULL;
}

static long long calls_of(script_engine_t *e, const char *subdir, const char *key)
{
    const script_info_t *i = info(e, subdir, key);
    return i ? (long long)i->calls : -1;
}

static long long errors_of(script_engine_t *e, const char *subdir, const char *key)
{
    const script_info_t *i = info(e, subdir, key);
    return i ? (long long)i->errors : -1;
}

static struct iface probe_if = {1, 0, "probe1:eth0", "probe-1"};
static struct iface packet_if = {2, 1, "eth1", ""};

static void make_flow(cflow_t *f, struct iface *ifc)
{
    memset(f, 0, sizeof *f);
    f->flow_id = 77;
    f->iface = ifc;
    f->first_ns = 1000ull * 1000000000ull;
    f->last_ns = 1012ull * 1000000000ull + 500000000ull;
    f->c2s_bytes = 1500;
    f->s2c_bytes = 64000;
    f->c2s_packets = 10;
    f->s2c_packets = 50;
    f->risk = 0x24;
    uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {93, 184, 216, 34};
    memcpy(f->cli_ip, cli, 4);
    memcpy(f->srv_ip, srv, 4);
    f->cli_port = 51000;
    f->srv_port = 443;
    f->ip_version = 4;
    f->l4_proto = 6;
    f->c2s_tcp_flags = 0x1b;
    f->s2c_tcp_flags = 0x1a;
    f->c2s_tos = 0;
    f->s2c_tos = 32;
    f->min_ttl = 52;
    f->max_ttl = 64;
    f->vlan = 10;
    f->l7_master_id = 91;
    f->l7_app_id = 126;
    f->l7_category_id = 5;
    f->risk_score = 20;
    f->cli_rtt_us = 1500;
    f->srv_rtt_us = 25000;
    f->c2s_retrans = 3;
    f->s2c_retrans = 4;
    f->cli_local = 1;
    f->srv_local = 0;
    f->l7_proto_name = "TLS.Google";
    f->l7_master_name = "TLS";
    f->l7_app_name = "Google";
    f->l7_category = "Web";
    f->server_name = "www.example.com";
    f->community_id = "1:abcdef=";
}

/* A flow script counting calls: hooks listed in `hooks` ("protocolDetected" ...). */
static char *counting_script(const char *extra, const char *hooks)
{
    static char buf[4096];
    char hk[2048] = "";
    char copy[512];
    snprintf(copy, sizeof copy, "%s", hooks);
    for (char *h = strtok(copy, ","); h; h = strtok(NULL, ",")) {
        size_t n = strlen(hk);
        snprintf(hk + n, sizeof hk - n, "function s.hooks.%s(now, config) end\n", h);
    }
    snprintf(buf, sizeof buf, "local s = { hooks = {} %s }\n%sreturn s\n", extra, hk);
    return buf;
}

/* ---------------------------------------------------------------- tests */

static void test_contract(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "good", counting_script("", "protocolDetected"));
    stock(&f, "flow", "no_hooks", "return { gui = {} }\n");
    stock(&f, "flow", "empty_hooks", "return { hooks = {} }\n");
    stock(&f, "flow", "hooks_string", "return { hooks = 'flowEnd' }\n");
    stock(&f, "flow", "unknown_hook", "return { hooks = { min = function() end } }\n");
    stock(&f, "flow", "not_function", "return { hooks = { flowEnd = 42 } }\n");
    stock(&f, "flow", "bad_dv_op",
          "return { hooks = { flowEnd = function() end }, default_value = 'k;xx;50' }\n");
    stock(&f, "flow", "bad_dv_shape",
          "return { hooks = { flowEnd = function() end }, default_value = 'k;gt' }\n");
    stock(&f, "flow", "bad_dv_value",
          "return { hooks = { flowEnd = function() end }, default_value = 'k;gt;abc' }\n");
    stock(&f, "flow", "bad_dv_table",
          "return { hooks = { flowEnd = function() end }, "
          "default_value = { operator = 'foo', threshold = 1 } }\n");
    stock(&f, "flow", "bad_dv_nothreshold",
          "return { hooks = { flowEnd = function() end }, default_value = { operator = 'lt' } }\n");
    stock(&f, "flow", "bad_dv_type",
          "return { hooks = { flowEnd = function() end }, default_value = 42 }\n");
    stock(&f, "flow", "bad_bool",
          "return { hooks = { flowEnd = function() end }, packet_interface_only = 'yes' }\n");
    stock(&f, "flow", "bad_gui", "return { hooks = { flowEnd = function() end }, gui = 'x' }\n");
    stock(&f, "flow", "bad_setup", "return { hooks = { flowEnd = function() end }, setup = 1 }\n");
    stock(&f, "flow", "bad_l4",
          "return { hooks = { flowEnd = function() end }, l4_proto = 'xtp' }\n");
    stock(&f, "flow", "bad_period",
          "return { hooks = { flowEnd = function() end }, periodic_update_seconds = -5 }\n");
    stock(&f, "flow", "not_table", "return 42\n");
    stock(&f, "flow", "syntax", "return { hooks = { \n");
    stock(&f, "flow", "raises", "error('boom at load')\n");
    stock(&f, "syslog", "wrong_hook", "return { hooks = { flowEnd = function() end } }\n");
    stock(&f, "flow", "bad name", counting_script("", "flowEnd"));
    stock(&f, "interface", "per_min",
          "return { hooks = { min = function() end, all = function() end } }\n");

    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    static const struct {
        const char *subdir, *key, *why;
    } bad[] = {
        {"flow", "no_hooks", "'hooks' is missing"},
        {"flow", "empty_hooks", "'hooks' is empty"},
        {"flow", "hooks_string", "'hooks' must be a table"},
        {"flow", "unknown_hook", "unknown hook 'min' for flow scripts"},
        {"flow", "not_function", "hook 'flowEnd' must be a function"},
        {"flow", "bad_dv_op", "unknown operator 'xx'"},
        {"flow", "bad_dv_shape", "expected \"<key>;<operator>;<value>\""},
        {"flow", "bad_dv_value", "'threshold' must be a number"},
        {"flow", "bad_dv_table", "unknown operator 'foo'"},
        {"flow", "bad_dv_nothreshold", "'threshold' must be a number"},
        {"flow", "bad_dv_type", "must be a string"},
        {"flow", "bad_bool", "'packet_interface_only' must be a boolean"},
        {"flow", "bad_gui", "'gui' must be a table"},
        {"flow", "bad_setup", "'setup' must be a function"},
        {"flow", "bad_l4", "unknown l4_proto 'xtp'"},
        {"flow", "bad_period", "'periodic_update_seconds' must be a positive integer"},
        {"flow", "not_table", "must return a table"},
        {"flow", "syntax", "syntax.lua"},
        {"flow", "raises", "boom at load"},
        {"syslog", "wrong_hook", "unknown hook 'flowEnd' for syslog scripts"},
        {"flow", "bad name", "bad script name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const script_info_t *in = info(e, bad[i].subdir, bad[i].key);
        CHECK(in != NULL);
        if (!in) continue;
        CHECK_EQ(in->loaded, 0);
        if (!strstr(in->why_not, bad[i].why) || strncmp(in->why_not, "load error: ", 12) != 0)
            fprintf(stderr, "  %s: why_not = \"%s\", wanted \"%s\"\n", bad[i].key, in->why_not,
                    bad[i].why);
        CHECK(strstr(in->why_not, bad[i].why) != NULL);
        /* One log line naming the script and its file. */
        char needle[300];
        snprintf(needle, sizeof needle, "script %s/%s (", bad[i].subdir, bad[i].key);
        CHECK_EQ(count_substr(fix_log(&f), needle), 1);
    }
    const script_info_t *g = info(e, "flow", "good");
    CHECK(g && g->loaded && g->enabled && g->why_not[0] == '\0');
    CHECK_STREQ(g ? g->hooks : NULL, "protocolDetected");
    const script_info_t *pm = info(e, "interface", "per_min");
    CHECK_STREQ(pm ? pm->hooks : NULL, "min,all");
    CHECK(script_engine_has_hook(e, SUBDIR_INTERFACE, "day"));
    CHECK(!script_engine_has_hook(e, SUBDIR_SYSLOG, "handleEvent"));
    CHECK(script_engine_has_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED));
    CHECK(!script_engine_has_flow_hook(e, FLOW_HOOK_FLOW_END));

    /* The good script still runs. */
    cflow_t fl;
    make_flow(&fl, &probe_if);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1001), 1);
    CHECK_EQ(calls_of(e, "flow", "good"), 1);
    script_engine_destroy(&e);
    CHECK(e == NULL);
    script_engine_destroy(&e); /* NULL is fine */
    fix_done(&f);
}

static void test_setup_and_enablement(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "setup_false",
          counting_script(", setup = function() return false end", "flowEnd"));
    stock(&f, "flow", "setup_nil", counting_script(", setup = function() end", "flowEnd"));
    stock(&f, "flow", "setup_true",
          counting_script(", setup = function() return true end", "flowEnd"));
    stock(&f, "flow", "setup_error",
          counting_script(", setup = function() error('nope') end", "flowEnd"));
    stock(&f, "flow", "nedge_only", counting_script(", nedge_only = true", "flowEnd"));
    stock(&f, "flow", "nedge_exclude", counting_script(", nedge_exclude = true", "flowEnd"));
    stock(&f, "flow", "off_by_default", counting_script(", default_enabled = false", "flowEnd"));
    stock(&f, "flow", "pkt_only", counting_script(", packet_interface_only = true", "flowEnd"));
    stock(&f, "flow", "thresh",
          "local s = { hooks = {}, default_value = 'syn_flood;gt;50' }\n"
          "function s.hooks.flowEnd(now, config)\n"
          "  assert(config.enabled == true, 'enabled')\n"
          "  assert(config.key == 'syn_flood', 'key')\n"
          "  assert(config.operator == 'gt', 'operator')\n"
          "  assert(config.threshold == 50 and math.type(config.threshold) == 'integer', 'thr')\n"
          "end\nreturn s\n");
    stock(&f, "flow", "thresh_tbl",
          "local s = { hooks = {}, default_value = { operator = 'lt', threshold = 2.5, items = "
          "{'a'} } }\n"
          "function s.hooks.flowEnd(now, config)\n"
          "  assert(config.operator == 'lt' and config.threshold == 2.5, 'op')\n"
          "  assert(config.items[1] == 'a', 'items')\n"
          "end\nreturn s\n");

    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    const script_info_t *in;
    in = info(e, "flow", "setup_false");
    CHECK(in && in->loaded);
    CHECK_STREQ(in ? in->why_not : NULL, "setup() returned false");
    in = info(e, "flow", "setup_error");
    CHECK(in && strstr(in->why_not, "setup() failed:") && strstr(in->why_not, "nope"));
    in = info(e, "flow", "nedge_only");
    CHECK_STREQ(in ? in->why_not : NULL, "nedge_only: zflow is not nEdge");
    CHECK(in && in->nedge_only);
    in = info(e, "flow", "off_by_default");
    CHECK(in && !in->enabled && strstr(in->why_not, "default_enabled = false"));
    in = info(e, "flow", "pkt_only");
    CHECK_STREQ(in ? in->why_not : NULL, "packet_interface_only: skipped on probe interfaces");
    in = info(e, "flow", "thresh");
    CHECK_STREQ(in ? in->config_json : NULL,
                "{\"enabled\":true,\"key\":\"syn_flood\",\"operator\":\"gt\",\"threshold\":50}");

    /* On a probe interface: everything runnable except pkt_only. */
    cflow_t fl;
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1100), 5);
    CHECK_EQ(calls_of(e, "flow", "setup_false"), 1); /* setup() itself */
    CHECK_EQ(calls_of(e, "flow", "setup_error"), 1); /* the failed setup() call */
    CHECK_EQ(errors_of(e, "flow", "setup_error"), 1);
    CHECK_EQ(calls_of(e, "flow", "setup_nil"), 2); /* setup + flowEnd */
    CHECK_EQ(calls_of(e, "flow", "setup_true"), 2);
    CHECK_EQ(calls_of(e, "flow", "nedge_only"), 0);
    CHECK_EQ(calls_of(e, "flow", "nedge_exclude"), 1);
    CHECK_EQ(calls_of(e, "flow", "off_by_default"), 0);
    CHECK_EQ(calls_of(e, "flow", "pkt_only"), 0);
    CHECK_EQ(calls_of(e, "flow", "thresh"), 1);
    CHECK_EQ(errors_of(e, "flow", "thresh"), 0);
    CHECK_EQ(errors_of(e, "flow", "thresh_tbl"), 0);
    /* flowEnd runs once per flow. */
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1101), 0);
    CHECK(fl.hook_state & CFLOW_ENDED);

    /* On a packet interface pkt_only runs too. */
    make_flow(&fl, &packet_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 1, 1100), 6);
    CHECK_EQ(calls_of(e, "flow", "pkt_only"), 1);

    /* The configuration file enables off_by_default, disables setup_true and overrides
     * thresh's threshold; a reload applies it. */
    config_file(&f, "{\"flow\": {\"off_by_default\": {\"enabled\": true},"
                    " \"setup_true\": {\"enabled\": false},"
                    " \"thresh\": {\"value\": \"syn_flood;gt;80\"},"
                    " \"thresh_tbl\": {\"value\": {\"threshold\": 7}}},"
                    " \"nosuchdir\": {}}");
    stock(&f, "flow", "thresh",
          "local s = { hooks = {}, default_value = 'syn_flood;gt;50' }\n"
          "function s.hooks.flowEnd(now, config)\n"
          "  assert(config.threshold == 80, 'threshold ' .. tostring(config.threshold))\n"
          "end\nreturn s\n");
    stock(&f, "flow", "thresh_tbl",
          "local s = { hooks = {}, default_value = { operator = 'lt', threshold = 2.5 } }\n"
          "function s.hooks.flowEnd(now, config)\n"
          "  assert(config.operator == 'lt' and config.threshold == 7, 'op')\n"
          "end\nreturn s\n");
    char err[256];
    CHECK_EQ(script_engine_reload(e, err, sizeof err), 0);
    CHECK(strstr(fix_log(&f), "unknown subdir 'nosuchdir'") != NULL);
    in = info(e, "flow", "off_by_default");
    CHECK(in && in->enabled && in->why_not[0] == '\0');
    in = info(e, "flow", "setup_true");
    CHECK(in && !in->enabled && strstr(in->why_not, "disabled in the configuration file"));
    CHECK_EQ(calls_of(e, "flow", "setup_true"), 3); /* counters survive the reload */
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1100);
    CHECK_EQ(calls_of(e, "flow", "off_by_default"), 1);
    CHECK_EQ(calls_of(e, "flow", "setup_true"), 3);
    CHECK_EQ(errors_of(e, "flow", "thresh"), 0);
    CHECK_EQ(errors_of(e, "flow", "thresh_tbl"), 0);

    /* A malformed configuration file is logged; defaults are used. */
    config_file(&f, "{\"flow\": {\"off_by_default\": ");
    CHECK_EQ(script_engine_reload(e, err, sizeof err), 0);
    CHECK(strstr(fix_log(&f), "malformed configuration") != NULL);
    in = info(e, "flow", "off_by_default");
    CHECK(in && !in->enabled);
    /* A bad value for one script: logged, that script keeps its defaults. */
    config_file(&f, "{\"flow\": {\"thresh\": {\"value\": \"syn_flood;zz;1\"},"
                    " \"off_by_default\": {\"enabled\": true}}}");
    CHECK_EQ(script_engine_reload(e, err, sizeof err), 0);
    CHECK(strstr(fix_log(&f), "flow/thresh: bad value") != NULL);
    in = info(e, "flow", "thresh");
    CHECK(in && strstr(in->config_json, "\"threshold\":50"));
    in = info(e, "flow", "off_by_default");
    CHECK(in && in->enabled);
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_user_dir_replaces(void)
{
    fix_t f;
    fix_init(&f);
#define WHO(name)                                                                                  \
    "local s = { hooks = {} }\n"                                                                   \
    "function s.hooks.protocolDetected(now)\n"                                                     \
    "  flow.triggerStatus('who', '" name "', 10)\nend\nreturn s\n"
    stock(&f, "flow", "dup", WHO("stock"));
    user(&f, "flow", "dup", WHO("user"));
    user(&f, "flow", "only_user",
         counting_script(", teardown = function() require('alerts_api').store("
                         "{ entity = 'system', entity_value = 'x' }, { alert_type = 'bye' }) end",
                         "protocolDetected"));
    /* user dirs have their own lua/modules on package.path */
    user(&f, "flow", "uses_mod",
         "local m = require 'my_module'\n"
         "return { hooks = { flowEnd = function() assert(m.x == 5) end } }\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/lua/modules/my_module.lua", f.user);
    write_file(path, "return { x = 5 }\n");

    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    const script_info_t *in = info(e, "flow", "dup");
    CHECK(in && strstr(in->path, "/user/callbacks/flow/dup.lua"));
    cflow_t fl;
    make_flow(&fl, &probe_if);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1001), 2);
    CHECK_EQ(f.host.n_alerts, 1);
    CHECK_STREQ(f.host.alerts[0].message, "user");
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1002), 1);
    CHECK_EQ(errors_of(e, "flow", "uses_mod"), 0);
    script_engine_stats_t st;
    script_engine_get_stats(e, &st);
    CHECK_EQ(st.scripts, 3);
    script_engine_destroy(&e);
    CHECK_EQ(f.host.n_alerts, 2); /* teardown() ran at unload */
    CHECK_STREQ(f.host.alerts[1].type, "bye");
    fix_done(&f);
}

static void test_errors_and_disable(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "a_fails",
          "return { hooks = { periodicUpdate = function() error('always') end } }\n");
    stock(&f, "flow", "b_works", counting_script("", "periodicUpdate"));
    stock(&f, "flow", "c_sometimes",
          "local n = 0\nreturn { hooks = { periodicUpdate = function()\n"
          "  n = n + 1; if n % 2 == 0 then error('even') end end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    int total = 0;
    for (int i = 0; i < 10; i++)
        total += script_engine_run_flow_hook(e, FLOW_HOOK_PERIODIC_UPDATE, &fl, 0, 1001 + i);
    CHECK_EQ(total, 5 + 10 + 10);
    CHECK_EQ(calls_of(e, "flow", "a_fails"), 5);
    CHECK_EQ(errors_of(e, "flow", "a_fails"), 5);
    CHECK_EQ(calls_of(e, "flow", "b_works"), 10);
    CHECK_EQ(errors_of(e, "flow", "b_works"), 0);
    CHECK_EQ(errors_of(e, "flow", "c_sometimes"), 5); /* never 5 in a row */
    const script_info_t *in = info(e, "flow", "a_fails");
    CHECK(in && strstr(in->why_not, "disabled after 5 consecutive errors: ") &&
          strstr(in->why_not, "always"));
    in = info(e, "flow", "c_sometimes");
    CHECK(in && in->why_not[0] == '\0');
    const char *log = fix_log(&f);
    CHECK_EQ(count_substr(log, "zflow-collector: script flow/a_fails: disabled after 5 "
                               "consecutive errors: "),
             1);
    /* Errors are logged with script, hook and traceback, rate-limited per script. */
    CHECK(strstr(log, "script flow/a_fails: periodicUpdate: ") != NULL);
    CHECK(strstr(log, "a_fails.lua:1: always") != NULL);
    CHECK(strstr(log, "stack traceback") != NULL);
    CHECK_EQ(count_substr(log, "script flow/a_fails: periodicUpdate: "), 1);
    uint64_t calls, errors;
    script_engine_totals(e, &calls, &errors);
    CHECK_EQ(calls, 25);
    CHECK_EQ(errors, 10);
    script_engine_stats_t st;
    script_engine_get_stats(e, &st);
    CHECK_EQ(st.disabled, 1);
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_sandbox_limits(void)
{
    fix_t f;
    fix_init(&f);
    f.cfg.instr_budget = 200000;
    f.cfg.mem_limit = 8u << 20;
    f.cfg.max_errors = 100;
    stock(&f, "flow", "loop",
          "return { hooks = { protocolDetected = function() while true do end end } }\n");
    stock(&f, "flow", "loop_pcall",
          "return { hooks = { periodicUpdate = function()\n"
          "  while true do pcall(function() while true do end end) end end } }\n");
    stock(&f, "flow", "membomb",
          "return { hooks = { flowEnd = function() local t = {}\n"
          "  for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end end } }\n");
    stock(&f, "flow", "bigstring",
          "return { hooks = { statusChanged = function() local s = string.rep('x', 64 << 20) end } "
          "}\n");
    stock(&f, "flow", "fine", counting_script("", "protocolDetected,periodicUpdate,flowEnd"));
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    time_t t0 = time(NULL);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1001), 2);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PERIODIC_UPDATE, &fl, 0, 1002), 2);
    CHECK(time(NULL) - t0 < 20);
    CHECK_EQ(errors_of(e, "flow", "loop"), 1);
    CHECK_EQ(errors_of(e, "flow", "loop_pcall"), 1);
    CHECK_EQ(errors_of(e, "flow", "fine"), 0);
    const script_info_t *in = info(e, "flow", "loop");
    CHECK(in && in->enabled);
    CHECK(strstr(fix_log(&f), "instruction budget exceeded") != NULL);
    script_engine_stats_t st;
    script_engine_get_stats(e, &st);
    CHECK_EQ(st.budget_exceeded, 2);

    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1003), 2);
    CHECK_EQ(errors_of(e, "flow", "membomb"), 1);
    CHECK(strstr(fix_log(&f), "script flow/membomb: flowEnd: not enough memory") != NULL);
    script_engine_get_stats(e, &st);
    CHECK(st.mem_refused > 0);
    CHECK(st.mem_used <= (8u << 20));

    /* The state is still usable: the same hooks run again on a new flow. */
    make_flow(&fl, &probe_if);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1001), 2);
    CHECK_EQ(calls_of(e, "flow", "fine"), 4);
    CHECK_EQ(errors_of(e, "flow", "fine"), 0);
    CHECK_EQ(errors_of(e, "flow", "loop"), 2);

    /* A single huge allocation fails cleanly too (statusChanged called directly). */
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_STATUS_CHANGED, &fl, 0, 1001), 1);
    CHECK_EQ(errors_of(e, "flow", "bigstring"), 1);
    script_engine_get_stats(e, &st);
    CHECK(st.mem_used <= (8u << 20));
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_tiny_heap(void)
{
    fix_t f;
    fix_init(&f);
    f.cfg.mem_limit = 16 << 10; /* too small for the libraries */
    char err[256] = "";
    script_engine_t *e = script_engine_new(&f.cfg, err, sizeof err);
    CHECK(e == NULL);
    CHECK(strstr(err, "Lua") != NULL);
    fix_done(&f);
}

static void test_time_limit(void)
{
    fix_t f;
    fix_init(&f);
    f.cfg.instr_budget = 1000000000000ull; /* the clock stops it, not the budget */
    f.cfg.time_limit_ms = 200;
    stock(&f, "flow", "costly_c",
          "return { hooks = { flowEnd = function()\n"
          "  local s = string.rep('x', 1 << 20)\n"
          "  while true do local u = s:upper() end end } }\n");
    stock(&f, "flow", "gc",
          "return { hooks = { flowEnd = function()\n"
          "  assert(collectgarbage('count') > 0)\n"
          "  collectgarbage()\n"
          "  assert(not pcall(collectgarbage, 'stop'))\n"
          "end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1001), 2);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(s < 5.0);
    CHECK_EQ(errors_of(e, "flow", "costly_c"), 1);
    CHECK_EQ(errors_of(e, "flow", "gc"), 0);
    CHECK(strstr(fix_log(&f), "costly_c: flowEnd: time limit exceeded (200 ms)") != NULL);
    script_engine_stats_t st;
    script_engine_get_stats(e, &st);
    CHECK_EQ(st.time_exceeded, 1);
    CHECK_EQ(st.budget_exceeded, 0);
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_sandbox_libraries(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "libs",
          "local s = { hooks = {} }\n"
          "function s.hooks.flowEnd(now, config)\n"
          "  assert(io == nil, 'io')\n"
          "  assert(debug == nil, 'debug')\n"
          "  assert(dofile == nil and loadfile == nil, 'dofile/loadfile')\n"
          "  assert(os.execute == nil and os.exit == nil and os.remove == nil, 'os')\n"
          "  assert(os.getenv == nil and os.tmpname == nil, 'os2')\n"
          "  assert(type(os.time()) == 'number' and type(os.clock()) == 'number', 'os.time')\n"
          "  assert(type(os.date('%Y')) == 'string', 'os.date')\n"
          "  assert(string.dump == nil, 'dump')\n"
          "  assert(package.loadlib == nil, 'loadlib')\n"
          "  assert(coroutine == nil, 'coroutine')\n"
          "  assert(load('return 1 + 1')() == 2, 'load text')\n"
          "  local f, err = load('\\27Lua')\n"
          "  assert(f == nil and err:find('binary'), 'load binary: ' .. tostring(err))\n"
          "  local ok = pcall(require, 'os_utils_that_does_not_exist')\n"
          "  assert(not ok, 'require missing')\n"
          "  local cjson = require 'cjson'\n"
          "  assert(cjson.decode('{\"a\":[1,2]}').a[2] == 2, 'cjson')\n"
          "  assert(cjson.encode({1,2}) == '[1,2]', 'cjson encode')\n"
          "  assert(require('cjson.safe').decode('{') == nil, 'cjson.safe')\n"
          "  local dk = require 'dkjson'\n"
          "  assert(dk.decode('{\"b\":true}').b == true, 'dkjson')\n"
          "  local us = require 'user_scripts'\n"
          "  assert(us.threshold_cross({operator='gt', threshold=50}, 51), 'tc gt')\n"
          "  assert(not us.threshold_cross({operator='gt', threshold=50}, 50), 'tc gt2')\n"
          "  assert(us.threshold_cross({operator='lt', threshold=50}, 3), 'tc lt')\n"
          "  assert(us.field_units.seconds ~= nil, 'field_units')\n"
          "  local c = us.getDefaultConfig('k;ge;10')\n"
          "  assert(c.enabled and c.operator == 'ge' and c.threshold == 10, 'getDefaultConfig')\n"
          "  require 'lua_utils'\n"
          "  assert(bytesToSize(1536) == '1.50 KB', bytesToSize(1536))\n"
          "  assert(formatPackets(1234567) == '1,234,567 Pkts', formatPackets(1234567))\n"
          "  assert(#split('a,b,,c', ',') == 4 and starts('abc', 'ab') and ends('abc', 'bc'))\n"
          "  assert(isEmptyString('') and table.len({a=1, b=2}) == 2, 'utils')\n"
          "  local d = ntop.getDirs()\n"
          "  assert(d.installdir and d.workingdir and #d.scriptdirs == 1, 'getDirs')\n"
          "  assert(ntop.isnEdge() == false and ntop.getInfo().product == 'zflow', 'ntop')\n"
          "  assert(ntop.getLocalNetworks()[2] == '192.168.0.0/16', 'local networks')\n"
          "  assert(type(ntop.gettime()) == 'number' and ntop.getticks() > 0, 'time')\n"
          "  leaked_global = 1\n"
          "end\nreturn s\n");
    stock(&f, "flow", "other_env",
          "return { hooks = { flowEnd = function() assert(leaked_global == nil, 'env') end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1001), 2);
    CHECK_EQ(errors_of(e, "flow", "libs"), 0);
    CHECK_EQ(errors_of(e, "flow", "other_env"), 0);
    if (errors_of(e, "flow", "libs") || errors_of(e, "flow", "other_env"))
        fprintf(stderr, "%s", fix_log(&f));
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_filters_and_periodic(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "udp_only", counting_script(", l4_proto = 'udp'", "flowEnd"));
    stock(&f, "flow", "tcp_only", counting_script(", l4_proto = 6", "flowEnd"));
    stock(&f, "flow", "dns_only", counting_script(", l7_proto = 'DNS'", "flowEnd"));
    stock(&f, "flow", "tls_only", counting_script(", l7_proto = 'tls'", "flowEnd"));
    stock(&f, "flow", "google_id", counting_script(", l7_proto = 126", "flowEnd"));
    stock(&f, "flow", "every", counting_script("", "periodicUpdate"));
    stock(&f, "flow", "p60", counting_script(", periodic_update_seconds = 60", "periodicUpdate"));
    stock(&f, "flow", "order",
          "local seen = {}\nlocal s = { hooks = {} }\n"
          "function s.hooks.protocolDetected() assert(not seen.pd and not seen.pu, 'pd first'); "
          "seen.pd = true end\n"
          "function s.hooks.periodicUpdate() assert(seen.pd and not seen.fe, 'pu'); seen.pu = true "
          "end\n"
          "function s.hooks.flowEnd() assert(seen.pd and not seen.fe, 'fe once'); seen = {} end\n"
          "return s\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if); /* TCP, TLS.Google */
    /* periodicUpdate before protocolDetected: protocolDetected runs first. */
    int64_t times[] = {1030, 1060, 1090, 1120, 1130, 1185};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        script_engine_run_flow_hook(e, FLOW_HOOK_PERIODIC_UPDATE, &fl, 0, times[i]);
    CHECK(fl.hook_state & CFLOW_PROTO_DETECTED);
    CHECK_EQ(fl.last_update_s, 1185);
    CHECK_EQ(calls_of(e, "flow", "every"), 6);
    CHECK_EQ(calls_of(e, "flow", "p60"), 3); /* at 1060, 1120, 1185 */
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1190), 0);
    script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1200);
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PERIODIC_UPDATE, &fl, 0, 1300), 0);
    CHECK_EQ(errors_of(e, "flow", "order"), 0);
    CHECK_EQ(calls_of(e, "flow", "order"), 8);
    CHECK_EQ(calls_of(e, "flow", "udp_only"), 0);
    CHECK_EQ(calls_of(e, "flow", "tcp_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "dns_only"), 0);
    CHECK_EQ(calls_of(e, "flow", "tls_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "google_id"), 1);

    make_flow(&fl, &probe_if);
    fl.l4_proto = 17;
    fl.l7_master_name = "DNS";
    fl.l7_app_name = NULL;
    fl.l7_proto_name = "DNS";
    fl.l7_master_id = 5;
    fl.l7_app_id = 0;
    script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1200);
    CHECK_EQ(calls_of(e, "flow", "udp_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "tcp_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "dns_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "tls_only"), 1);
    CHECK_EQ(calls_of(e, "flow", "google_id"), 1);
    CHECK_EQ(errors_of(e, "flow", "order"), 0);
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_trigger_status(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "a_trigger",
          "local s = { hooks = {} }\n"
          "function s.hooks.protocolDetected(now)\n"
          "  assert(flow.getStatus() == nil)\n"
          "  assert(flow.triggerStatus('bad_thing', { message = 'bad flow', n = 3 }, 60, 10, 20))\n"
          "  local st, score = flow.getStatus()\n"
          "  assert(st == 'bad_thing' and score == 60, 'status')\n"
          "  assert(flow.triggerStatus('bad_thing', 'again', 70) == false, 'same status')\n"
          "end\n"
          "function s.hooks.statusChanged() error('must not run for the triggering script') end\n"
          "return s\n");
    stock(&f, "flow", "b_listener",
          "local s = { hooks = {} }\n"
          "function s.hooks.statusChanged(now, config)\n"
          "  assert(flow.getStatus() == 'bad_thing')\n"
          "  flow.triggerStatus('second', 'from statusChanged', 5)\n"
          "end\nreturn s\n");
    stock(&f, "flow", "c_all", "return { hooks = { all = function(now) end } }\n");
    stock(&f, "flow", "d_udp_listener",
          "return { l4_proto = 'udp', hooks = { statusChanged = function() end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    /* a (1) + statusChanged for b and c (2) + c's protocolDetected (1); b's own trigger does
     * not cascade. */
    CHECK_EQ(script_engine_run_flow_hook(e, FLOW_HOOK_PROTOCOL_DETECTED, &fl, 0, 1001), 4);
    CHECK_EQ(errors_of(e, "flow", "a_trigger"), 0);
    CHECK_EQ(calls_of(e, "flow", "a_trigger"), 1);
    CHECK_EQ(calls_of(e, "flow", "b_listener"), 1);
    CHECK_EQ(errors_of(e, "flow", "b_listener"), 0);
    CHECK_EQ(calls_of(e, "flow", "c_all"), 2);
    CHECK_EQ(calls_of(e, "flow", "d_udp_listener"), 0);
    CHECK_EQ(f.host.n_alerts, 2);
    rec_alert_t *a = &f.host.alerts[0];
    CHECK_STREQ(a->entity, "flow");
    CHECK_STREQ(a->value, "1:abcdef=");
    CHECK_STREQ(a->type, "bad_thing");
    CHECK_STREQ(a->script, "a_trigger");
    CHECK_STREQ(a->subdir, "flow");
    CHECK_STREQ(a->message, "bad flow");
    CHECK_STREQ(a->json, "{\"message\":\"bad flow\",\"n\":3}");
    CHECK_STREQ(a->probe, "probe-1");
    CHECK_STREQ(a->ifname, "probe1:eth0");
    CHECK_EQ(a->severity, ALERT_SEVERITY_WARNING);
    CHECK_EQ(a->score, 60);
    CHECK_EQ(a->kind, ALERT_ONESHOT);
    CHECK_EQ(a->tstamp, 1001);
    CHECK_STREQ(f.host.alerts[1].type, "second");
    CHECK_STREQ(f.host.alerts[1].script, "b_listener");
    CHECK_EQ(f.host.alerts[1].severity, ALERT_SEVERITY_NOTICE);
    CHECK_STREQ(fl.status_key, "second");
    CHECK_EQ(fl.flow_score, 70 + 5);
    CHECK_EQ(fl.cli_score, 10);
    CHECK_EQ(fl.srv_score, 20);

    /* Interned status keys survive a reload (flows keep pointing at them). */
    const char *kept = fl.status_key;
    char err[256];
    CHECK_EQ(script_engine_reload(e, err, sizeof err), 0);
    CHECK_STREQ(kept, "second");
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_flow_getters(void)
{
    fix_t f;
    fix_init(&f);
    stock(
        &f, "flow", "getters",
        "local function eq(a, b, what) if a ~= b then error(what .. ': ' .. tostring(a) .. ' ~= ' "
        ".. tostring(b), 2) end end\n"
        "local s = { hooks = {}, l4_proto = 'tcp' }\n"
        "function s.hooks.flowEnd(now, config)\n"
        "  eq(now, 1013, 'now')\n"
        "  eq(flow.getFlowId(), 77, 'id')\n"
        "  eq(flow.getClientIp(), '10.0.0.1', 'cli ip')\n"
        "  eq(flow.getServerIp(), '93.184.216.34', 'srv ip')\n"
        "  eq(flow.getClientPort(), 51000, 'cli port')\n"
        "  eq(flow.getServerPort(), 443, 'srv port')\n"
        "  eq(flow.getIpVersion(), 4, 'ipv')\n"
        "  eq(flow.getL4Proto(), 6, 'l4'); eq(flow.getL4ProtoName(), 'TCP', 'l4 name')\n"
        "  eq(flow.getClientToServerBytes(), 1500, 'c2s bytes'); eq(flow.getBytesRcvd(), 64000, "
        "'rcvd')\n"
        "  eq(flow.getClientToServerPackets(), 10, 'c2s pkts'); "
        "eq(flow.getServerToClientPackets(), 50, 's2c pkts')\n"
        "  eq(flow.getTotalBytes(), 65500, 'bytes'); eq(flow.getTotalPackets(), 60, 'pkts')\n"
        "  eq(flow.getFirstSeen(), 1000, 'first'); eq(flow.getLastSeen(), 1012.5, 'last')\n"
        "  eq(flow.getDuration(), 12.5, 'duration')\n"
        "  eq(flow.getL7ProtoName(), 'TLS.Google', 'l7'); eq(flow.getL7MasterProtoName(), 'TLS', "
        "'master')\n"
        "  eq(flow.getL7AppProtoName(), 'Google', 'app'); eq(flow.getL7MasterId(), 91, 'mid')\n"
        "  eq(flow.getL7AppId(), 126, 'aid'); eq(flow.getL7Category(), 'Web', 'cat')\n"
        "  eq(flow.getL7CategoryId(), 5, 'catid')\n"
        "  eq(flow.getServerName(), 'www.example.com', 'sni')\n"
        "  eq(flow.getRisk(), 0x24, 'risk'); eq(flow.getRiskScore(), 20, 'risk score')\n"
        "  eq(flow.getClientRtt(), 1.5, 'cli rtt'); eq(flow.getServerRtt(), 25, 'srv rtt')\n"
        "  local r1, r2 = flow.getRetransmissions(); eq(r1, 3, 'retr c2s'); eq(r2, 4, 'retr s2c')\n"
        "  local t1, t2 = flow.getTcpFlags(); eq(t1, 0x1b, 'flags'); eq(t2, 0x1a, 'flags2')\n"
        "  local o1, o2 = flow.getTos(); eq(o1, 0, 'tos'); eq(o2, 32, 'tos2')\n"
        "  local l1, l2 = flow.getTTL(); eq(l1, 52, 'ttl'); eq(l2, 64, 'ttl2')\n"
        "  eq(flow.getVlan(), 10, 'vlan')\n"
        "  local tt, tid = flow.getTunnel(); eq(tt, 2, 'tunnel type'); eq(tid, 4242, 'tunnel id')\n"
        "  local ts, td = flow.getTunnelEndpoints(); eq(ts, '192.0.2.1', 'tsrc'); eq(td, "
        "'192.0.2.2', 'tdst')\n"
        "  local m1, m2 = flow.getMacs(); eq(m1, '00:11:22:33:44:55', 'mac')\n"
        "  eq(flow.getCommunityId(), '1:abcdef=', 'cid')\n"
        "  eq(flow.getProbeId(), 'probe-1', 'probe'); eq(flow.getInterfaceName(), 'probe1:eth0', "
        "'ifname')\n"
        "  eq(flow.getInterfaceId(), 1, 'ifid')\n"
        "  eq(flow.isClientLocal(), true, 'cli local'); eq(flow.isServerLocal(), false, 'srv "
        "local')\n"
        "  eq(flow.isEnded(), true, 'ended')\n"
        "  eq(interface.getName(), 'probe1:eth0', 'iface'); eq(interface.isPacketInterface(), "
        "false, 'pkt')\n"
        "  eq(interface.getStats().flows, 42, 'stats')\n"
        "  local i = flow.getInfo()\n"
        "  eq(i['cli.ip'], '10.0.0.1', 'info cli'); eq(i['srv.port'], 443, 'info port')\n"
        "  eq(i['proto.ndpi'], 'TLS.Google', 'info l7'); eq(i['bytes'], 65500, 'info bytes')\n"
        "  eq(i['tunnel.id'], 4242, 'info tunnel'); eq(i['cli.localhost'], true, 'info local')\n"
        "end\nreturn s\n");
    stock(&f, "flow", "ipv6",
          "return { hooks = { flowEnd = function()\n"
          "  assert(flow.getClientIp() == '2001:db8::1', flow.getClientIp())\n"
          "  assert(flow.getServerName() == nil and flow.getTunnel() == nil, 'nil getters')\n"
          "  assert(flow.getL4ProtoName() == 'UDP')\n"
          "end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    cflow_t fl;
    cflow_extra_t ex;
    make_flow(&fl, &probe_if);
    memset(&ex, 0, sizeof ex);
    ex.tunnel_type = 2;
    ex.tunnel_id = 4242;
    ex.tunnel_ip_version = 4;
    uint8_t s[4] = {192, 0, 2, 1}, d[4] = {192, 0, 2, 2},
            mac[6] = {0, 0x11, 0x22, 0x33, 0x44, 0x55};
    memcpy(ex.tunnel_src, s, 4);
    memcpy(ex.tunnel_dst, d, 4);
    memcpy(ex.cli_mac, mac, 6);
    ex.has_macs = 1;
    fl.extra = &ex;
    fl.hook_state = CFLOW_PROTO_DETECTED;
    /* Both run on this TCP flow; ipv6's expectations fail (counted). */
    script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 0, 1013);
    CHECK_EQ(calls_of(e, "flow", "getters"), 1);
    CHECK_EQ(errors_of(e, "flow", "getters"), 0);
    if (errors_of(e, "flow", "getters")) fprintf(stderr, "%s", fix_log(&f));
    CHECK_EQ(errors_of(e, "flow", "ipv6"), 1);

    make_flow(&fl, &packet_if);
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(fl.cli_ip, v6, 16);
    fl.ip_version = 6;
    fl.l4_proto = 17;
    fl.server_name = NULL;
    fl.hook_state = CFLOW_PROTO_DETECTED;
    script_engine_run_flow_hook(e, FLOW_HOOK_FLOW_END, &fl, 1, 1013);
    CHECK_EQ(errors_of(e, "flow", "ipv6"), 1);
    script_engine_destroy(&e);
    fix_done(&f);
}

/* ---------------------------------------------------------------- generic hooks */

static int push_message(void *ctx, void *lua_state, const script_call_t *call)
{
    lua_State *L = lua_state;
    lua_pushstring(L, ctx);
    lua_pushliteral(L, "host1");
    return 2;
}

static int push_params(void *ctx, void *lua_state, const script_call_t *call)
{
    lua_State *L = lua_state;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, call->hook);
    lua_setfield(L, -2, "granularity");
    lua_pushvalue(L, call->config_index);
    lua_setfield(L, -2, "user_script_config");
    lua_pushinteger(L, call->now);
    lua_setfield(L, -2, "when");
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "interface");
    lua_setfield(L, -2, "entity");
    lua_pushstring(L, call->iface ? call->iface->name : "");
    lua_setfield(L, -2, "entity_value");
    lua_setfield(L, -2, "entity_info");
    return 1;
}

static int push_bad(void *ctx, void *lua_state, const script_call_t *call)
{
    return luaL_error(lua_state, "push failed");
}

/* Parses JSON text with Debian's lua-cjson in a plain Lua state: the array length, or -1. */
static int json_array_len(const char *text)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    int n = -1;
    if (luaL_dostring(L,
                      "package.cpath = '/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;' .. package.cpath\n"
                      "return function(t) return #require('cjson').decode(t) end") == LUA_OK) {
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK)
            n = (int)lua_tointeger(L, -1);
        else
            fprintf(stderr, "bad JSON: %s\n", lua_tostring(L, -1));
    }
    lua_close(L);
    return n;
}

static const char design_example[] =
    "local dirs = ntop.getDirs()\n"
    "package.path = dirs.installdir .. \"/scripts/lua/modules/?.lua;\" .. package.path\n"
    "require \"lua_utils\"\n"
    "local json = require (\"dkjson\")\n"
    "local syslog_module = { hooks = {} }\n"
    "function syslog_module.setup() return true end\n"
    "function syslog_module.hooks.handleEvent(message)\n"
    "   local alert = json.decode(message)\n"
    "   tprint(alert)\n"
    "end\n"
    "function syslog_module.teardown() return true end\n"
    "return syslog_module\n";

/* alerts_api's arguments in ntopng's spelling, and its errors (naming the caller's line). */
static void test_alerts_api_spellings(void)
{
    fix_t f;
    fix_init(&f);
    stock(
        &f, "syslog", "spellings",
        "local alerts_api = require 'alerts_api'\n"
        "local function err(f) local ok, e = pcall(f) return ok and 'ok' or e:match(':(%d+: .*)') "
        "end\n"
        "return { hooks = { handleEvent = function(msg)\n"
        "  alerts_api.store({ alert_entity = { entity_type = 'host' }, entity_val = '10.0.0.9' },\n"
        "    { alert_type = { alert_key = 'ntop_style' }, alert_severity = 'warning',\n"
        "      alert_type_params = { k = 1 } }, 1234)\n"
        "  local e = { entity = 'syslog', entity_value = 5 }\n"
        "  local errs = { err(function() alerts_api.store(nil, { alert_type = 't' }) end),\n"
        "    err(function() alerts_api.store(e, 'no table') end),\n"
        "    err(function() alerts_api.store({ entity = 'x' }, { alert_type = 't' }) end),\n"
        "    err(function() alerts_api.store(e, { score = 3 }) end) }\n"
        "  alerts_api.store(e, { type = 'errors', message = table.concat(errs, '|'),\n"
        "    when = 77 })\n"
        "  alerts_api.trigger(e, { alert_type = 'eng' })\n"
        "  assert(alerts_api.isEngaged(e, { alert_type = 'eng' }), 'engaged')\n"
        "end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_SYSLOG, "handleEvent", NULL, 1100, push_message, "x"),
             1);
    CHECK_EQ(errors_of(e, "syslog", "spellings"), 0);
    if (errors_of(e, "syslog", "spellings")) fprintf(stderr, "%s", fix_log(&f));
    CHECK_EQ(f.host.n_alerts, 3);
    CHECK_STREQ(f.host.alerts[0].entity, "host");
    CHECK_STREQ(f.host.alerts[0].value, "10.0.0.9");
    CHECK_STREQ(f.host.alerts[0].type, "ntop_style");
    CHECK_EQ(f.host.alerts[0].severity, ALERT_SEVERITY_WARNING);
    CHECK_STREQ(f.host.alerts[0].json, "{\"k\":1}");
    CHECK_EQ(f.host.alerts[0].tstamp, 1234);
    CHECK_STREQ(f.host.alerts[1].type, "errors");
    CHECK_STREQ(f.host.alerts[1].value, "5");
    CHECK_EQ(f.host.alerts[1].tstamp, 77);
    const char *m = f.host.alerts[1].message;
    CHECK(strncmp(m, "8: alerts_api: entity_info must be a table|", 43) == 0);
    CHECK(strstr(m, "9: alerts_api: type_info must be a table|") != NULL);
    CHECK(strstr(m, "10: alerts_api: entity_info needs entity and entity_value|") != NULL);
    CHECK(strstr(m, "11: alerts_api: type_info needs alert_type") != NULL);
    CHECK_EQ(f.host.alerts[2].kind, ALERT_ENGAGED);
    script_engine_destroy(&e);
    fix_done(&f);
}

static void test_generic_hooks(void)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "syslog", "design_example", design_example);
    stock(&f, "syslog", "outside",
          "local alerts_api = require 'alerts_api'\n"
          "return { hooks = { handleEvent = function(msg, host)\n"
          "  local ok, err = pcall(flow.getFlowId)\n"
          "  alerts_api.store(alerts_api.syslogAlertEntity(host),\n"
          "     { alert_type = 'outside', message = tostring(err), severity = 'info', json = { m = "
          "msg } })\n"
          "  local ok2, err2 = pcall(interface.getName)\n"
          "  assert(not ok2 and err2:find('no current interface'), 'iface outside')\n"
          "  flow.getServerName()\n"
          "end } }\n");
    stock(&f, "interface", "thresholds",
          "local alerts_api = require 'alerts_api'\n"
          "local user_scripts = require 'user_scripts'\n"
          "local s = { hooks = {}, default_value = 'flows;gt;10' }\n"
          "function s.hooks.min(params)\n"
          "  assert(params.granularity == 'min' and params.when == 1200, 'params')\n"
          "  assert(params.entity_info.entity_value == interface.getName(), 'entity')\n"
          "  local n = interface.getStats().flows\n"
          "  local e = alerts_api.interfaceAlertEntity(interface.getName())\n"
          "  local a = { alert_type = 'too_many_flows', score = 100, message = 'flows ' .. n }\n"
          "  if user_scripts.threshold_cross(params.user_script_config, n) then\n"
          "    alerts_api.trigger(e, a)\n"
          "    assert(alerts_api.isEngaged(e, a), 'engaged')\n"
          "  else\n"
          "    alerts_api.release(e, a)\n"
          "  end\n"
          "end\n"
          "function s.teardown() alerts_api.store(alerts_api.systemAlertEntity(), { alert_type = "
          "'round_done' }) end\n"
          "return s\n");
    stock(&f, "interface", "pkt_only",
          "return { packet_interface_only = true, hooks = { min = function() end } }\n");
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return;
    }
    /* The documented example: loads, setup() ok, handleEvent decodes and tprints. */
    const script_info_t *in = info(e, "syslog", "design_example");
    CHECK(in && in->loaded && in->enabled && in->why_not[0] == '\0');
    CHECK(script_engine_has_hook(e, SUBDIR_SYSLOG, "handleEvent"));
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_SYSLOG, "handleEvent", NULL, 1100, push_message,
                                    "{\"event_type\":\"alert\",\"src_ip\":\"10.1.2.3\","
                                    "\"alert\":{\"signature_id\":2100498}}"),
             2);
    CHECK_EQ(errors_of(e, "syslog", "design_example"), 0);
    const char *log = fix_log(&f);
    CHECK(strstr(log, "script syslog/design_example:  table") != NULL);
    CHECK(strstr(log, "[src_ip] string 10.1.2.3") != NULL);
    CHECK(strstr(log, "[alert]\t[signature_id] number 2100498") != NULL);

    /* flow.* outside a flow hook: a clean Lua error, counted. */
    CHECK_EQ(errors_of(e, "syslog", "outside"), 1);
    CHECK_EQ(f.host.n_alerts, 1);
    CHECK_STREQ(f.host.alerts[0].type, "outside");
    CHECK(strstr(f.host.alerts[0].message, "flow.getFlowId: no current flow") != NULL);
    CHECK_STREQ(f.host.alerts[0].entity, "syslog");
    CHECK_STREQ(f.host.alerts[0].value, "host1");
    CHECK_EQ(f.host.alerts[0].severity, ALERT_SEVERITY_INFO);
    CHECK_STREQ(f.host.alerts[0].script, "outside");
    CHECK(strstr(f.host.alerts[0].json, "signature_id") != NULL);
    CHECK(strstr(fix_log(&f), "flow.getServerName: no current flow") != NULL);

    /* Unknown hook for a subdir, and flow via the generic runner: -1. */
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_SYSLOG, "min", NULL, 0, NULL, NULL), -1);
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_FLOW, "flowEnd", NULL, 0, NULL, NULL), -1);

    /* Interface hooks: params table, interface API, engaged alerts, teardown after a round. */
    f.host.n_alerts = 0;
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_INTERFACE, "min", &probe_if, 1200, push_params, NULL),
             1);
    CHECK_EQ(
        script_engine_run_hook(e, SUBDIR_INTERFACE, "min", &packet_if, 1200, push_params, NULL), 2);
    CHECK_EQ(errors_of(e, "interface", "thresholds"), 0);
    if (errors_of(e, "interface", "thresholds")) fprintf(stderr, "%s", fix_log(&f));
    CHECK_EQ(f.host.n_alerts, 2);
    CHECK_STREQ(f.host.alerts[0].type, "too_many_flows");
    CHECK_STREQ(f.host.alerts[0].value, "probe1:eth0");
    CHECK_EQ(f.host.alerts[0].kind, ALERT_ENGAGED);
    CHECK_EQ(f.host.alerts[0].severity, ALERT_SEVERITY_ERROR);
    CHECK_STREQ(f.host.alerts[0].script, "thresholds");
    CHECK_STREQ(f.host.alerts[0].subdir, "interface");
    CHECK_STREQ(f.host.alerts[1].value, "eth1");
    CHECK_EQ(script_engine_end_round(e, SUBDIR_INTERFACE), 1);
    CHECK_EQ(f.host.n_alerts, 3);
    CHECK_STREQ(f.host.alerts[2].type, "round_done");
    CHECK_STREQ(f.host.alerts[2].entity, "system");
    /* A failing push_args counts against the script, nothing else breaks. */
    CHECK_EQ(script_engine_run_hook(e, SUBDIR_INTERFACE, "min", &probe_if, 1200, push_bad, NULL),
             1);
    CHECK_EQ(errors_of(e, "interface", "thresholds"), 1);
    CHECK(strstr(fix_log(&f), "push failed") != NULL);

    /* Listing: text and JSON. */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    script_engine_print_list(e, out, 0);
    fclose(out);
    CHECK(strstr(buf, "SUBDIR") && strstr(buf, "design_example") && strstr(buf, "handleEvent"));
    CHECK(strstr(buf, "packet_interface_only: skipped on probe interfaces") != NULL);
    CHECK(strstr(buf, "{\"enabled\":true,\"key\":\"flows\",\"operator\":\"gt\",\"threshold\":10}"));
    free(buf);
    out = open_memstream(&buf, &len);
    script_engine_print_list(e, out, 1);
    fclose(out);
    CHECK(buf[0] == '[');
    CHECK(strstr(buf, "\"key\":\"thresholds\"") && strstr(buf, "\"hooks\":[\"min\"]"));
    CHECK(strstr(buf, "\"per_hook\":{\"min\":{\"calls\":3,\"errors\":1,") != NULL);
    CHECK(strstr(buf, "\"config\":{\"enabled\":true,\"key\":\"flows\"") != NULL);
    CHECK_EQ(json_array_len(buf), 4);
    free(buf);

    /* teardown() of syslog scripts runs at unload: nothing fails. */
    script_engine_destroy(&e);
    fix_done(&f);
}

/* ---------------------------------------------------------------- throughput */

static double bench(const char *body, int n)
{
    fix_t f;
    fix_init(&f);
    stock(&f, "flow", "bench", body);
    script_engine_t *e = fix_engine(&f);
    CHECK(e != NULL);
    if (!e) {
        fix_done(&f);
        return 0;
    }
    cflow_t fl;
    make_flow(&fl, &probe_if);
    fl.hook_state = CFLOW_PROTO_DETECTED;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long calls = 0;
    for (int i = 0; i < n; i++)
        calls += script_engine_run_flow_hook(e, FLOW_HOOK_PERIODIC_UPDATE, &fl, 0, 1001);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_EQ(calls, n);
    CHECK_EQ(errors_of(e, "flow", "bench"), 0);
    script_engine_destroy(&e);
    fix_done(&f);
    return calls / s;
}

static void test_throughput(void)
{
    const char *env = getenv("ZFLOW_BENCH_CALLS");
    int n = env ? atoi(env) : 200000;
    double trivial =
        bench("local s = { hooks = {} }\n"
              "function s.hooks.periodicUpdate(now, config)\n"
              "  if flow.getTotalBytes() > 1e12 then flow.triggerStatus('huge', 'x', 10) end\n"
              "end\nreturn s\n",
              n);
    double typical =
        bench("local us = require 'user_scripts'\n"
              "local s = { hooks = {}, default_value = 'bytes;gt;1000000000' }\n"
              "function s.hooks.periodicUpdate(now, config)\n"
              "  if flow.getL4Proto() ~= 6 then return end\n"
              "  local r1, r2 = flow.getRetransmissions()\n"
              "  local pk = flow.getTotalPackets()\n"
              "  local name = flow.getL7MasterProtoName()\n"
              "  local rtt = flow.getServerRtt()\n"
              "  if pk > 0 and (r1 + r2) / pk > 0.5 and name ~= 'DNS' and rtt > 100 then\n"
              "    flow.triggerStatus('retransmissions', { r = r1 + r2 }, 50)\n"
              "  end\n"
              "  if us.threshold_cross(config, flow.getTotalBytes()) then\n"
              "    flow.triggerStatus('elephant', 'big', 10)\n"
              "  end\n"
              "end\nreturn s\n",
              n);
    printf("throughput: trivial flow script %.0f hook calls/s, typical (8 getters, threshold) "
           "%.0f calls/s\n",
           trivial, typical);
    CHECK(trivial > 20000); /* sanitizer builds are slow; Release is well above 300k/s */
    CHECK(typical > 20000);
}

int main(void)
{
    test_contract();
    test_setup_and_enablement();
    test_user_dir_replaces();
    test_errors_and_disable();
    test_sandbox_limits();
    test_time_limit();
    test_tiny_heap();
    test_sandbox_libraries();
    test_filters_and_periodic();
    test_trigger_status();
    test_flow_getters();
    test_generic_hooks();
    test_alerts_api_spellings();
    test_throughput();
    return check_report();
}
