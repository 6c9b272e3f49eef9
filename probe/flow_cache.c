/* flow_cache: bidirectional flows from decoded packets, with idle/TCP/eviction expiry. */
#include "flow_cache.h"

#include "community_id.h"

#include <stdlib.h>
#include <string.h>

#define FLOW_SLAB 4096          /* flows allocated per slab */
#define BUCKETS_MIN 65536u
#define FRAG_TTL_NS (30ull * 1000000000ull)

enum { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17, PROTO_ICMPV6 = 58 };
enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_ACK = 0x10 };

/* A first fragment's ports, so later fragments find their flow. */
typedef struct frag_slot {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint64_t ts_ns;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t ip_version;
    uint8_t used;
} frag_slot_t;

/* Doubly linked list of flows, most recently touched at the head. */
typedef struct flow_list {
    flow_t *head;
    flow_t *tail;
} flow_list_t;

typedef struct slab {
    struct slab *next;
    flow_t flows[FLOW_SLAB];
} slab_t;

struct flow_cache {
    flow_cache_config_t cfg;
    l7_t *l7;
    flow_emit_fn emit;
    void *ctx;
    uint64_t clock;
    uint64_t next_id;
    uint64_t id_stride;
    flow_t **buckets;
    uint32_t nbuckets;         /* power of two */
    flow_list_t active;
    flow_list_t closing;
    flow_t *free_flows;        /* chained through hnext */
    slab_t *slabs;
    frag_slot_t *frags;
    uint32_t frag_mask;
    flow_cache_stats_t stats;
};

/* ---- small helpers ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t endpoint_hash(const uint8_t *ip, int v6, uint16_t port)
{
    uint64_t h = load64(ip) * 0x9e3779b97f4a7c15ull;
    if (v6)
        h ^= load64(ip + 8) * 0xbf58476d1ce4e5b9ull;
    return mix64(h ^ port);
}

/* Symmetric: the same value for both directions of a flow. */
static inline uint32_t tuple_hash(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp,
                                  int v6, uint8_t proto, uint16_t vlan)
{
    uint64_t ha = endpoint_hash(a, v6, ap), hb = endpoint_hash(b, v6, bp);
    uint64_t lo = ha < hb ? ha : hb, hi = ha < hb ? hb : ha;
    return (uint32_t)mix64(lo * 31 + hi + ((uint64_t)proto << 16) + vlan);
}

/* Addresses as the decoder stores them: IPv4 in the first 4 bytes, the rest zero. */
static inline int ip_equal(const uint8_t *a, const uint8_t *b, int v6)
{
    uint32_t a4, b4;
    if (v6)
        return load64(a) == load64(b) && load64(a + 8) == load64(b + 8);
    memcpy(&a4, a, 4);
    memcpy(&b4, b, 4);
    return a4 == b4;
}

