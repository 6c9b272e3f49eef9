/* cid_index: Community ID -> the probe flows that carry it (active, or ended recently). */
#include "cid_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64
#define CID_MAX 48

typedef struct entry {
    struct entry *next;
    char cid[CID_MAX];
    const iface_t *iface;
    uint64_t flow_id;
    int64_t ended_s;             /* 0 while active */
} entry_t;

typedef struct shard {
    pthread_mutex_t lock;
    entry_t **buckets;
    uint32_t nbuckets;
    uint32_t count;
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
        self->shards[i].nbuckets = 4096;
        self->shards[i].buckets = calloc(4096, sizeof(entry_t *));
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

/* Drops ended entries past their keep time from one bucket chain. Caller holds the lock. */
static void sweep_chain(shard_t *s, entry_t **pp, int64_t now_s)
{
    while (*pp) {
        entry_t *e = *pp;
        if (e->ended_s && now_s - e->ended_s > CID_INDEX_KEEP_ENDED_S) {
            *pp = e->next;
            free(e);
            s->count--;
        } else {
            pp = &e->next;
        }
    }
}

/* Makes room in a full shard by dropping ended entries (oldest keep time first is not
 * tracked; any ended entry goes). Returns 1 when room was made. Caller holds the lock. */
static int make_room(shard_t *s)
{
    for (uint32_t b = 0; b < s->nbuckets; b++) {
        for (entry_t **pp = &s->buckets[b]; *pp; pp = &(*pp)->next) {
            if ((*pp)->ended_s) {
                entry_t *e = *pp;
                *pp = e->next;
                free(e);
                s->count--;
                return 1;
            }
        }
    }
    return 0;
}

void cid_index_add(cid_index_t *self, const char *cid, const iface_t *iface, uint64_t flow_id)
{
    if (!cid || !*cid || strlen(cid) >= CID_MAX)
        return;
    uint32_t h = cid_hash(cid);
    shard_t *s = &self->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    entry_t **head = &s->buckets[(h / SHARDS) % s->nbuckets];
    for (entry_t *e = *head; e; e = e->next)
        if (e->iface == iface && e->flow_id == flow_id && strcmp(e->cid, cid) == 0) {
            e->ended_s = 0;
            pthread_mutex_unlock(&s->lock);
            return;
        }
    if (s->count >= self->cap_per_shard && !make_room(s)) {
        atomic_fetch_add(&self->full, 1);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    entry_t *e = calloc(1, sizeof *e);
    if (e) {
        snprintf(e->cid, sizeof e->cid, "%s", cid);
        e->iface = iface;
        e->flow_id = flow_id;
        e->next = *head;
        *head = e;
        s->count++;
    }
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
    entry_t **head = &s->buckets[(h / SHARDS) % s->nbuckets];
    for (entry_t *e = *head; e; e = e->next)
        if (e->iface == iface && e->flow_id == flow_id && strcmp(e->cid, cid) == 0)
            e->ended_s = now_s > 0 ? now_s : 1;
    sweep_chain(s, head, now_s);
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
    entry_t **head = &s->buckets[(h / SHARDS) % s->nbuckets];
    sweep_chain(s, head, now_s);
    for (entry_t *e = *head; e; e = e->next) {
        if (strcmp(e->cid, cid) != 0)
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
