/* alert_store: alerts in SQLite (WAL), written by one writer thread fed through a bounded queue;
 * the schema is documented in collector/README.md ("Alert database"). */
#include "alert_store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALERT_STORE_SCHEMA_VERSION  1
#define ALERT_STORE_DEFAULT_QUEUE   65536
#define ALERT_STORE_BATCH_MAX       4096          /* alerts per transaction */
#define ALERT_STORE_BATCH_MS        50            /* longest wait for a batch to fill */
#define ALERT_STORE_BUSY_MS         5000          /* busy_timeout against other connections */
#define ALERT_STORE_MAX_ALERT_BYTES (1024 * 1024) /* all strings of one alert together */
#define ALERT_STORE_MAX_ENGAGED     (1u << 20)    /* alerts engaged at the same time */
#define ALERT_STORE_SYNC_FOREVER_MS (1000 * 1000 * 1000)

/* Table output of alert_store_print: widest cell per column, in characters. */
#define PRINT_ENTITY_W  16
#define PRINT_VALUE_W   40
#define PRINT_TYPE_W    32
#define PRINT_SCRIPT_W  24
#define PRINT_MESSAGE_W 60

#define NS_PER_MS 1000000L

/* WAL + synchronous=NORMAL: COMMIT returns once the transaction is in the WAL file (the OS page
 * cache), without fsync. That survives a kill -9 of this process; only an OS crash or power
 * loss can take back the newest transactions (the database stays consistent). */
static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS alerts ("
    " id INTEGER PRIMARY KEY,"
    " tstamp INTEGER NOT NULL,"
    " entity TEXT NOT NULL,"
    " entity_value TEXT NOT NULL,"
    " probe_id TEXT NOT NULL DEFAULT '',"
    " interface TEXT NOT NULL DEFAULT '',"
    " alert_type TEXT NOT NULL,"
    " severity INTEGER NOT NULL,"
    " score INTEGER NOT NULL,"
    " script_key TEXT NOT NULL,"
    " subdir TEXT NOT NULL DEFAULT '',"
    " message TEXT NOT NULL DEFAULT '',"
    " json TEXT NOT NULL DEFAULT '{}',"
    " kind TEXT NOT NULL CHECK (kind IN ('oneshot', 'engaged')),"
    " engaged INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL,"
    " released_tstamp INTEGER);"
    "CREATE INDEX IF NOT EXISTS alerts_tstamp ON alerts (tstamp);"
    "CREATE INDEX IF NOT EXISTS alerts_entity ON alerts (entity, entity_value);"
    "CREATE INDEX IF NOT EXISTS alerts_engaged ON alerts (engaged) WHERE engaged = 1;"
    "CREATE TABLE IF NOT EXISTS applied ("
    " probe_id TEXT NOT NULL, run_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " tstamp INTEGER NOT NULL, PRIMARY KEY (probe_id, run_id, seq)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

static const char *const insert_sql =
    "INSERT INTO alerts (tstamp, entity, entity_value, probe_id, interface, alert_type,"
    " severity, score, script_key, subdir, message, json, kind, engaged, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?1)";
static const char *const retrigger_sql =
    "UPDATE alerts SET last_seen = ?1, severity = ?2, score = ?3, message = ?4, json = ?5"
    " WHERE id = ?6 AND engaged = 1";
static const char *const release_sql =
    "UPDATE alerts SET engaged = 0, released_tstamp = ?1 WHERE id = ?2 AND engaged = 1";
static const char *const load_sql =
    "SELECT id, entity, entity_value, alert_type, script_key FROM alerts WHERE engaged = 1"
    " ORDER BY id";
static const char *const print_sql =
    "SELECT id, tstamp, entity, entity_value, probe_id, interface, alert_type, severity, score,"
    " script_key, subdir, message, json, kind, engaged, last_seen, released_tstamp,"
    " CASE WHEN json_valid(json) THEN json(json) END"
    " FROM alerts WHERE (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR script_key = ?2)"
    " ORDER BY tstamp DESC, id DESC LIMIT ?3";

enum op_type { OP_ONESHOT, OP_ENGAGE, OP_RELEASE, OP_MARK };

#define APPLIED_KEEP_S 3600 /* applied-batch marks older than this are pruned at open */

enum op_result { RES_NONE, RES_STORED, RES_UPDATED, RES_RELEASED, RES_LOST };

/* Where a SQLite error happened; each (stage, primary result code) is logged once. */
enum stage { ST_BEGIN, ST_INSERT, ST_RETRIGGER, ST_RELEASE, ST_COMMIT, ST_ROLLBACK, ST_COUNT };

static const char *const stage_names[ST_COUNT] = {
    "BEGIN", "INSERT", "UPDATE (re-trigger)", "UPDATE (release)", "COMMIT", "ROLLBACK"};

/* One queued trigger or release, with its strings in one allocation. key[] holds
 * "entity\0entity_value\0alert_type\0script_key\0" (the engaged-alert key, keylen bytes), then
 * the other strings. */
typedef struct op {
    int type;   /* enum op_type */
    uint32_t group_left; /* ops of the same group after this one: a group commits whole */
    uint64_t run_id, seq; /* OP_MARK: the batch (probe_id in `entity`) */
    int result; /* enum op_result, set by the writer */
    int64_t tstamp;
    int severity;
    int score;
    uint64_t hash; /* of the key */
    size_t keylen;
    const char *entity, *entity_value, *alert_type, *script_key; /* point into key[] */
    const char *probe_id, *interface, *subdir, *message, *json;
    char key[];
} op_t;

/* Chained hash map from an engaged-alert key to a value (a row id). */
typedef struct knode {
    struct knode *next;
    uint64_t hash;
    int64_t value;
    size_t keylen;
    char key[];
} knode_t;

typedef struct keymap {
    knode_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
} keymap_t;

/* A change of the writer's map, undone when its transaction is rolled back. */
typedef struct undo {
    const op_t *op;
    int had;
    int64_t old;
} undo_t;

struct alert_store {
    char *path;
    sqlite3 *db; /* used by the writer thread only once it runs */
    sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_insert, *st_retrigger, *st_release,
        *st_applied;
    pthread_t writer;
    int writer_started;
    int sync_inited;

    /* Shared with the submitting threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work; /* to the writer: alerts queued, flush or stop */
    pthread_cond_t done; /* from the writer: a batch is finished */
    op_t **ring;
    size_t cap, head, count;
    size_t batch_max;
    uint64_t seq_queued; /* operations ever queued */
    uint64_t seq_done;   /* operations the writer has finished (committed or lost) */
    int flush, stop;
    keymap_t engaged; /* engaged keys as of the tail of the queue */
    alert_store_stats_t st;
    int logged_drop;

    /* The writer thread's own. */
    keymap_t rows; /* engaged key -> row id, as in the database */
    op_t **batch;
    undo_t *undo;
    size_t nundo;
    uint64_t logged[ST_COUNT][4]; /* bit per primary result code */
};

/* ---- small helpers ---- */

static const char *nz(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void set_err(char *err, size_t errlen, const char *what, const char *path, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "alert_store: %s: %s%s%s", path, what, why ? ": " : "",
                 why ? why : "");
}

static struct timespec deadline_after_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * NS_PER_MS;
    if (ts.tv_nsec >= 1000 * NS_PER_MS) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000 * NS_PER_MS;
    }
    return ts;
}

