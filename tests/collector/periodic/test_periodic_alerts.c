/* test_periodic_alerts: the engaged alerts of periodic scripts: the auto-release at the end of
 * a round of each granularity, explicit releases, cur_alerts by source, state kept without new
 * data, the cap, the granularity tag in the JSON details and the restore from alerts.db. */
#include "check.h"
#include "periodic_alerts.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct released {
    char keys[16][128];
    int n;
} released_t;

static void on_release(void *ctx, const periodic_alert_t *a)
{
    released_t *r = ctx;
    if (r->n < 16)
        snprintf(r->keys[r->n++], sizeof r->keys[0], "%s/%s/%s", a->entity_value, a->alert_type,
                 a->script_key);
}

static void count_one(void *ctx, const periodic_alert_t *a)
{
    (void)a;
    (*(int *)ctx)++;
}

static alert_t mk(const char *value, const char *type, const char *script)
{
    alert_t a = {
        .tstamp = 1000,
        .entity = "interface",
        .entity_value = value,
        .alert_type = type,
        .severity = 4,
        .score = 50,
        .script_key = script,
        .subdir = "interface",
        .message = "m",
        .json = "{}",
        .kind = ALERT_ENGAGED,
    };
    return a;
}

static void test_release(void)
{
    periodic_alerts_t *p = periodic_alerts_new(0);
    released_t r = {0};
    alert_t a = mk("p/eth0", "interface_bytes", "bytes");
    alert_t b = mk("p/eth1", "interface_bytes", "bytes");
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 1, "interface|p/eth0"), 0);
    CHECK_EQ(periodic_alerts_trigger(p, &b, GRAN_MIN, 1, "interface|p/eth1"), 0);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 1, on_release, &r), 0);
    /* round 2 triggers only a */
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 2, "interface|p/eth0"), 0);
    /* another granularity ending does not touch minute alerts */
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_HOUR, 1, on_release, &r), 0);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 2, on_release, &r), 1);
    CHECK_STREQ(r.keys[0], "p/eth1/interface_bytes/bytes");
    CHECK_EQ(periodic_alerts_count(p), 1);

    /* a kept by min and 5mins: released only when neither triggers it */
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_5MINS, 1, "interface|p/eth0"), 0);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 3, on_release, &r), 0);
    CHECK_EQ(periodic_alerts_count(p), 1);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_5MINS, 2, on_release, &r), 1);
    CHECK_EQ(periodic_alerts_count(p), 0);

    /* released by the script: forgotten, not released again */
    r.n = 0;
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 4, "interface|p/eth0"), 0);
    periodic_alerts_forget(p, "interface", "p/eth0", "interface_bytes", "bytes");
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 5, on_release, &r), 0);
    CHECK_EQ(r.n, 0);

    /* cur_alerts by source; touch keeps them through a round without data */
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 6, "snmp|dev_ifidx1"), 0);
    alert_t c = mk("p/eth0", "interface_packets", "packets");
    CHECK_EQ(periodic_alerts_trigger(p, &c, GRAN_MIN, 6, "snmp|dev_ifidx1"), 0);
    int n = 0;
    periodic_alerts_each_of(p, "snmp|dev_ifidx1", count_one, &n);
    CHECK_EQ(n, 2);
    n = 0;
    periodic_alerts_each_of(p, "snmp|dev_ifidx2", count_one, &n);
    CHECK_EQ(n, 0);
    periodic_alerts_touch(p, "snmp|dev_ifidx1", GRAN_MIN, 7);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 7, on_release, &r), 0);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 8, on_release, &r), 2);
    periodic_alerts_destroy(&p);
    CHECK(p == NULL);
    periodic_alerts_destroy(&p);
}

static void test_cap(void)
{
    periodic_alerts_t *p = periodic_alerts_new(2);
    alert_t a = mk("a", "t", "s"), b = mk("b", "t", "s"), c = mk("c", "t", "s");
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 1, "x"), 0);
    CHECK_EQ(periodic_alerts_trigger(p, &b, GRAN_MIN, 1, "x"), 0);
    CHECK_EQ(periodic_alerts_trigger(p, &c, GRAN_MIN, 1, "x"), -1);
    CHECK_EQ(periodic_alerts_trigger(p, &a, GRAN_MIN, 2, "x"), 0); /* known: refreshed */
    CHECK_EQ(periodic_alerts_refused(p), 1);
    CHECK_EQ(periodic_alerts_count(p), 2);
    periodic_alerts_destroy(&p);
}

