/* test_alert_store: the SQLite alert store: concurrent submits, engaged alerts across a reopen,
 * the queue cap, sync, print, and that what it reports stored survives a kill -9.
 * `test_alert_store bench [N]` measures alerts/s stored with 1 and 4 submitting threads. */
#include "alert_store.h"
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static const char *db_names[] = {"crash.db", "conc.db",   "engaged.db", "full.db",
                                 "sync.db",  "errors.db", "print.db",   "bench.db"};

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void remove_db(const char *path)
{
    char p[256];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* One integer from a query on a connection of its own; -1 on error. */
static long long query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    else
        fprintf(stderr, "query \"%s\": %s\n", sql, db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static alert_t make_alert(int64_t ts, const char *entity, const char *value, const char *type,
                          const char *script, const char *message, int kind)
{
    alert_t a = {.tstamp = ts,
                 .entity = entity,
                 .entity_value = value,
                 .probe_id = "probe-1",
                 .interface = "eth0",
                 .alert_type = type,
                 .severity = ALERT_SEVERITY_WARNING,
                 .score = 10,
                 .script_key = script,
                 .subdir = "flow",
                 .message = message,
                 .json = "{}",
                 .kind = kind};
    return a;
}

/* ---- concurrent one-shot submits ---- */

typedef struct submitter {
    alert_store_t *store;
    int id;
    int n;
    int retry; /* retry when the queue is full instead of counting a failure */
    int failures;
    long retries;
} submitter_t;

static void *submit_main(void *arg)
{
    submitter_t *w = arg;
    char value[32], message[64], probe[16];
    snprintf(probe, sizeof probe, "t%d", w->id);
    for (int i = 0; i < w->n; i++) {
        snprintf(value, sizeof value, "10.%d.%d.%d", w->id, (i >> 8) & 255, i & 255);
        snprintf(message, sizeof message, "alert %d from thread %d", i, w->id);
        alert_t a = make_alert(1700000000 + i, "host", value, "test_oneshot", "test_script",
                               message, ALERT_ONESHOT);
        a.probe_id = probe;
        a.json = "{\"i\":1}";
        while (alert_store_submit(w->store, &a) != 0) {
            if (!w->retry) {
                w->failures++;
                break;
            }
            w->retries++;
            sleep_us(50);
        }
    }
    return NULL;
}

/* Runs `threads` submitters of n alerts each; returns the seconds they took. */
static double run_submitters(alert_store_t *st, int threads, int n, int retry, int *failures,
                             long *retries)
{
    pthread_t tid[8];
    submitter_t w[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (submitter_t){.store = st, .id = i, .n = n, .retry = retry};
        pthread_create(&tid[i], NULL, submit_main, &w[i]);
    }
    *failures = 0;
    *retries = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        *failures += w[i].failures;
        *retries += w[i].retries;
    }
    return now_s() - t0;
}

static void test_concurrent(void)
{
    char path[128], err[256] = "";
    int failures;
    long retries;
    alert_store_stats_t s;
    db_path(path, sizeof path, "conc.db");

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    run_submitters(st, 4, 2500, 0, &failures, &retries);
    CHECK_EQ(failures, 0);
    CHECK_EQ(alert_store_sync(st, 10000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.submitted, 10000);
    CHECK_EQ(s.stored, 10000);
    CHECK_EQ(s.dropped, 0);
    CHECK_EQ(s.failed, 0);
    CHECK_EQ(s.errors, 0);
    CHECK_EQ(s.queue_depth, 0);
    /* read while the store is still open: WAL readers see every committed transaction */
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 10000);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE probe_id = 't3'"), 2500);
    CHECK_EQ(query_int(path, "SELECT count(DISTINCT message) FROM alerts"), 10000);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE kind = 'oneshot' AND engaged = 0"
                             " AND last_seen = tstamp AND released_tstamp IS NULL"
                             " AND subdir = 'flow' AND json = '{\"i\":1}'"),
             10000);
    CHECK_EQ(query_int(path, "PRAGMA user_version"), 1);
    alert_store_close(&st);
    CHECK(st == NULL);
    alert_store_close(&st); /* NULL is fine */
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 10000);
}