/* Copies the alert's strings (NULL reads as "", json as "{}"). NULL with errno = EMSGSIZE when
 * they exceed ALERT_STORE_MAX_ALERT_BYTES, ENOMEM when out of memory. */
static op_t *op_new(int type, const alert_t *a)
{
    const char *src[9] = {nz(a->entity, ""),     nz(a->entity_value, ""), nz(a->alert_type, ""),
                          nz(a->script_key, ""), nz(a->probe_id, ""),     nz(a->interface, ""),
                          nz(a->subdir, ""),     nz(a->message, ""),      nz(a->json, "{}")};
    size_t len[9], total = 0;
    for (int i = 0; i < 9; i++) {
        len[i] = strlen(src[i]);
        total += len[i] + 1;
    }
    if (total > ALERT_STORE_MAX_ALERT_BYTES) {
        errno = EMSGSIZE;
        return NULL;
    }
    op_t *op = malloc(sizeof *op + total);
    if (!op) {
        errno = ENOMEM;
        return NULL;
    }
    const char **dst[9] = {&op->entity,     &op->entity_value, &op->alert_type,
                           &op->script_key, &op->probe_id,     &op->interface,
                           &op->subdir,     &op->message,      &op->json};
    char *p = op->key;
    for (int i = 0; i < 9; i++) {
        memcpy(p, src[i], len[i] + 1);
        *dst[i] = p;
        p += len[i] + 1;
        if (i == 3)
            op->keylen = (size_t)(p - op->key);
    }
    op->type = type;
    op->result = RES_NONE;
    op->tstamp = a->tstamp;
    op->severity = a->severity;
    op->score = a->score;
    op->hash = hash_bytes(op->key, op->keylen);
    return op;
}

/* ---- keymap ---- */

static int keymap_init(keymap_t *m, size_t nbuckets)
{
    m->buckets = calloc(nbuckets, sizeof *m->buckets);
    m->nbuckets = nbuckets;
    m->count = 0;
    return m->buckets ? 0 : -1;
}