static void list_unlink(flow_list_t *l, flow_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_push_head(flow_list_t *l, flow_t *f)
{
    f->prev = NULL;
    f->next = l->head;
    if (l->head)
        l->head->prev = f;
    else
        l->tail = f;
    l->head = f;
}

static inline flow_list_t *flow_list_of(flow_cache_t *self, const flow_t *f)
{
    return (f->state & FLOW_STATE_CLOSING) ? &self->closing : &self->active;
}

/* ---- allocation ---- */

static flow_t *flow_alloc(flow_cache_t *self)
{
    if (!self->free_flows) {
        slab_t *s = malloc(sizeof *s);
        if (!s)
            return NULL;
        s->next = self->slabs;
        self->slabs = s;
        for (int i = FLOW_SLAB - 1; i >= 0; i--) {
            s->flows[i].hnext = self->free_flows;
            self->free_flows = &s->flows[i];
        }
    }
    flow_t *f = self->free_flows;
    self->free_flows = f->hnext;
    memset(f, 0, sizeof *f);
    return f;
}

static void flow_release(flow_cache_t *self, flow_t *f)
{
    l7_release(f);
    free(f->extra);
    free(f->l7);
    f->extra = NULL;
    f->l7 = NULL;
    f->hnext = self->free_flows;
    self->free_flows = f;
}

/* ---- hash table ---- */

static int buckets_grow(flow_cache_t *self)
{
    uint32_t n = self->nbuckets * 2;
    flow_t **nb = calloc(n, sizeof *nb);
    if (!nb)
        return -1;
    for (uint32_t i = 0; i < self->nbuckets; i++) {
        flow_t *f = self->buckets[i];
        while (f) {
            flow_t *next = f->hnext;
            uint32_t b = f->hash & (n - 1);
            f->hnext = nb[b];
            nb[b] = f;
            f = next;
        }
    }
    free(self->buckets);
    self->buckets = nb;
    self->nbuckets = n;
    return 0;
}

static void hash_remove(flow_cache_t *self, flow_t *f)
{
    flow_t **pp = &self->buckets[f->hash & (self->nbuckets - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    f->hnext = NULL;
}

/* ---- flow end ---- */

static void flow_end(flow_cache_t *self, flow_t *f, enum end_reason reason)
{
    if (self->l7 && !f->l7_done && l7_giveup(self->l7, f) == 1)
        self->stats.l7_detected++;
    self->emit(self->ctx, f, FLOW_EV_END, reason);
    list_unlink(flow_list_of(self, f), f);
    hash_remove(self, f);
    self->stats.flows_ended++;
    self->stats.ended[reason < 6 ? reason : 0]++;
    self->stats.active--;
    flow_release(self, f);
}

/* Makes room for one more flow: the oldest closing flow goes first, else the LRU flow. */
static void flow_evict_one(flow_cache_t *self)
{
    flow_t *victim = self->closing.tail;
    if (victim) {
        flow_end(self, victim, (enum end_reason)victim->end_reason);
    } else if ((victim = self->active.tail)) {
        self->stats.evictions++;
        flow_end(self, victim, END_EVICTED);
    }
}

/* ---- fragments ---- */

static uint32_t frag_index(const flow_cache_t *self, const packet_t *p)
{
    uint64_t h = endpoint_hash(p->src_ip, p->ip_version == 6, 0) ^
                 endpoint_hash(p->dst_ip, p->ip_version == 6, p->l4_proto);
    return (uint32_t)mix64(h ^ p->frag_id) & self->frag_mask;
}

static void frag_remember(flow_cache_t *self, const packet_t *p, uint16_t sport, uint16_t dport)
{
    frag_slot_t *s = &self->frags[frag_index(self, p)];
    memcpy(s->src, p->src_ip, 16);
    memcpy(s->dst, p->dst_ip, 16);
    s->id = p->frag_id;
    s->ts_ns = p->ts_ns;
    s->sport = sport;
    s->dport = dport;
    s->proto = p->l4_proto;
    s->ip_version = p->ip_version;
    s->used = 1;
}

/* Finds the ports of a later fragment's first fragment; 0 when found. */
static int frag_lookup(flow_cache_t *self, const packet_t *p, uint16_t *sport, uint16_t *dport)
{
    const frag_slot_t *s = &self->frags[frag_index(self, p)];
    if (!s->used || s->id != p->frag_id || s->proto != p->l4_proto ||
        s->ip_version != p->ip_version || memcmp(s->src, p->src_ip, 16) != 0 ||
        memcmp(s->dst, p->dst_ip, 16) != 0)
        return -1;
    uint64_t age = p->ts_ns > s->ts_ns ? p->ts_ns - s->ts_ns : s->ts_ns - p->ts_ns;
    if (age > FRAG_TTL_NS)
        return -1;
    *sport = s->sport;
    *dport = s->dport;
    return 0;
}

/* ---- public ---- */

void flow_cache_config_default(flow_cache_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_flows = 1000000;
    cfg->idle_timeout_ns = 30ull * 1000000000ull;
    cfg->update_interval_ns = 60ull * 1000000000ull;
    cfg->tcp_linger_ns = 2ull * 1000000000ull;
    cfg->frag_slots = 4096;
    cfg->id_base = 1;
    cfg->id_stride = 1;
}

flow_cache_t *flow_cache_new(const flow_cache_config_t *cfg, l7_t *l7, flow_emit_fn emit,
                             void *ctx)
{
    flow_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.max_flows == 0)
        self->cfg.max_flows = 1;
    uint32_t fs = 1;
    while (fs < cfg->frag_slots && fs < (1u << 20))
        fs <<= 1;
    self->l7 = l7;
    self->emit = emit;
    self->ctx = ctx;
    self->next_id = cfg->id_base ? cfg->id_base : 1;
    self->id_stride = cfg->id_stride ? cfg->id_stride : 1;
    self->nbuckets = BUCKETS_MIN;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    self->frags = calloc(fs, sizeof *self->frags);
    self->frag_mask = fs - 1;
    if (!self->buckets || !self->frags)
        goto fail;
    return self;
fail:
    flow_cache_destroy(&self);
    return NULL;
}

void flow_cache_destroy(flow_cache_t **pself)
{
    if (!pself || !*pself)
        return;
    flow_cache_t *self = *pself;
    flow_list_t *lists[2] = {&self->active, &self->closing};
    for (int i = 0; i < 2; i++) {
        flow_t *f = lists[i]->head;
        while (f) {
            flow_t *next = f->next;
            flow_release(self, f);
            f = next;
        }
    }
    while (self->slabs) {
        slab_t *next = self->slabs->next;
        free(self->slabs);
        self->slabs = next;
    }
    free(self->buckets);
    free(self->frags);
    free(self);
    *pself = NULL;
}

/* Finds the flow of a tuple; sets *dir to 0 (src is the client) or 1. */
static flow_t *flow_lookup(flow_cache_t *self, const packet_t *p, uint16_t sport, uint16_t dport,
                           uint32_t h, int *dir)
{
    int v6 = p->ip_version == 6;
    for (flow_t *f = self->buckets[h & (self->nbuckets - 1)]; f; f = f->hnext) {
        const flow_key_t *k = &f->key;
        if (f->hash != h || k->l4_proto != p->l4_proto || k->ip_version != p->ip_version ||
            k->vlan != p->vlan_outer)
            continue;
        if (k->cli_port == sport && k->srv_port == dport && ip_equal(k->cli_ip, p->src_ip, v6) &&
            ip_equal(k->srv_ip, p->dst_ip, v6)) {
            *dir = 0;
            return f;
        }
        if (k->cli_port == dport && k->srv_port == sport && ip_equal(k->cli_ip, p->dst_ip, v6) &&
            ip_equal(k->srv_ip, p->src_ip, v6)) {
            *dir = 1;
            return f;
        }
    }
    return NULL;
}

static flow_t *flow_create(flow_cache_t *self, const packet_t *p, uint16_t sport, uint16_t dport,
                           uint32_t h, int *dir)
{
    while (self->stats.active >= self->cfg.max_flows && self->stats.active > 0)
        flow_evict_one(self);
    if (self->stats.active >= self->nbuckets && buckets_grow(self) != 0) {
        /* keep going with longer chains */
    }
    flow_t *f = flow_alloc(self);
    if (!f)
        return NULL;
    /* The SYN sender is the client; a SYN/ACK seen first comes from the server. */
    int reversed = p->l4_proto == PROTO_TCP && (p->tcp_flags & (TH_SYN | TH_ACK)) ==
                                                   (TH_SYN | TH_ACK);
    flow_key_t *k = &f->key;
    memcpy(k->cli_ip, reversed ? p->dst_ip : p->src_ip, 16);
    memcpy(k->srv_ip, reversed ? p->src_ip : p->dst_ip, 16);
    k->cli_port = reversed ? dport : sport;
    k->srv_port = reversed ? sport : dport;
    k->vlan = p->vlan_outer;
    k->ip_version = p->ip_version;
    k->l4_proto = p->l4_proto;
    f->hash = h;
    f->id = self->next_id;
    self->next_id += self->id_stride;
    f->first_ns = p->ts_ns;
    f->last_ns = p->ts_ns;
    f->last_export_ns = self->clock;
    f->min_ttl = 255;
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    f->l7_done = self->l7 ? 0 : 1;
    if (p->l4_proto == PROTO_TCP && (p->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN)
        f->state |= FLOW_STATE_SYN;
    if (p->has_macs || p->vlan_inner || p->tunnel_type) {
        flow_extra_t *x = calloc(1, sizeof *x);
        if (x) {
            x->has_macs = p->has_macs;
            memcpy(x->cli_mac, reversed ? p->dst_mac : p->src_mac, 6);
            memcpy(x->srv_mac, reversed ? p->src_mac : p->dst_mac, 6);
            x->vlan_inner = p->vlan_inner;
            x->tunnel_type = p->tunnel_type;
            x->tunnel_id = p->tunnel_id;
            x->outer_ip_version = p->outer_ip_version;
            memcpy(x->outer_src_ip, p->outer_src_ip, 16);
            memcpy(x->outer_dst_ip, p->outer_dst_ip, 16);
        }
        f->extra = x;
    }
    uint32_t b = h & (self->nbuckets - 1);
    f->hnext = self->buckets[b];
    self->buckets[b] = f;
    list_push_head(&self->active, f);
    self->stats.active++;
    self->stats.flows_created++;
    *dir = reversed;
    return f;
}

/* TCP bookkeeping: RTT from the handshake, retransmissions, FIN/RST state. */
static void flow_tcp(flow_cache_t *self, flow_t *f, const packet_t *p, int dir)
{
    uint8_t fl = p->tcp_flags;
    if ((f->state & FLOW_STATE_SYN) && dir == 1 && (fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
        f->srv_rtt_us == 0 && p->ts_ns >= f->first_ns) {
        uint64_t us = (p->ts_ns - f->first_ns) / 1000u;
        f->srv_rtt_us = us ? (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us) : 1;
    } else if (dir == 0 && f->srv_rtt_us && f->cli_rtt_us == 0 && (fl & TH_ACK) &&
               !(fl & TH_SYN)) {
        uint64_t synack = f->first_ns + (uint64_t)f->srv_rtt_us * 1000u;
        uint64_t us = p->ts_ns > synack ? (p->ts_ns - synack) / 1000u : 0;
        f->cli_rtt_us = us ? (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us) : 1;
    }

    if (p->l3 && p->payload && p->payload >= p->l3) {
        uint32_t hdr = (uint32_t)(p->payload - p->l3);
        uint32_t len = p->ip_len > hdr ? p->ip_len - hdr : 0;
        if (len > 0) {
            uint32_t end = p->tcp_seq + len;
            uint8_t valid = dir ? FLOW_STATE_SEQ1 : FLOW_STATE_SEQ0;
            if (!(f->state & valid)) {
                f->state |= valid;
                f->next_seq[dir] = end;
            } else if ((int32_t)(end - f->next_seq[dir]) <= 0) {
                f->retrans[dir]++;
            } else {
                f->next_seq[dir] = end;
            }
        }
    }

    if (f->state & FLOW_STATE_CLOSING)
        return;
    if (fl & TH_RST) {
        f->end_reason = END_TCP_RST;
    } else if (fl & TH_FIN) {
        f->state |= dir ? FLOW_STATE_FIN1 : FLOW_STATE_FIN0;
        if ((f->state & (FLOW_STATE_FIN0 | FLOW_STATE_FIN1)) ==
            (FLOW_STATE_FIN0 | FLOW_STATE_FIN1))
            f->end_reason = END_TCP_FIN;
    }
    if (f->end_reason) {
        list_unlink(&self->active, f);
        f->state |= FLOW_STATE_CLOSING;
        list_push_head(&self->closing, f);
    }
}

void flow_cache_process(flow_cache_t *self, const packet_t *p)
{
    if (p->ip_version != 4 && p->ip_version != 6)
        return;
    self->stats.packets++;
    if (p->ts_ns > self->clock)
        self->clock = p->ts_ns;

    uint16_t sport = p->src_port, dport = p->dst_port;
    if (p->is_fragment && !p->first_fragment) {
        if (frag_lookup(self, p, &sport, &dport) == 0) {
            self->stats.frag_attributed++;
        } else {
            self->stats.frag_orphans++;
            sport = dport = 0;
        }
    } else {
        if (p->l4_proto == PROTO_ICMP || p->l4_proto == PROTO_ICMPV6)
            community_id_icmp_ports(p->ip_version, p->icmp_type, p->icmp_code, &sport, &dport);
        else if (!p->has_ports)
            sport = dport = 0;
        if (p->is_fragment)
            frag_remember(self, p, sport, dport);
    }

    uint32_t h = tuple_hash(p->src_ip, sport, p->dst_ip, dport, p->ip_version == 6, p->l4_proto,
                            p->vlan_outer);
    int dir = 0;
    flow_t *f = flow_lookup(self, p, sport, dport, h, &dir);
    if (f && (f->state & FLOW_STATE_CLOSING) && dir == 0 && p->l4_proto == PROTO_TCP &&
        (p->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN) {
        /* A new connection reuses the ports of one that is closing. */
        flow_end(self, f, (enum end_reason)f->end_reason);
        f = NULL;
    }
    int created = 0;
    if (!f) {
        f = flow_create(self, p, sport, dport, h, &dir);
        if (!f) {
            self->stats.alloc_failures++;
            return;
        }
        created = 1;
    } else {
        flow_list_t *l = flow_list_of(self, f);
        if (l->head != f) {
            list_unlink(l, f);
            list_push_head(l, f);
        }
    }

    f->touch_ns = self->clock;
    if (p->ts_ns > f->last_ns)
        f->last_ns = p->ts_ns;
    f->packets[dir]++;
    f->bytes[dir] += p->ip_len;
    f->tos[dir] = p->tos;
    if (p->ttl < f->min_ttl)
        f->min_ttl = p->ttl;
    if (p->ttl > f->max_ttl)
        f->max_ttl = p->ttl;
    if (p->l4_proto == PROTO_TCP && (!p->is_fragment || p->first_fragment)) {
        f->tcp_flags[dir] |= p->tcp_flags;
        flow_tcp(self, f, p, dir);
    }

    if (created) {
        if (self->l7)
            l7_begin(f);
        self->emit(self->ctx, f, FLOW_EV_NEW, END_NONE);
    }
    if (!f->l7_done && l7_process(self->l7, f, p) == 1) {
        self->stats.l7_detected++;
        self->emit(self->ctx, f, FLOW_EV_L7, END_NONE);
    }
    if (!created && self->cfg.update_interval_ns &&
        self->clock - f->last_export_ns >= self->cfg.update_interval_ns) {
        /* L7 is settled before the first update: collectors run protocolDetected before any
         * periodicUpdate, so a detection still pending now ends with nDPI's best guess */
        if (!f->l7_done && self->l7 && l7_giveup(self->l7, f) == 1) {
            self->stats.l7_detected++;
            self->emit(self->ctx, f, FLOW_EV_L7, END_NONE);
        }
        f->last_export_ns = self->clock;
        self->emit(self->ctx, f, FLOW_EV_UPDATE, END_NONE);
    }
}

void flow_cache_expire(flow_cache_t *self, uint64_t now_ns)
{
    if (now_ns > self->clock)
        self->clock = now_ns;
    flow_t *f;
    while ((f = self->closing.tail) && f->touch_ns + self->cfg.tcp_linger_ns <= self->clock)
        flow_end(self, f, (enum end_reason)f->end_reason);
    while ((f = self->active.tail) && f->touch_ns + self->cfg.idle_timeout_ns <= self->clock)
        flow_end(self, f, END_IDLE);
}

void flow_cache_advance(flow_cache_t *self, uint64_t now_ns)
{
    if (now_ns > self->clock)
        self->clock = now_ns;
}

void flow_cache_flush(flow_cache_t *self, enum end_reason reason)
{
    flow_t *f;
    while ((f = self->closing.tail)) /* these already know why they end */
        flow_end(self, f, (enum end_reason)f->end_reason);
    while ((f = self->active.tail))
        flow_end(self, f, reason);
}

uint64_t flow_cache_clock(const flow_cache_t *self)
{
    return self->clock;
}

void flow_cache_get_stats(const flow_cache_t *self, flow_cache_stats_t *out)
{
    *out = self->stats;
}