/* ---- engaged alerts ---- */

static void test_engaged(void)
{
    char path[128], err[256] = "";
    alert_store_stats_t s;
    db_path(path, sizeof path, "engaged.db");

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    alert_t a = make_alert(1000, "host", "10.0.0.1", "threshold_cross", "tscript", "first",
                           ALERT_ENGAGED);
    a.json = "{\"v\":1}";
    CHECK_EQ(alert_store_submit(st, &a), 0);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.0.0.1", "threshold_cross", "tscript"), 1);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.0.0.1", "threshold_cross", "other"), 0);

    alert_t a2 = a;
    a2.tstamp = 1010;
    a2.severity = ALERT_SEVERITY_ERROR;
    a2.score = 80;
    a2.message = "second";
    a2.json = "{\"v\":2}";
    CHECK_EQ(alert_store_submit(st, &a2), 0);

    alert_t b = make_alert(1001, "interface", "eth0", "link_down", "iscript", "down",
                           ALERT_ENGAGED);
    CHECK_EQ(alert_store_submit(st, &b), 0);
    CHECK_EQ(alert_store_is_engaged(st, "interface", "eth0", "link_down", "iscript"), 1);
    CHECK_EQ(alert_store_release(st, "interface", "eth0", "link_down", "iscript", 1020), 0);
    CHECK_EQ(alert_store_is_engaged(st, "interface", "eth0", "link_down", "iscript"), 0);
    /* not engaged: a no-op */
    CHECK_EQ(alert_store_release(st, "host", "10.9.9.9", "nothing", "tscript", 1021), 0);

    CHECK_EQ(alert_store_sync(st, 5000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.submitted, 4);
    CHECK_EQ(s.stored, 2);
    CHECK_EQ(s.updated, 1);
    CHECK_EQ(s.released, 1);
    CHECK_EQ(s.errors, 0);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 2);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE entity_value = '10.0.0.1'"
                             " AND kind = 'engaged' AND engaged = 1 AND tstamp = 1000"
                             " AND last_seen = 1010 AND severity = 5 AND score = 80"
                             " AND message = 'second' AND json = '{\"v\":2}'"
                             " AND released_tstamp IS NULL"),
             1);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE entity_value = 'eth0'"
                             " AND kind = 'engaged' AND engaged = 0 AND released_tstamp = 1020"),
             1);

    /* triggered again after its release: a new row */
    b.tstamp = 1030;
    CHECK_EQ(alert_store_submit(st, &b), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 3);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE engaged = 1"), 2);
    alert_store_close(&st);

    /* the engaged state survives a restart */
    st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.0.0.1", "threshold_cross", "tscript"), 1);
    CHECK_EQ(alert_store_is_engaged(st, "interface", "eth0", "link_down", "iscript"), 1);
    a2.tstamp = 1040;
    a2.message = "third";
    CHECK_EQ(alert_store_submit(st, &a2), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.stored, 0);
    CHECK_EQ(s.updated, 1);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 3);
    CHECK_EQ(query_int(path, "SELECT last_seen FROM alerts WHERE message = 'third'"), 1040);
    CHECK_EQ(alert_store_release(st, "host", "10.0.0.1", "threshold_cross", "tscript", 1050), 0);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.0.0.1", "threshold_cross", "tscript"), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.released, 1);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE entity_value = '10.0.0.1'"
                             " AND engaged = 0 AND released_tstamp = 1050 AND tstamp = 1000"),
             1);
    alert_store_close(&st);

    st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.0.0.1", "threshold_cross", "tscript"), 0);
    CHECK_EQ(alert_store_is_engaged(st, "interface", "eth0", "link_down", "iscript"), 1);
    alert_store_close(&st);
}