static void keymap_free(keymap_t *m)
{
    for (size_t i = 0; m->buckets && i < m->nbuckets; i++) {
        knode_t *n = m->buckets[i];
        while (n) {
            knode_t *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->count = 0;
}

static knode_t *keymap_find(const keymap_t *m, const op_t *k)
{
    for (knode_t *n = m->buckets[k->hash & (m->nbuckets - 1)]; n; n = n->next)
        if (n->hash == k->hash && n->keylen == k->keylen && !memcmp(n->key, k->key, k->keylen))
            return n;
    return NULL;
}

static void keymap_grow(keymap_t *m)
{
    size_t nb = m->nbuckets * 2;
    knode_t **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->nbuckets; i++) {
        knode_t *n = m->buckets[i];
        while (n) {
            knode_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

/* Sets key -> value, adding the key if needed. 0, or -1 when out of memory. */
static int keymap_put(keymap_t *m, const op_t *k, int64_t value)
{
    knode_t *n = keymap_find(m, k);
    if (n) {
        n->value = value;
        return 0;
    }
    n = malloc(sizeof *n + k->keylen);
    if (!n)
        return -1;
    n->hash = k->hash;
    n->value = value;
    n->keylen = k->keylen;
    memcpy(n->key, k->key, k->keylen);
    n->next = m->buckets[k->hash & (m->nbuckets - 1)];
    m->buckets[k->hash & (m->nbuckets - 1)] = n;
    if (++m->count > m->nbuckets)
        keymap_grow(m);
    return 0;
}

static void keymap_del(keymap_t *m, const op_t *k)
{
    for (knode_t **pp = &m->buckets[k->hash & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        knode_t *n = *pp;
        if (n->hash == k->hash && n->keylen == k->keylen && !memcmp(n->key, k->key, k->keylen)) {
            *pp = n->next;
            free(n);
            m->count--;
            return;
        }
    }
}

/* ---- the writer thread ---- */

/* Counts a SQLite error and logs the first one of its (stage, code) with context. */
static void store_error(alert_store_t *s, enum stage stage, int rc, const op_t *op)
{
    int code = rc & 0xff;
    uint64_t bit = 1ull << (code & 63);
    pthread_mutex_lock(&s->mu);
    s->st.errors++;
    pthread_mutex_unlock(&s->mu);
    if (s->logged[stage][code >> 6] & bit)
        return;
    s->logged[stage][code >> 6] |= bit;
    if (op)
        fprintf(stderr,
                "alert_store: %s: %s failed: %s (%s) for alert %s/%s %s from script %s;"
                " further errors of this kind only counted\n",
                s->path, stage_names[stage], sqlite3_errmsg(s->db), sqlite3_errstr(rc),
                op->entity, op->entity_value, op->alert_type, op->script_key);
    else
        fprintf(stderr,
                "alert_store: %s: %s failed: %s (%s); further errors of this kind only counted\n",
                s->path, stage_names[stage], sqlite3_errmsg(s->db), sqlite3_errstr(rc));
}

/* Runs a statement without result rows; returns its sqlite3_step() code. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

static void rows_put(alert_store_t *s, const op_t *op, int64_t id)
{
    knode_t *n = keymap_find(&s->rows, op);
    undo_t u = {op, n != NULL, n ? n->value : 0};
    if (keymap_put(&s->rows, op, id) != 0) {
        fprintf(stderr, "alert_store: %s: out of memory for engaged alert %s/%s %s\n", s->path,
                op->entity, op->entity_value, op->alert_type);
        return;
    }
    s->undo[s->nundo++] = u;
}

static void rows_del(alert_store_t *s, const op_t *op, int64_t id)
{
    undo_t u = {op, 1, id};
    keymap_del(&s->rows, op);
    s->undo[s->nundo++] = u;
}

/* Takes back the writer map's changes of a rolled-back transaction. */
static void rows_undo(alert_store_t *s)
{
    while (s->nundo > 0) {
        const undo_t *u = &s->undo[--s->nundo];
        if (u->had)
            (void)keymap_put(&s->rows, u->op, u->old);
        else
            keymap_del(&s->rows, u->op);
    }
}

/* Inserts the op as a new row; 0, or -1 (counted). */
static int row_insert(alert_store_t *s, const op_t *op, int engaged)
{
    sqlite3_stmt *q = s->st_insert;
    sqlite3_bind_int64(q, 1, op->tstamp);
    sqlite3_bind_text(q, 2, op->entity, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, op->entity_value, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, op->probe_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, op->interface, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, op->alert_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 7, op->severity);
    sqlite3_bind_int(q, 8, op->score);
    sqlite3_bind_text(q, 9, op->script_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 10, op->subdir, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 11, op->message, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 12, op->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 13, engaged ? "engaged" : "oneshot", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 14, engaged);
    int rc = step_done(q);
    if (rc != SQLITE_DONE) {
        store_error(s, ST_INSERT, rc, op);
        return -1;
    }
    return 0;
}

/* Applies one op inside the open transaction and sets op->result. */
static void op_apply(alert_store_t *s, op_t *op)
{
    knode_t *n = op->type == OP_ONESHOT ? NULL : keymap_find(&s->rows, op);
    int rc;

    op->result = RES_LOST;
    switch (op->type) {
    case OP_ONESHOT:
        if (row_insert(s, op, 0) == 0)
            op->result = RES_STORED;
        return;
    case OP_ENGAGE:
        if (n) {
            int64_t id = n->value;
            sqlite3_stmt *q = s->st_retrigger;
            sqlite3_bind_int64(q, 1, op->tstamp);
            sqlite3_bind_int(q, 2, op->severity);
            sqlite3_bind_int(q, 3, op->score);
            sqlite3_bind_text(q, 4, op->message, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 5, op->json, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 6, id);
            rc = step_done(q);
            if (rc != SQLITE_DONE) {
                store_error(s, ST_RETRIGGER, rc, op);
                return;
            }
            if (sqlite3_changes(s->db) == 1) {
                op->result = RES_UPDATED;
                return;
            }
            rows_del(s, op, id); /* the row went away (deleted by hand): engage anew */
        }
        if (row_insert(s, op, 1) == 0) {
            rows_put(s, op, sqlite3_last_insert_rowid(s->db));
            op->result = RES_STORED;
        }
        return;
    case OP_MARK:
        sqlite3_bind_text(s->st_applied, 1, op->entity, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s->st_applied, 2, (int64_t)op->run_id);
        sqlite3_bind_int64(s->st_applied, 3, (int64_t)op->seq);
        sqlite3_bind_int64(s->st_applied, 4, op->tstamp);
        rc = step_done(s->st_applied);
        if (rc != SQLITE_DONE) {
            store_error(s, ST_INSERT, rc, op);
            return;
        }
        op->result = RES_NONE;
        return;
    case OP_RELEASE:
        if (!n) {
            op->result = RES_NONE;
            return;
        }
        sqlite3_bind_int64(s->st_release, 1, op->tstamp);
        sqlite3_bind_int64(s->st_release, 2, n->value);
        rc = step_done(s->st_release);
        if (rc != SQLITE_DONE) {
            store_error(s, ST_RELEASE, rc, op);
            return;
        }
        op->result = sqlite3_changes(s->db) == 1 ? RES_RELEASED : RES_NONE;
        rows_del(s, op, n->value);
        return;
    }
}

/* Applies the ops in one transaction. 0 when committed (single ops may still be RES_LOST), -1
 * when the whole transaction was rolled back. */
static int batch_run(alert_store_t *s, op_t **ops, size_t n)
{
    int rc;

    s->nundo = 0;
    if (!sqlite3_get_autocommit(s->db)) /* left open by a failed ROLLBACK */
        (void)step_done(s->st_rollback);
    rc = step_done(s->st_begin);
    if (rc != SQLITE_DONE) {
        store_error(s, ST_BEGIN, rc, NULL);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        op_apply(s, ops[i]);
        if (ops[i]->result == RES_LOST && sqlite3_get_autocommit(s->db))
            goto fail; /* SQLite rolled the transaction back by itself */
    }
    rc = step_done(s->st_commit);
    if (rc != SQLITE_DONE) {
        store_error(s, ST_COMMIT, rc, NULL);
        goto fail;
    }
    s->nundo = 0;
    return 0;
fail:
    if (!sqlite3_get_autocommit(s->db)) {
        rc = step_done(s->st_rollback);
        if (rc != SQLITE_DONE)
            store_error(s, ST_ROLLBACK, rc, NULL);
    }
    rows_undo(s);
    return -1;
}

/* After lost triggers or releases, sets the caller-side state of their keys back to what the
 * database holds, unless more ops for that key are still queued (they decide it then). */
static void reconcile_lost(alert_store_t *s, op_t **ops, size_t n)
{
    keymap_t lost;
    if (keymap_init(&lost, 64) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (ops[i]->result == RES_LOST && ops[i]->type != OP_ONESHOT)
            (void)keymap_put(&lost, ops[i], 0);
    if (lost.count == 0)
        goto out;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->count; i++) {
        const op_t *q = s->ring[(s->head + i) % s->cap];
        knode_t *k = q->type == OP_ONESHOT ? NULL : keymap_find(&lost, q);
        if (k)
            k->value = 1; /* still pending */
    }
    for (size_t i = 0; i < n; i++) {
        const op_t *op = ops[i];
        knode_t *k = op->result == RES_LOST && op->type != OP_ONESHOT ? keymap_find(&lost, op)
                                                                      : NULL;
        if (!k || k->value)
            continue;
        k->value = 1; /* done with this key */
        if (keymap_find(&s->rows, op))
            (void)keymap_put(&s->engaged, op, 0);
        else
            keymap_del(&s->engaged, op);
    }
    pthread_mutex_unlock(&s->mu);
out:
    keymap_free(&lost);
}

static void batch_process(alert_store_t *s, op_t **ops, size_t n)
{
    uint64_t stored = 0, updated = 0, released = 0, lost = 0;

    /* A transaction rolled back as a whole (busy beyond busy_timeout, I/O error) is tried once
     * more; then its alerts are lost and counted. */
    if (batch_run(s, ops, n) != 0 && batch_run(s, ops, n) != 0)
        for (size_t i = 0; i < n; i++)
            ops[i]->result = RES_LOST;
    for (size_t i = 0; i < n; i++) {
        stored += ops[i]->result == RES_STORED;
        updated += ops[i]->result == RES_UPDATED;
        released += ops[i]->result == RES_RELEASED;
        lost += ops[i]->result == RES_LOST;
    }
    if (lost)
        reconcile_lost(s, ops, n);
    for (size_t i = 0; i < n; i++)
        free(ops[i]);
    pthread_mutex_lock(&s->mu);
    s->st.stored += stored;
    s->st.updated += updated;
    s->st.released += released;
    s->st.failed += lost;
    pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg)
{
    alert_store_t *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->count == 0 && !s->stop)
            pthread_cond_wait(&s->work, &s->mu);
        if (s->count == 0)
            break; /* stopping and drained */
        struct timespec deadline = deadline_after_ms(ALERT_STORE_BATCH_MS);
        while (s->count < s->batch_max && !s->stop && !s->flush)
            if (pthread_cond_timedwait(&s->work, &s->mu, &deadline) == ETIMEDOUT)
                break;
        size_t n = s->count < s->batch_max ? s->count : s->batch_max;
        /* a transaction never ends inside a group (a flow batch's alerts and its applied mark)
         * unless the group alone is larger than a transaction */
        size_t cut = n;
        while (cut > 0 && s->ring[(s->head + cut - 1) % s->cap]->group_left > 0)
            cut--;
        if (cut > 0)
            n = cut;
        for (size_t i = 0; i < n; i++) {
            s->batch[i] = s->ring[s->head];
            s->head = (s->head + 1) % s->cap;
        }
        s->count -= n;
        if (s->count == 0)
            s->flush = 0;
        uint64_t upto = s->seq_done + n;
        pthread_mutex_unlock(&s->mu);

        batch_process(s, s->batch, n);

        pthread_mutex_lock(&s->mu);
        s->seq_done = upto;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- open / close ---- */

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Runs a query returning one integer or text row; the text is copied into buf. */
static int query_one(sqlite3 *db, const char *sql, int64_t *num, char *buf, size_t buflen)
{
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW)
        goto fail;
    if (num)
        *num = sqlite3_column_int64(q, 0);
    if (buf)
        snprintf(buf, buflen, "%s", nz((const char *)sqlite3_column_text(q, 0), ""));
    rc = 0;
fail:
    sqlite3_finalize(q);
    return rc;
}

/* Loads the keys of the rows still engaged into both maps. */
static int load_engaged(alert_store_t *s)
{
    sqlite3_stmt *q = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db, load_sql, -1, &q, NULL) != SQLITE_OK)
        goto fail;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        alert_t a = {.entity = (const char *)sqlite3_column_text(q, 1),
                     .entity_value = (const char *)sqlite3_column_text(q, 2),
                     .alert_type = (const char *)sqlite3_column_text(q, 3),
                     .script_key = (const char *)sqlite3_column_text(q, 4)};
        op_t *k = op_new(OP_ENGAGE, &a);
        int bad = !k || keymap_put(&s->rows, k, sqlite3_column_int64(q, 0)) != 0 ||
                  keymap_put(&s->engaged, k, 0) != 0;
        free(k);
        if (bad)
            goto fail;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(q);
    return 0;
fail:
    sqlite3_finalize(q);
    return -1;
}

static int db_open(alert_store_t *s, char *err, size_t errlen)
{
    const unsigned pf = SQLITE_PREPARE_PERSISTENT;
    char mode[16], why[256] = "";
    int64_t version = 0;
    const char *what = "cannot open";
    int rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(s->db, ALERT_STORE_BUSY_MS);
    /* 16 KiB pages (a new database only; an existing one keeps its size): a busy store writes
     * a WAL frame, and a checkpoint copies it, with one system call per page. A larger page
     * cache keeps the index pages an insert touches. */
    what = "cannot set the page size";
    if (exec_sql(s->db, "PRAGMA page_size=16384") != 0)
        goto fail;
    what = "cannot set the cache size";
    if (exec_sql(s->db, "PRAGMA cache_size=-16384") != 0)
        goto fail;
    what = "cannot switch to WAL";
    if (query_one(s->db, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode) != 0)
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        snprintf(why, sizeof why, "journal_mode stays %s", mode);
        goto fail;
    }
    what = "cannot set synchronous=NORMAL";
    if (exec_sql(s->db, "PRAGMA synchronous=NORMAL") != 0)
        goto fail;
    what = "cannot read user_version";
    if (query_one(s->db, "PRAGMA user_version", &version, NULL, 0) != 0)
        goto fail;
    what = "unknown schema";
    if (version > ALERT_STORE_SCHEMA_VERSION) {
        snprintf(why, sizeof why, "user_version %lld is newer than this build's %d",
                 (long long)version, ALERT_STORE_SCHEMA_VERSION);
        goto fail;
    }
    what = "cannot create the schema";
    if (exec_sql(s->db, "BEGIN IMMEDIATE") != 0)
        goto fail;
    if (exec_sql(s->db, schema_sql) != 0 || exec_sql(s->db, "COMMIT") != 0) {
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->db));
        (void)exec_sql(s->db, "ROLLBACK");
        goto fail;
    }
    what = "cannot prepare statements";
    if (sqlite3_prepare_v3(s->db, "BEGIN IMMEDIATE", -1, pf, &s->st_begin, NULL) ||
        sqlite3_prepare_v3(s->db, "COMMIT", -1, pf, &s->st_commit, NULL) ||
        sqlite3_prepare_v3(s->db, "ROLLBACK", -1, pf, &s->st_rollback, NULL) ||
        sqlite3_prepare_v3(s->db, insert_sql, -1, pf, &s->st_insert, NULL) ||
        sqlite3_prepare_v3(s->db, retrigger_sql, -1, pf, &s->st_retrigger, NULL) ||
        sqlite3_prepare_v3(s->db, release_sql, -1, pf, &s->st_release, NULL) ||
        sqlite3_prepare_v3(s->db, "INSERT OR IGNORE INTO applied VALUES (?1, ?2, ?3, ?4)", -1, pf,
                           &s->st_applied, NULL))
        goto fail;
    {
        char prune[128];
        snprintf(prune, sizeof prune, "DELETE FROM applied WHERE tstamp < %lld",
                 (long long)time(NULL) - APPLIED_KEEP_S);
        (void)exec_sql(s->db, prune);
    }
    what = "cannot load the engaged alerts";
    if (load_engaged(s) != 0)
        goto fail;
    return 0;
