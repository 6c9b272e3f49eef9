/* cid_index: Community ID -> the probe flows that carry it (active, or ended recently). */
#include "cid_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64
#define CID_MAX 48
#define PER_CID_MAX 8     /* flows remembered per Community ID; the oldest ended one goes */
#define BUCKETS_MIN 1024u

typedef struct entry {
    struct entry *next;          /* hash chain */
    struct entry *older, *newer; /* ended entries, oldest first (for expiry and eviction) */
    uint32_t hash;               /* cid_hash(cid): compared before the string */
    char cid[CID_MAX];
    const iface_t *iface;
    uint64_t flow_id;
    int64_t ended_s;             /* 0 while active */
} entry_t;

typedef struct shard {
    pthread_mutex_t lock;
    entry_t **buckets;
    uint32_t nbuckets;           /* power of two */
    uint32_t count;
    entry_t *oldest, *newest;    /* ended entries */
} shard_t;

struct cid_index {
    shard_t shards[SHARDS];
    uint32_t cap_per_shard;
    _Atomic uint64_t full;
};

static uint32_t cid_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

cid_index_t *cid_index_new(uint32_t cap)
{
    cid_index_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap_per_shard = cap / SHARDS + 1;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&self->shards[i].lock, NULL);
        self->shards[i].nbuckets = BUCKETS_MIN;
        self->shards[i].buckets = calloc(BUCKETS_MIN, sizeof(entry_t *));
        if (!self->shards[i].buckets) {
            cid_index_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void cid_index_destroy(cid_index_t **pself)
{
    if (!pself || !*pself)
        return;
    cid_index_t *self = *pself;
    for (int i = 0; i < SHARDS; i++) {
        shard_t *s = &self->shards[i];
        for (uint32_t b = 0; s->buckets && b < s->nbuckets; b++) {
            entry_t *e = s->buckets[b];
            while (e) {
                entry_t *n = e->next;
                free(e);
                e = n;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(self);
    *pself = NULL;
}

static inline entry_t **bucket_of(shard_t *s, uint32_t h)
{
    return &s->buckets[(h / SHARDS) & (s->nbuckets - 1)];
}

static void ended_unlink(shard_t *s, entry_t *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else if (s->oldest == e)
        s->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else if (s->newest == e)
        s->newest = e->older;
    e->older = e->newer = NULL;
}

/* Removes an entry from its chain and the ended list, and frees it. */
static void entry_drop(shard_t *s, entry_t *e)
{
    entry_t **pp = bucket_of(s, e->hash);
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    if (e->ended_s)
        ended_unlink(s, e);
    free(e);
    s->count--;
}

/* Ended entries older than the keep time go; with `need_room`, the oldest ended one goes too. */
static void expire(shard_t *s, int64_t now_s, int need_room)
{
    while (s->oldest && (now_s - s->oldest->ended_s > CID_INDEX_KEEP_ENDED_S || need_room)) {
        entry_drop(s, s->oldest);
        need_room = 0;
    }
}

static void grow(shard_t *s)
{
    uint32_t n = s->nbuckets * 2;
    entry_t **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (uint32_t b = 0; b < s->nbuckets; b++) {
        entry_t *e = s->buckets[b];
        while (e) {
            entry_t *next = e->next;
            entry_t **head = &nb[(e->hash / SHARDS) & (n - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

void cid_index_add(cid_index_t *self, const char *cid, const iface_t *iface, uint64_t flow_id)
{
    if (!cid || !*cid || strlen(cid) >= CID_MAX)
        return;
    uint32_t h = cid_hash(cid);
    shard_t *s = &self->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    entry_t *same = NULL, *oldest_same_ended = NULL;
    int n_same = 0;
    for (entry_t *e = *bucket_of(s, h); e; e = e->next) {
        if (e->hash != h || strcmp(e->cid, cid) != 0)
            continue;
        n_same++;
        if (e->iface == iface && e->flow_id == flow_id)
            same = e;
        if (e->ended_s && (!oldest_same_ended || e->ended_s < oldest_same_ended->ended_s))
            oldest_same_ended = e;
    }
    if (same) {
        if (same->ended_s) {
            ended_unlink(s, same);
            same->ended_s = 0;
        }
        goto out;
    }
    if (n_same >= PER_CID_MAX) {
        if (!oldest_same_ended) { /* every one of them is active: keep the ones we have */
            atomic_fetch_add(&self->full, 1);
            goto out;
        }
        entry_drop(s, oldest_same_ended);
    }
    if (s->count >= self->cap_per_shard) {
        expire(s, 0, 1);
        if (s->count >= self->cap_per_shard) {
            atomic_fetch_add(&self->full, 1);
            goto out;
        }
    }
    if (s->count >= s->nbuckets)
        grow(s);
    entry_t *e = calloc(1, sizeof *e);
    if (e) {
        memcpy(e->cid, cid, strlen(cid) + 1); /* shorter than CID_MAX: checked above */
        e->hash = h;
        e->iface = iface;
        e->flow_id = flow_id;
        entry_t **head = bucket_of(s, h);
        e->next = *head;
        *head = e;
        s->count++;
    }
out:
    pthread_mutex_unlock(&s->lock);
}

void cid_index_end(cid_index_t *self, const char *cid, const iface_t *iface, uint64_t flow_id,
                   int64_t now_s)
{
    if (!cid || !*cid || strlen(cid) >= CID_MAX)
        return;
    uint32_t h = cid_hash(cid);
    shard_t *s = &self->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    for (entry_t *e = *bucket_of(s, h); e; e = e->next)
        if (e->hash == h && e->iface == iface && e->flow_id == flow_id && !e->ended_s &&
            strcmp(e->cid, cid) == 0) {
            e->ended_s = now_s > 0 ? now_s : 1;
            e->older = s->newest; /* append to the ended list (times only grow) */
            e->newer = NULL;
            if (s->newest)
                s->newest->newer = e;
            else
                s->oldest = e;
            s->newest = e;
            break;
        }
    expire(s, now_s, 0);
    pthread_mutex_unlock(&s->lock);
}

int cid_index_find(cid_index_t *self, const char *cid, int64_t now_s, cid_match_t *out)
{
    memset(out, 0, sizeof *out);
    if (!cid || !*cid || strlen(cid) >= CID_MAX)
        return 0;
    uint32_t h = cid_hash(cid);
    shard_t *s = &self->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    expire(s, now_s, 0);
    for (entry_t *e = *bucket_of(s, h); e; e = e->next) {
        if (e->hash != h || strcmp(e->cid, cid) != 0)
            continue;
        int better = !out->found || (!e->ended_s && out->ended) ||
                     (e->ended_s && out->ended && e->ended_s > out->ended_s);
        if (better) {
            out->found = 1;
            out->iface = e->iface;
            out->flow_id = e->flow_id;
            out->ended = e->ended_s != 0;
            out->ended_s = e->ended_s;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return out->found;
}

void cid_index_stats(cid_index_t *self, uint64_t *entries, uint64_t *full)
{
    uint64_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&self->shards[i].lock);
        n += self->shards[i].count;
        pthread_mutex_unlock(&self->shards[i].lock);
    }
    *entries = n;
    *full = atomic_load(&self->full);
}