/* ---- queue cap and sync ---- */

/* A second connection holds the write lock, so the writer waits in BEGIN (busy_timeout) and
 * the tiny queue fills up. */
static void test_queue_full(void)
{
    char path[128], err[256] = "";
    alert_store_stats_t s;
    sqlite3 *blocker = NULL;
    db_path(path, sizeof path, "full.db");

    alert_store_t *st = alert_store_open(path, 4, err, sizeof err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ(sqlite3_open_v2(path, &blocker, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    int accepted = 0, refused = 0;
    double slowest = 0;
    for (int i = 0; i < 100; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "full %d", i);
        alert_t a = make_alert(2000 + i, "system", "host1", "full", "fscript", msg, ALERT_ONESHOT);
        double t0 = now_s();
        int rc = alert_store_submit(st, &a);
        double dt = now_s() - t0;
        slowest = dt > slowest ? dt : slowest;
        if (rc == 0)
            accepted++;
        else
            refused++;
        if (i == 4)
            sleep_us(100 * 1000); /* lets the writer take a batch and block in BEGIN */
    }
    CHECK(accepted >= 4);
    CHECK(accepted <= 8); /* one batch taken by the blocked writer + a full queue */
    CHECK_EQ(accepted + refused, 100);
    CHECK(slowest < 0.05); /* submit never waits for the writer */
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.dropped, refused);
    CHECK_EQ(s.submitted, accepted);
    CHECK_EQ(s.stored, 0);

    /* still blocked: sync times out */
    double t0 = now_s();
    CHECK_EQ(alert_store_sync(st, 100), -1);
    CHECK(now_s() - t0 >= 0.09);

    CHECK_EQ(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    CHECK_EQ(alert_store_sync(st, 10000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.stored, accepted);
    CHECK_EQ(s.errors, 0);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), accepted);
    alert_store_close(&st);
}

static void test_sync(void)
{
    char path[128], err[256] = "";
    alert_store_stats_t s;
    db_path(path, sizeof path, "sync.db");

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(alert_store_sync(st, 1000), 0); /* nothing queued */
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 100; i++) {
            alert_t a = make_alert(3000 + i, "network", "10.0.0.0/8", "sync", "sscript", "m",
                                   ALERT_ONESHOT);
            CHECK_EQ(alert_store_submit(st, &a), 0);
        }
        CHECK_EQ(alert_store_sync(st, 5000), 0);
        alert_store_get_stats(st, &s);
        CHECK_EQ(s.stored, 100 * round);
        CHECK_EQ(s.queue_depth, 0);
        CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 100 * round);
    }
    /* a lone alert is committed within the batch window without any sync */
    alert_t a = make_alert(4000, "network", "10.0.0.0/8", "sync", "sscript", "late", ALERT_ONESHOT);
    CHECK_EQ(alert_store_submit(st, &a), 0);
    sleep_us(300 * 1000);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE message = 'late'"), 1);
    alert_store_close(&st);
}

/* ---- SQLite errors ---- */

/* Triggers added behind the store's back make chosen inserts fail: RAISE(ABORT) fails one
 * statement, RAISE(ROLLBACK) the whole transaction. The writer counts and goes on, and the
 * engaged state of lost triggers goes back to what the database holds. */