fail:
    set_err(err, errlen, what, s->path,
            why[0] ? why : s->db ? sqlite3_errmsg(s->db) : "out of memory");
    return -1;
}

static void store_free(alert_store_t *s)
{
    sqlite3_finalize(s->st_applied);
    sqlite3_finalize(s->st_begin);
    sqlite3_finalize(s->st_commit);
    sqlite3_finalize(s->st_rollback);
    sqlite3_finalize(s->st_insert);
    sqlite3_finalize(s->st_retrigger);
    sqlite3_finalize(s->st_release);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        fprintf(stderr, "alert_store: %s: close: %s\n", s->path, sqlite3_errmsg(s->db));
    for (size_t i = 0; s->ring && i < s->count; i++)
        free(s->ring[(s->head + i) % s->cap]);
    keymap_free(&s->engaged);
    keymap_free(&s->rows);
    if (s->sync_inited) {
        pthread_cond_destroy(&s->done);
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->mu);
    }
    free(s->ring);
    free(s->batch);
    free(s->undo);
    free(s->path);
    free(s);
}

static int sync_init(alert_store_t *s)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
              pthread_mutex_init(&s->mu, NULL) != 0;
    if (!bad && pthread_cond_init(&s->work, &ca) != 0) {
        pthread_mutex_destroy(&s->mu);
        bad = 1;
    }
    if (!bad && pthread_cond_init(&s->done, &ca) != 0) {
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->mu);
        bad = 1;
    }
    pthread_condattr_destroy(&ca);
    s->sync_inited = !bad;
    return bad ? -1 : 0;
}