static void test_tag_json(void)
{
    char *s = periodic_alerts_tag_json("{}", "min");
    CHECK_STREQ(s, "{\"granularity\":\"min\"}");
    free(s);
    s = periodic_alerts_tag_json("  {\"a\":1}", "hour");
    CHECK_STREQ(s, "{\"granularity\":\"hour\",\"a\":1}");
    free(s);
    s = periodic_alerts_tag_json("{ }", "day");
    CHECK_STREQ(s, "{\"granularity\":\"day\" }");
    free(s);
    s = periodic_alerts_tag_json("[1,2]", "min");
    CHECK_STREQ(s, "[1,2]");
    free(s);
    s = periodic_alerts_tag_json(NULL, "min");
    CHECK_STREQ(s, "{\"granularity\":\"min\"}");
    free(s);
}

static unsigned mask_of(void *ctx, const char *subdir, const char *script)
{
    (void)ctx;
    (void)subdir;
    return strcmp(script, "hourly") == 0 ? 1u << GRAN_HOUR : 0;
}

static void test_load(void)
{
    char dir[] = "/tmp/zflow-periodic-alerts-XXXXXX", path[128], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/alerts.db", dir);
    periodic_alerts_t *p = periodic_alerts_new(0);
    CHECK_EQ(periodic_alerts_load(p, path, mask_of, NULL, err, sizeof err), 0); /* no file */
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db,
                          "CREATE TABLE alerts (id INTEGER PRIMARY KEY, tstamp INTEGER, entity "
                          "TEXT, entity_value TEXT, probe_id TEXT, interface TEXT, alert_type "
                          "TEXT, severity INTEGER, score INTEGER, script_key TEXT, subdir TEXT, "
                          "message TEXT, json TEXT, kind TEXT, engaged INTEGER, last_seen "
                          "INTEGER, released_tstamp INTEGER);"
                          "INSERT INTO alerts (tstamp, entity, entity_value, alert_type, "
                          "severity, score, script_key, subdir, message, json, kind, engaged, "
                          "last_seen) VALUES"
                          " (10, 'network', '10.0.0.0/8', 'network_ingress', 4, 50, 'ingress',"
                          "  'network', 'm1', '{\"granularity\":\"5mins\",\"v\":1}', 'engaged',"
                          "  1, 20),"
                          " (11, 'system', 'system', 'x', 4, 50, 'hourly', 'system', 'm2',"
                          "  'not json', 'engaged', 1, 21),"
                          " (12, 'system', 'system', 'y', 4, 50, 'gone', 'system', 'm3', '{}',"
                          "  'engaged', 1, 22),"
                          " (13, 'flow', '1:abc', 'z', 4, 50, 'f', 'flow', 'm4', '{}',"
                          "  'engaged', 1, 23),"
                          " (14, 'network', '10.0.0.0/8', 'network_egress', 4, 50, 'egress',"
                          "  'network', 'm5', '{\"granularity\":\"min\"}', 'engaged', 0, 24);",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ(periodic_alerts_load(p, path, mask_of, NULL, err, sizeof err), 3);
    int n = 0;
    periodic_alerts_each_of(p, "network|10.0.0.0/8", count_one, &n);
    CHECK_EQ(n, 1);
    released_t r = {0};
    /* 'gone' (no granularity, script unknown to mask_of): every granularity keeps it */
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_MIN, 1, on_release, &r), 0);
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_5MINS, 1, on_release, &r), 1);
    CHECK_STREQ(r.keys[0], "10.0.0.0/8/network_ingress/ingress");
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_HOUR, 1, on_release, &r), 1);
    CHECK_STREQ(r.keys[1], "system/x/hourly");
    CHECK_EQ(periodic_alerts_end_round(p, GRAN_DAY, 1, on_release, &r), 1);
    CHECK_STREQ(r.keys[2], "system/y/gone");
    periodic_alerts_destroy(&p);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_release();
    test_cap();
    test_tag_json();
    test_load();
    return check_report();
}