static void test_errors(void)
{
    char path[128], err[256] = "";
    alert_store_stats_t s;
    sqlite3 *other = NULL;
    db_path(path, sizeof path, "errors.db");

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(other,
                          "CREATE TRIGGER poison_abort BEFORE INSERT ON alerts"
                          " WHEN NEW.alert_type = 'poison_abort'"
                          " BEGIN SELECT RAISE(ABORT, 'poisoned'); END;"
                          "CREATE TRIGGER poison_rollback BEFORE INSERT ON alerts"
                          " WHEN NEW.alert_type = 'poison_rollback'"
                          " BEGIN SELECT RAISE(ROLLBACK, 'poisoned'); END;",
                          NULL, NULL, NULL),
             SQLITE_OK);

    alert_t good = make_alert(6000, "host", "10.2.0.1", "good", "escript", "g", ALERT_ONESHOT);
    alert_t abort = make_alert(6001, "host", "10.2.0.2", "poison_abort", "escript", "p",
                               ALERT_ENGAGED);
    CHECK_EQ(alert_store_submit(st, &good), 0);
    CHECK_EQ(alert_store_submit(st, &abort), 0);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.2.0.2", "poison_abort", "escript"), 1);
    CHECK_EQ(alert_store_submit(st, &good), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.stored, 2);
    CHECK_EQ(s.failed, 1);
    CHECK_EQ(s.errors, 1);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.2.0.2", "poison_abort", "escript"), 0);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 2);

    /* one batch holding [engaged, poison_rollback]: the writer is held in BEGIN by `other`
     * while the pilot's batch waits, so both queue up behind it */
    CHECK_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(alert_store_submit(st, &good), 0);
    sleep_us(100 * 1000);
    alert_t eng = make_alert(6002, "host", "10.2.0.3", "eng", "escript", "e", ALERT_ENGAGED);
    alert_t rollback = make_alert(6003, "host", "10.2.0.4", "poison_rollback", "escript", "r",
                                  ALERT_ONESHOT);
    CHECK_EQ(alert_store_submit(st, &eng), 0);
    CHECK_EQ(alert_store_submit(st, &rollback), 0);
    CHECK_EQ(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(alert_store_sync(st, 10000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.stored, 3);
    CHECK_EQ(s.failed, 3); /* the batch was tried twice, then both alerts were lost */
    CHECK_EQ(s.errors, 3);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.2.0.3", "eng", "escript"), 0);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts"), 3);

    /* the writer goes on: the engaged alert triggered again is a new row */
    CHECK_EQ(alert_store_submit(st, &eng), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);
    alert_store_get_stats(st, &s);
    CHECK_EQ(s.stored, 4);
    CHECK_EQ(alert_store_is_engaged(st, "host", "10.2.0.3", "eng", "escript"), 1);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM alerts WHERE engaged = 1"), 1);
    sqlite3_close(other);
    alert_store_close(&st);
}