alert_store_t *alert_store_open(const char *path, size_t queue_cap, char *err, size_t errlen)
{
    alert_store_t *s = calloc(1, sizeof *s);
    if (!s || !path)
        goto oom;
    s->cap = queue_cap ? queue_cap : ALERT_STORE_DEFAULT_QUEUE;
    s->batch_max = s->cap < ALERT_STORE_BATCH_MAX ? s->cap : ALERT_STORE_BATCH_MAX;
    s->path = strdup(path);
    s->ring = calloc(s->cap, sizeof *s->ring);
    s->batch = calloc(s->batch_max, sizeof *s->batch);
    s->undo = calloc(2 * s->batch_max, sizeof *s->undo); /* an op changes the map twice at most */
    if (!s->path || !s->ring || !s->batch || !s->undo || keymap_init(&s->engaged, 1024) != 0 ||
        keymap_init(&s->rows, 1024) != 0)
        goto oom;
    if (sync_init(s) != 0) {
        set_err(err, errlen, "cannot create mutex/condvars", path, NULL);
        goto fail;
    }
    if (db_open(s, err, errlen) != 0)
        goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        set_err(err, errlen, "cannot start the writer thread", path, NULL);
        goto fail;
    }
    s->writer_started = 1;
    pthread_setname_np(s->writer, "alert-writer"); /* best effort: top -H, perf */
    return s;
