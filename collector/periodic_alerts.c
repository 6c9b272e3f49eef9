/* periodic_alerts: engaged alerts of periodic scripts and the granularities keeping them. */
#include "periodic_alerts.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CAP 65536u

typedef struct entry {
    periodic_alert_t a;
    struct entry *next;     /* same key bucket */
    struct entry *src_next; /* same source bucket */
    uint64_t hash, src_hash;
    size_t keylen;
    char *key; /* "entity\0value\0type\0script\0" then subdir\0 source\0 */
    char *message;
} entry_t;

struct periodic_alerts {
    entry_t **buckets, **src_buckets;
    size_t nbuckets; /* power of two */
    size_t count, cap;
    uint64_t refused;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

/* "entity\0value\0type\0script\0" into a malloc'd buffer with room for `extra` bytes more. */
static char *make_key(const char *e, const char *v, const char *t, const char *s, size_t extra,
                      size_t *keylen)
{
    size_t le = strlen(e) + 1, lv = strlen(v) + 1, lt = strlen(t) + 1, ls = strlen(s) + 1;
    char *k = malloc(le + lv + lt + ls + extra);
    if (!k) return NULL;
    char *p = k;
    memcpy(p, e, le);
    p += le;
    memcpy(p, v, lv);
    p += lv;
    memcpy(p, t, lt);
    p += lt;
    memcpy(p, s, ls);
    *keylen = le + lv + lt + ls;
    return k;
}

periodic_alerts_t *periodic_alerts_new(size_t cap)
{
    periodic_alerts_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->cap = cap ? cap : DEFAULT_CAP;
    self->nbuckets = 64;
    while (self->nbuckets < self->cap / 4)
        self->nbuckets *= 2;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    self->src_buckets = calloc(self->nbuckets, sizeof *self->src_buckets);
    if (!self->buckets || !self->src_buckets) {
        periodic_alerts_destroy(&self);
        return NULL;
    }
    return self;
}

static void entry_free(entry_t *e)
{
    free(e->key);
    free(e->message);
    free(e);
}

void periodic_alerts_destroy(periodic_alerts_t **pself)
{
    if (!pself || !*pself) return;
    periodic_alerts_t *self = *pself;
    for (size_t i = 0; self->buckets && i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(self->buckets);
    free(self->src_buckets);
    free(self);
    *pself = NULL;
}

static entry_t *find(const periodic_alerts_t *self, const char *key, size_t keylen, uint64_t h)
{
    for (entry_t *e = self->buckets[h & (self->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0) return e;
    return NULL;
}

static void unlink_entry(periodic_alerts_t *self, entry_t *e)
{
    entry_t **pp = &self->buckets[e->hash & (self->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) *pp = e->next;
    pp = &self->src_buckets[e->src_hash & (self->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->src_next;
    if (*pp) *pp = e->src_next;
    self->count--;
}

/* A new entry for the key (not yet present); NULL when full or out of memory. */
static entry_t *add(periodic_alerts_t *self, const char *entity, const char *value,
                    const char *type, const char *script, const char *subdir, const char *source)
{
    if (self->count >= self->cap) {
        self->refused++;
        return NULL;
    }
    entry_t *e = calloc(1, sizeof *e);
    size_t lsub = strlen(subdir) + 1, lsrc = strlen(source) + 1;
    if (!e || !(e->key = make_key(entity, value, type, script, lsub + lsrc, &e->keylen))) {
        free(e);
        self->refused++;
        return NULL;
    }
    char *p = e->key;
    e->a.entity = p;
    p += strlen(p) + 1;
    e->a.entity_value = p;
    p += strlen(p) + 1;
    e->a.alert_type = p;
    p += strlen(p) + 1;
    e->a.script_key = p;
    p += strlen(p) + 1;
    memcpy(p, subdir, lsub);
    e->a.subdir = p;
    p += lsub;
    memcpy(p, source, lsrc);
    e->a.source = p;
    e->hash = hash_bytes(e->key, e->keylen);
    e->src_hash = hash_bytes(source, lsrc - 1);
    size_t b = e->hash & (self->nbuckets - 1), sb = e->src_hash & (self->nbuckets - 1);
    e->next = self->buckets[b];
    self->buckets[b] = e;
    e->src_next = self->src_buckets[sb];
    self->src_buckets[sb] = e;
    self->count++;
    return e;
}

static void set_message(entry_t *e, const char *msg)
{
    char *m = strdup(msg ? msg : "");
    if (!m) return; /* keep the previous one */
    free(e->message);
    e->message = m;
    e->a.message = m;
}

int periodic_alerts_trigger(periodic_alerts_t *self, const alert_t *a, granularity_t g,
                            uint64_t round, const char *source)
{
    size_t keylen;
    char *key = make_key(a->entity, a->entity_value, a->alert_type, a->script_key, 0, &keylen);
    if (!key) {
        self->refused++;
        return -1;
    }
    uint64_t h = hash_bytes(key, keylen);
    entry_t *e = find(self, key, keylen, h);
    free(key);
    if (!e) {
        e = add(self, a->entity, a->entity_value, a->alert_type, a->script_key,
                a->subdir ? a->subdir : "", source ? source : "");
        if (!e) return -1;
        e->a.tstamp = a->tstamp;
    }
    e->a.gran_mask |= 1u << g;
    e->a.last_round[g] = round;
    e->a.last_seen = a->tstamp;
    e->a.severity = a->severity;
    e->a.score = a->score;
    set_message(e, a->message);
    return 0;
}

void periodic_alerts_forget(periodic_alerts_t *self, const char *entity, const char *value,
                            const char *type, const char *script_key)
{
    size_t keylen;
    char *key = make_key(entity, value, type, script_key, 0, &keylen);
    if (!key) return;
    entry_t *e = find(self, key, keylen, hash_bytes(key, keylen));
    free(key);
    if (e) {
        unlink_entry(self, e);
        entry_free(e);
    }
}

void periodic_alerts_each_of(periodic_alerts_t *self, const char *source,
                             void (*fn)(void *ctx, const periodic_alert_t *a), void *ctx)
{
    size_t len = strlen(source);
    uint64_t h = hash_bytes(source, len);
    for (entry_t *e = self->src_buckets[h & (self->nbuckets - 1)]; e; e = e->src_next)
        if (e->src_hash == h && strcmp(e->a.source, source) == 0) fn(ctx, &e->a);
}

void periodic_alerts_touch(periodic_alerts_t *self, const char *source, granularity_t g,
                           uint64_t round)
{
    size_t len = strlen(source);
    uint64_t h = hash_bytes(source, len);
    for (entry_t *e = self->src_buckets[h & (self->nbuckets - 1)]; e; e = e->src_next)
        if (e->src_hash == h && strcmp(e->a.source, source) == 0 && (e->a.gran_mask & (1u << g)))
            e->a.last_round[g] = round;
}

int periodic_alerts_end_round(periodic_alerts_t *self, granularity_t g, uint64_t round,
                              void (*release)(void *ctx, const periodic_alert_t *a), void *ctx)
{
    int released = 0;
    unsigned bit = 1u << g;
    for (size_t i = 0; i < self->nbuckets; i++) {
        entry_t *e = self->buckets[i];
        while (e) {
            entry_t *next = e->next;
            if ((e->a.gran_mask & bit) && e->a.last_round[g] != round) {
                e->a.gran_mask &= ~bit;
                if (!e->a.gran_mask) {
                    if (release) release(ctx, &e->a);
                    unlink_entry(self, e);
                    entry_free(e);
                    released++;
                }
            }
            e = next;
        }
    }
    return released;
}

size_t periodic_alerts_count(const periodic_alerts_t *self)
{
    return self->count;
}

uint64_t periodic_alerts_refused(const periodic_alerts_t *self)
{
    return self->refused;
}

static const char *col_text(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : "";
}

int periodic_alerts_load(periodic_alerts_t *self, const char *db_path,
                         unsigned (*mask_of)(void *ctx, const char *subdir, const char *script_key),
                         void *ctx, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT entity, entity_value, alert_type, script_key, subdir, tstamp, last_seen,"
        " severity, score, message,"
        " CASE WHEN json_valid(json) THEN json_extract(json, '$.granularity') END"
        " FROM alerts WHERE engaged = 1 AND kind = 'engaged'"
        " AND subdir IN ('interface', 'network', 'system', 'snmp') ORDER BY id";
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int n = 0;
    FILE *probe = fopen(db_path, "rb");
    if (!probe) return 0;
    fclose(probe);
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) goto fail;
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) goto fail;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *subdir = col_text(q, 4), *value = col_text(q, 1);
        const char *script = col_text(q, 3);
        char source[512];
        periodic_alerts_source(source, sizeof source, subdir, value);
        int g = granularity_parse((const char *)sqlite3_column_text(q, 10));
        unsigned mask = g >= 0 ? 1u << g : (mask_of ? mask_of(ctx, subdir, script) : 0);
        if (!mask) mask = (1u << GRAN_COUNT) - 1;
        alert_t a = {
            .entity = col_text(q, 0),
            .entity_value = value,
            .alert_type = col_text(q, 2),
            .script_key = script,
            .subdir = subdir,
            .tstamp = sqlite3_column_int64(q, 5),
            .severity = sqlite3_column_int(q, 7),
            .score = sqlite3_column_int(q, 8),
            .message = col_text(q, 9),
            .kind = ALERT_ENGAGED,
        };
        if (periodic_alerts_trigger(self, &a, GRAN_MIN, 0, source) != 0) continue;
        size_t keylen;
        char *key = make_key(a.entity, a.entity_value, a.alert_type, a.script_key, 0, &keylen);
        entry_t *e = key ? find(self, key, keylen, hash_bytes(key, keylen)) : NULL;
        free(key);
        if (e) {
            e->a.gran_mask = mask;
            e->a.last_seen = sqlite3_column_int64(q, 6);
            n++;
        }
    }
    if (rc != SQLITE_DONE) goto fail;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
fail:
    snprintf(err, errlen, "%s: %s", db_path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return -1;
}

char *periodic_alerts_tag_json(const char *json, const char *granularity)
{
    const char *p = json ? json : "{}";
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != '{') return strdup(json ? json : "{}");
    const char *rest = p + 1;
    const char *q = rest;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
        q++;
    int empty = *q == '}';
    size_t n = strlen(granularity) + strlen(rest) + 32;
    char *out = malloc(n);
    if (!out) return NULL;
    snprintf(out, n, "{\"granularity\":\"%s\"%s%s", granularity, empty ? "" : ",", rest);
    return out;
}

void periodic_alerts_source(char *buf, size_t len, const char *subdir, const char *entity_value)
{
    snprintf(buf, len, "%s|%s", subdir ? subdir : "", entity_value ? entity_value : "");
}