/* ---- print ---- */

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Prints into a string (caller frees); NULL when alert_store_print fails. */
static char *print_to_string(const char *path, int limit, int json, const char *entity,
                             const char *script)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = alert_store_print(path, limit, json, entity, script, f);
    fclose(f);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* 1 when every line is valid JSON (checked by SQLite's json_valid). */
static int all_lines_json(const char *text)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int ok = 1;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &q, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sqlite3_bind_text(q, 1, p, (int)n, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 1) {
            fprintf(stderr, "not JSON: %.*s\n", (int)n, p);
            ok = 0;
        }
        sqlite3_reset(q);
        p += n + (nl != NULL);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

static void test_print(void)
{
    char path[128], err[256] = "", longmsg[200];
    db_path(path, sizeof path, "print.db");

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    memset(longmsg, 'x', 100);
    strcpy(longmsg + 100, "END");
    alert_t a = make_alert(1700000000, "host", "192.168.1.1", "blacklisted_host", "blacklist",
                           "Host \"evil\"\nreached \xc3\xa9t\xc3\xa9 \xff", ALERT_ONESHOT);
    a.severity = ALERT_SEVERITY_ERROR;
    a.score = 100;
    a.json = "{\"a\": [1, 2], \"s\": \"x\"}";
    alert_t b = make_alert(1700000100, "flow", "1:abc=", "tls_old", "tls_check", longmsg,
                           ALERT_ENGAGED);
    b.json = "not json";
    alert_t c = make_alert(1700000200, "interface", "eth0", "high_traffic", "traffic", "ok",
                           ALERT_ONESHOT);
    c.severity = ALERT_SEVERITY_NOTICE;
    CHECK_EQ(alert_store_submit(st, &a), 0);
    CHECK_EQ(alert_store_submit(st, &b), 0);
    CHECK_EQ(alert_store_submit(st, &c), 0);
    CHECK_EQ(alert_store_sync(st, 5000), 0);

    /* printed while the store is open, as `zflow-collector alerts` would */
    char *t = print_to_string(path, 0, 0, NULL, NULL);
    CHECK(t != NULL);
    if (t) {
        fputs(t, stdout);
        CHECK_EQ(count_lines(t), 4);
        CHECK(strncmp(t, "TIME", 4) == 0);
        CHECK(strstr(t, "2023-11-14T22:13:20Z  error") != NULL);
        CHECK(strstr(t, "blacklisted_host") != NULL);
        CHECK(strstr(t, "192.168.1.1") != NULL);
        CHECK(strstr(t, "Host \"evil\"?reached \xc3\xa9t\xc3\xa9 ?") != NULL);
        CHECK(strstr(t, "xxx...") != NULL); /* the long message is cut */
        CHECK(strstr(t, "END") == NULL);
        char *eth0 = strstr(t, "eth0"), *evil = strstr(t, "evil");
        CHECK(eth0 && evil && eth0 < evil); /* newest first */
        /* aligned: every line has its SEVERITY column at the same offset */
        for (const char *line = t; *line; line = strchr(line, '\n') + 1)
            CHECK(line[20] == ' ' && line[21] == ' ' && line[22] != ' ');
        free(t);
    }

    t = print_to_string(path, 0, 1, NULL, NULL);
    CHECK(t != NULL);
    if (t) {
        fputs(t, stdout);
        CHECK_EQ(count_lines(t), 3);
        CHECK(all_lines_json(t));
        CHECK(strncmp(t, "{\"id\":3,\"tstamp\":1700000200,\"entity\":\"interface\"", 48) == 0);
        CHECK(strstr(t, "\"json\":{\"a\":[1,2],\"s\":\"x\"}") != NULL);
        CHECK(strstr(t, "\"json\":\"not json\"") != NULL);
        CHECK(strstr(t, "\"message\":\"Host \\\"evil\\\"\\nreached \xc3\xa9t\xc3\xa9 \\ufffd\"") !=
              NULL);
        CHECK(strstr(t, "END\"") != NULL); /* JSON lines are not cut */
        CHECK(strstr(t, "\"kind\":\"engaged\",\"engaged\":1") != NULL);
        CHECK(strstr(t, "\"released_tstamp\":null") != NULL);
        CHECK(strstr(t, "\"probe_id\":\"probe-1\",\"interface\":\"eth0\"") != NULL);
        free(t);
    }

    t = print_to_string(path, 0, 1, "flow", NULL);
    CHECK(t && count_lines(t) == 1 && strstr(t, "tls_old"));
    free(t);
    t = print_to_string(path, 0, 1, NULL, "traffic");
    CHECK(t && count_lines(t) == 1 && strstr(t, "high_traffic"));
    free(t);
    t = print_to_string(path, 0, 1, "host", "traffic");
    CHECK(t && count_lines(t) == 0);
    free(t);
    t = print_to_string(path, 2, 1, NULL, NULL);
    CHECK(t && count_lines(t) == 2 && !strstr(t, "blacklisted_host"));
    free(t);
    t = print_to_string(path, 0, 0, "nobody", NULL);
    CHECK(t && count_lines(t) == 1); /* just the header */
    free(t);
    alert_store_close(&st);

    char missing[160];
    db_path(missing, sizeof missing, "missing.db");
    t = print_to_string(missing, 0, 0, NULL, NULL);
    CHECK(t == NULL);
    CHECK(access(missing, F_OK) != 0); /* read-only: not created */
}

/* ---- kill -9 ---- */

/* The child stores K alerts, syncs, reports `stored` and keeps submitting until it is killed
 * in the middle of its work. At least `stored` rows must be in the database afterwards. */
static void test_crash(void)
{
    char path[128], err[256] = "";
    enum { K = 3000 };
    int fds[2];
    db_path(path, sizeof path, "crash.db");
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint64_t stored = 0;
        alert_store_t *st = alert_store_open(path, 1024, err, sizeof err);
        if (!st) {
            fprintf(stderr, "child: %s\n", err);
            (void)!write(fds[1], &stored, sizeof stored);
            _exit(1);
        }
        for (int i = 0;; i++) {
            char msg[32];
            snprintf(msg, sizeof msg, "crash %d", i);
            alert_t a = make_alert(5000 + i, "host", "10.1.1.1", "crash", "cscript", msg,
                                   i % 10 ? ALERT_ONESHOT : ALERT_ENGAGED);
            while (alert_store_submit(st, &a) != 0)
                sleep_us(20);
            if (i == K - 1) {
                alert_store_stats_t s;
                alert_store_sync(st, -1);
                alert_store_get_stats(st, &s);
                stored = s.stored + s.updated;
                (void)!write(fds[1], &stored, sizeof stored);
            }
        }
    }
    close(fds[1]);
    uint64_t stored = 0;
    CHECK_EQ(read(fds[0], &stored, sizeof stored), (long)sizeof stored);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_EQ(stored, K);

    /* every alert reported stored is there: K alerts = rows + re-triggers of the engaged one */
    long long rows = query_int(path, "SELECT count(*) FROM alerts WHERE tstamp < 5000 + 3000");
    long long last = query_int(path, "SELECT max(last_seen) FROM alerts WHERE engaged = 1");
    long long oneshots =
        query_int(path, "SELECT count(*) FROM alerts WHERE kind = 'oneshot' AND tstamp < 8000");
    printf("crash: stored %llu before kill -9; %lld rows in the database, engaged last_seen %lld\n",
           (unsigned long long)stored, query_int(path, "SELECT count(*) FROM alerts"), last);
    CHECK_EQ(oneshots, K - K / 10);
    CHECK_EQ(rows, K - K / 10 + 1);
    CHECK(last >= 5000 + K - 10);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM pragma_integrity_check"
                             " WHERE integrity_check = 'ok'"),
             1);

    alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(alert_store_is_engaged(st, "host", "10.1.1.1", "crash", "cscript"), 1);
        alert_store_close(&st);
    }
}