oom:
    set_err(err, errlen, "out of memory", path ? path : "(null)", NULL);
fail:
    if (s)
        store_free(s);
    return NULL;
}

void alert_store_close(alert_store_t **self)
{
    if (!self || !*self)
        return;
    alert_store_t *s = *self;
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
    }
    store_free(s);
    *self = NULL;
}

/* ---- the submitting side ---- */

/* Counts an alert that could not even be copied. */
static int drop_uncopied(alert_store_t *s, const char *alert_type)
{
    int too_big = errno == EMSGSIZE;
    pthread_mutex_lock(&s->mu);
    s->st.dropped++;
    int first = !s->logged_drop;
    s->logged_drop = 1;
    pthread_mutex_unlock(&s->mu);
    if (first)
        fprintf(stderr,
                "alert_store: %s: alert %s dropped: %s; further drops of this kind only counted\n",
                s->path, nz(alert_type, ""),
                too_big ? "larger than 1 MiB" : "out of memory");
    return -1;
}

/* Appends under mu; the caller checked there is room. */
static void enqueue(alert_store_t *s, op_t *op)
{
    s->ring[(s->head + s->count) % s->cap] = op;
    s->count++;
    s->seq_queued++;
    s->st.submitted++;
    if (s->count == 1 || s->count == s->batch_max)
        pthread_cond_signal(&s->work);
}

int alert_store_submit(alert_store_t *self, const alert_t *alert)
{
    op_t *op = op_new(alert->kind == ALERT_ENGAGED ? OP_ENGAGE : OP_ONESHOT, alert);
    if (!op)
        return drop_uncopied(self, alert->alert_type);
    pthread_mutex_lock(&self->mu);
    if (self->count == self->cap)
        goto fail;
    if (op->type == OP_ENGAGE && !keymap_find(&self->engaged, op) &&
        (self->engaged.count >= ALERT_STORE_MAX_ENGAGED || keymap_put(&self->engaged, op, 0)))
        goto fail;
    enqueue(self, op);
    pthread_mutex_unlock(&self->mu);
    return 0;
fail:
    self->st.dropped++;
    pthread_mutex_unlock(&self->mu);
    free(op);
    return -1;
}

int alert_store_submit_group(alert_store_t *self, const alert_t *alerts, size_t n,
                             const char *probe_id, uint64_t run_id, uint64_t seq)
{
    size_t total = n + (probe_id ? 1 : 0);
    if (total == 0)
        return 0;
    op_t **ops = calloc(total, sizeof *ops);
    if (!ops)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(ops[i] = op_new(alerts[i].kind == ALERT_ENGAGED ? OP_ENGAGE : OP_ONESHOT,
                              &alerts[i])))
            goto oom;
    if (probe_id) {
        alert_t mark = {.entity = probe_id, .tstamp = (int64_t)time(NULL)};
        if (!(ops[n] = op_new(OP_MARK, &mark)))
            goto oom;
        ops[n]->run_id = run_id;
        ops[n]->seq = seq;
    }
    pthread_mutex_lock(&self->mu);
    if (self->cap - self->count < total) {
        self->st.dropped += n;
        pthread_mutex_unlock(&self->mu);
        goto drop;
    }
    for (size_t i = 0; i < total; i++) {
        op_t *op = ops[i];
        op->group_left = (uint32_t)(total - 1 - i);
        if (op->type == OP_ENGAGE && !keymap_find(&self->engaged, op) &&
            (self->engaged.count >= ALERT_STORE_MAX_ENGAGED || keymap_put(&self->engaged, op, 0)))
            op->type = OP_ONESHOT; /* too many engaged: still stored, as a one-shot */
        enqueue(self, op);
        if (op->type == OP_MARK)
            self->st.submitted--; /* a mark is not an alert */
    }
    pthread_mutex_unlock(&self->mu);
    free(ops);
    return 0;
oom:
    pthread_mutex_lock(&self->mu);
    self->st.dropped += n;
    pthread_mutex_unlock(&self->mu);
drop:
    for (size_t i = 0; ops && i < total; i++)
        free(ops[i]);
    free(ops);
    return -1;
}

int alert_store_load_applied(const char *path,
                             void (*fn)(void *ctx, const char *probe_id, uint64_t run_id,
                                        uint64_t seq),
                             void *ctx)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "SELECT probe_id, run_id, seq FROM applied WHERE tstamp >= ?1 "
                           "ORDER BY probe_id, tstamp, run_id, seq",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(q, 1, (int64_t)time(NULL) - APPLIED_KEEP_S);
    while (sqlite3_step(q) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(q, 0), (uint64_t)sqlite3_column_int64(q, 1),
           (uint64_t)sqlite3_column_int64(q, 2));
    rc = 0;
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

int alert_store_release(alert_store_t *self, const char *entity, const char *entity_value,
                        const char *alert_type, const char *script_key, int64_t tstamp)
{
    alert_t a = {.tstamp = tstamp,
                 .entity = entity,
                 .entity_value = entity_value,
                 .alert_type = alert_type,
                 .script_key = script_key};
    op_t *op = op_new(OP_RELEASE, &a);
    if (!op)
        return drop_uncopied(self, alert_type);
    pthread_mutex_lock(&self->mu);
    if (!keymap_find(&self->engaged, op)) {
        pthread_mutex_unlock(&self->mu);
        free(op);
        return 0;
    }
    if (self->count == self->cap)
        goto fail;
    keymap_del(&self->engaged, op);
    enqueue(self, op);
    pthread_mutex_unlock(&self->mu);
    return 0;
fail:
    self->st.dropped++;
    pthread_mutex_unlock(&self->mu);
    free(op);
    return -1;
}

int alert_store_is_engaged(alert_store_t *self, const char *entity, const char *entity_value,
                           const char *alert_type, const char *script_key)
{
    alert_t a = {.entity = entity,
                 .entity_value = entity_value,
                 .alert_type = alert_type,
                 .script_key = script_key};
    op_t *k = op_new(OP_RELEASE, &a);
    if (!k)
        return 0;
    pthread_mutex_lock(&self->mu);
    int engaged = keymap_find(&self->engaged, k) != NULL;
    pthread_mutex_unlock(&self->mu);
    free(k);
    return engaged;
}

int alert_store_sync(alert_store_t *self, int timeout_ms)
{
    struct timespec deadline =
        deadline_after_ms(timeout_ms < 0 ? ALERT_STORE_SYNC_FOREVER_MS : timeout_ms);
    pthread_mutex_lock(&self->mu);
    uint64_t target = self->seq_queued;
    if (self->seq_done < target) {
        self->flush = 1;
        pthread_cond_signal(&self->work);
    }
    while (self->seq_done < target)
        if (pthread_cond_timedwait(&self->done, &self->mu, &deadline) == ETIMEDOUT)
            break;
    int rc = self->seq_done >= target ? 0 : -1;
    pthread_mutex_unlock(&self->mu);
    return rc;
}

uint64_t alert_store_mark(alert_store_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t v = self->seq_queued;
    pthread_mutex_unlock(&self->mu);
    return v;
}

uint64_t alert_store_done(alert_store_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t v = self->seq_done;
    pthread_mutex_unlock(&self->mu);
    return v;
}

void alert_store_get_stats(alert_store_t *self, alert_store_stats_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->st;
    out->queue_depth = self->count;
    pthread_mutex_unlock(&self->mu);
}

/* ---- alert_store_print ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when the bytes are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Characters of a table cell: a valid UTF-8 sequence or a stray byte counts one. */
static size_t cell_width(const unsigned char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; w++) {
        size_t k = utf8_seq(s + i, n - i);
        i += k ? k : 1;
    }
    return w;
}

/* Prints at most maxw characters ("..." ends a cut cell), control characters and invalid UTF-8
 * as '?', then spaces up to pad. */
static void put_cell(FILE *out, const unsigned char *s, size_t n, size_t maxw, size_t pad)
{
    size_t total = cell_width(s, n), w = 0;
    size_t shown = total > maxw ? (maxw > 3 ? maxw - 3 : 0) : total;
    for (size_t i = 0; i < n && w < shown; w++) {
        size_t k = utf8_seq(s + i, n - i);
        int ctrl = !k || s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && s[i + 1] < 0xa0);
        if (ctrl)
            fputc('?', out);
        else
            fwrite(s + i, 1, k, out);
        i += k ? k : 1;
    }
    if (total > maxw) {
        fputs(maxw > 3 ? "..." : "", out);
        w = maxw > 3 ? maxw : w;
    }
    for (; w < pad; w++)
        fputc(' ', out);
}

/* Writes s as a JSON string; invalid UTF-8 becomes U+FFFD. */
static void put_json_string(FILE *out, const unsigned char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = utf8_seq(s + i, n - i);
        if (!k) {
            fputs("\\ufffd", out);
            i++;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fwrite(s + i, 1, k, out);
        i += k;
    }
    fputc('"', out);
}

static const char *severity_name(int sev)
{
    static const char *const names[] = {"debug", "info",     "notice",   "warning",
                                        "error", "critical", "emergency"};
    return sev >= ALERT_SEVERITY_DEBUG && sev <= ALERT_SEVERITY_EMERGENCY ? names[sev - 1] : NULL;
}