/* ---- benchmark ---- */

static int bench(int total)
{
    char path[128], err[256] = "";
    db_path(path, sizeof path, "bench.db");
    for (int threads = 1; threads <= 4; threads *= 4) {
        int failures;
        long retries;
        alert_store_stats_t s;
        remove_db(path);
        alert_store_t *st = alert_store_open(path, 0, err, sizeof err);
        if (!st) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        double t0 = now_s();
        double submit_s = run_submitters(st, threads, total / threads, 1, &failures, &retries);
        alert_store_sync(st, -1);
        double all_s = now_s() - t0;
        alert_store_get_stats(st, &s);
        printf("bench: %d thread(s): %llu alerts stored in %.3f s = %.0f alerts/s"
               " (submit phase %.3f s, %ld retries on a full queue, errors %llu)\n",
               threads, (unsigned long long)s.stored, all_s, (double)s.stored / all_s, submit_s,
               retries, (unsigned long long)s.errors);
        alert_store_close(&st);
    }
    remove_db(path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/zflow-alerts-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc;
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        rc = bench(argc > 2 ? atoi(argv[2]) : 200000);
    } else {
        test_crash(); /* first: fork while this process has no other threads */
        test_concurrent();
        test_engaged();
        test_queue_full();
        test_sync();
        test_errors();
        test_print();
        rc = check_report();
    }
    for (size_t i = 0; i < sizeof db_names / sizeof db_names[0]; i++) {
        char path[128];
        db_path(path, sizeof path, db_names[i]);
        remove_db(path);
    }
    rmdir(tmpdir);
    return rc;
}