/* Column indexes of print_sql. */
enum { PC_TSTAMP = 1, PC_SEVERITY = 7, PC_SCORE = 8, PC_JSON = 12, PC_JSON_MIN = 17 };

static void print_json_row(sqlite3_stmt *q, FILE *out)
{
    fputc('{', out);
    for (int i = 0; i < PC_JSON_MIN; i++) {
        fprintf(out, "%s\"%s\":", i ? "," : "", sqlite3_column_name(q, i));
        int col = i == PC_JSON && sqlite3_column_type(q, PC_JSON_MIN) != SQLITE_NULL ? PC_JSON_MIN
                                                                                      : i;
        switch (sqlite3_column_type(q, col)) {
        case SQLITE_NULL:
            fputs("null", out);
            break;
        case SQLITE_INTEGER:
            fprintf(out, "%lld", (long long)sqlite3_column_int64(q, col));
            break;
        case SQLITE_FLOAT:
            fprintf(out, "%.17g", sqlite3_column_double(q, col));
            break;
        default: {
            const unsigned char *t = sqlite3_column_text(q, col);
            size_t n = (size_t)sqlite3_column_bytes(q, col);
            if (col == PC_JSON_MIN)
                fwrite(t, 1, n, out); /* valid JSON, minified by json() */
            else
                put_json_string(out, t, n);
        }
        }
    }
    fputs("}\n", out);
}

/* The table's columns: a title, the print_sql column (or -1 when formatted), a width cap. */
static const struct {
    const char *title;
    int col;
    size_t cap;
} table_cols[] = {
    {"TIME", PC_TSTAMP, 20},          {"SEVERITY", PC_SEVERITY, 14},
    {"ENTITY", 2, PRINT_ENTITY_W},    {"ENTITY_VALUE", 3, PRINT_VALUE_W},
    {"ALERT_TYPE", 6, PRINT_TYPE_W},  {"SCORE", PC_SCORE, 20},
    {"SCRIPT", 9, PRINT_SCRIPT_W},    {"MESSAGE", 11, PRINT_MESSAGE_W},
};
#define NCOLS (sizeof table_cols / sizeof table_cols[0])

/* The text of a table cell, formatted into buf when needed. */
static const unsigned char *table_cell(sqlite3_stmt *q, int col, char *buf, size_t buflen,
                                       size_t *len)
{
    if (col == PC_TSTAMP) {
        time_t t = (time_t)sqlite3_column_int64(q, col);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm))
            snprintf(buf, buflen, "%lld", (long long)sqlite3_column_int64(q, col));
    } else if (col == PC_SEVERITY) {
        const char *name = severity_name(sqlite3_column_int(q, col));
        if (name)
            snprintf(buf, buflen, "%s", name);
        else
            snprintf(buf, buflen, "sev%d", sqlite3_column_int(q, col));
    } else if (col == PC_SCORE) {
        snprintf(buf, buflen, "%lld", (long long)sqlite3_column_int64(q, col));
    } else {
        const unsigned char *t = sqlite3_column_text(q, col);
        *len = t ? (size_t)sqlite3_column_bytes(q, col) : 0;
        return t ? t : (const unsigned char *)"";
    }
    *len = strlen(buf);
    return (const unsigned char *)buf;
}

/* Two passes over the rows in one read transaction: widths, then the table. */
static int print_table(sqlite3 *db, sqlite3_stmt *q, FILE *out)
{
    size_t width[NCOLS];
    char buf[64];
    size_t len;
    int rc = -1, pass;

    if (exec_sql(db, "BEGIN") != 0)
        return -1;
    for (size_t c = 0; c < NCOLS; c++)
        width[c] = strlen(table_cols[c].title);
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t c = 0; c < NCOLS; c++)
                put_cell(out, (const unsigned char *)table_cols[c].title,
                         strlen(table_cols[c].title), width[c], c + 1 < NCOLS ? width[c] + 2 : 0);
            fputc('\n', out);
        }
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            for (size_t c = 0; c < NCOLS; c++) {
                const unsigned char *t = table_cell(q, table_cols[c].col, buf, sizeof buf, &len);
                size_t w = cell_width(t, len);
                w = w < table_cols[c].cap ? w : table_cols[c].cap;
                if (pass == 0 && w > width[c])
                    width[c] = w;
                if (pass == 1)
                    put_cell(out, t, len, c + 1 < NCOLS ? width[c] : table_cols[c].cap,
                             c + 1 < NCOLS ? width[c] + 2 : 0);
            }
            if (pass == 1)
                fputc('\n', out);
        }
        if (rc != SQLITE_DONE)
            break;
        sqlite3_reset(q);
    }
    rc = rc == SQLITE_DONE ? 0 : -1;
    (void)exec_sql(db, "COMMIT");
    return rc;
}

int alert_store_print(const char *path, int limit, int json, const char *entity,
                      const char *script_key, FILE *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, ALERT_STORE_BUSY_MS);
    if (sqlite3_prepare_v2(db, print_sql, -1, &q, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(q, 1, entity, -1, SQLITE_STATIC); /* NULL binds NULL: no filter */
    sqlite3_bind_text(q, 2, script_key, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, limit > 0 ? limit : -1);
    if (json) {
        int step;
        while ((step = sqlite3_step(q)) == SQLITE_ROW)
            print_json_row(q, out);
        if (step != SQLITE_DONE)
            goto fail;
    } else if (print_table(db, q, out) != 0) {
        goto fail;
    }
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "alert_store: %s: cannot print alerts: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}
