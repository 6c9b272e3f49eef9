/* codec: zflow Envelope packing, validated unpacking, a fast batch encoder and JSON lines
 * (JSON per RFC 8259). */
#include "codec.h"

#include "asan_poison.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[CODEC_ERR_COUNT] = {
    [CODEC_OK] = "ok",
    [CODEC_ERR_EMPTY] = "empty",
    [CODEC_ERR_TOO_BIG] = "too_big",
    [CODEC_ERR_UNPACK] = "unpack",
    [CODEC_ERR_VERSION] = "version",
    [CODEC_ERR_NO_PROBE_ID] = "no_probe_id",
    [CODEC_ERR_NO_PAYLOAD] = "no_payload",
    [CODEC_ERR_RANGE] = "range",
};

const char *codec_error_name(codec_error_t err)
{
    if ((unsigned)err >= CODEC_ERR_COUNT) return "unknown";
    return error_names[err];
}

const char *codec_event_name(Zflow__FlowEvent ev)
{
    switch (ev) {
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_UNSPECIFIED:
        return "unspecified";
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW:
        return "new";
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_L7:
        return "l7";
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE:
        return "update";
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_END:
        return "end";
    default:
        return "unknown";
    }
}

const char *codec_end_reason_name(Zflow__EndReason r)
{
    switch (r) {
    case ZFLOW__END_REASON__END_REASON_NONE:
        return "none";
    case ZFLOW__END_REASON__END_REASON_IDLE:
        return "idle";
    case ZFLOW__END_REASON__END_REASON_TCP_FIN:
        return "tcp_fin";
    case ZFLOW__END_REASON__END_REASON_TCP_RST:
        return "tcp_rst";
    case ZFLOW__END_REASON__END_REASON_EVICTED:
        return "evicted";
    case ZFLOW__END_REASON__END_REASON_SHUTDOWN:
        return "shutdown";
    case ZFLOW__END_REASON__END_REASON_PROBE_DOWN:
        return "probe_down";
    case ZFLOW__END_REASON__END_REASON_PROBE_RESTART:
        return "probe_restart";
    default:
        return "unknown";
    }
}

const char *codec_tunnel_name(Zflow__TunnelType t)
{
    switch (t) {
    case ZFLOW__TUNNEL_TYPE__TUNNEL_NONE:
        return "none";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_GRE:
        return "gre";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_ERSPAN:
        return "erspan";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_VXLAN:
        return "vxlan";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_GENEVE:
        return "geneve";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_GTPU:
        return "gtpu";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_IPIP:
        return "ipip";
    case ZFLOW__TUNNEL_TYPE__TUNNEL_TEREDO:
        return "teredo";
    default:
        return "unknown";
    }
}

/* ---- packing ---------------------------------------------------------------------------- */

uint8_t *codec_pack(const Zflow__Envelope *env, size_t *len)
{
    uint8_t *buf = NULL;
    size_t size = zflow__envelope__get_packed_size(env);
    if (size > CODEC_MAX_MESSAGE) goto fail;
    buf = malloc(size ? size : 1);
    if (!buf) goto fail;
    if (zflow__envelope__pack(env, buf) != size) goto fail;
    *len = size;
    return buf;
fail:
    free(buf);
    *len = 0;
    return NULL;
}

/* Wire types and tags of the fields the fast encoder writes. */
#define WT_VARINT      0u
#define WT_LEN         2u
#define TAG(field, wt) (((uint32_t)(field) << 3) | (wt))

static inline uint8_t *pb_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline size_t pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* A scalar field is written only when non-zero (proto3 canonical form). */
#define PB_UINT(p, field, v)                                                                       \
    do {                                                                                           \
        uint64_t pb_v_ = (v);                                                                      \
        if (pb_v_) {                                                                               \
            p = pb_varint(p, TAG(field, WT_VARINT));                                               \
            p = pb_varint(p, pb_v_);                                                               \
        }                                                                                          \
    } while (0)

/* Enums are int32 on the wire: negative values are sign-extended to 10 bytes. */
#define PB_ENUM(p, field, v) PB_UINT(p, field, (uint64_t)(int64_t)(int32_t)(v))

static inline uint8_t *pb_bytes(uint8_t *p, uint32_t field, const void *data, size_t len)
{
    if (len == 0) return p;
    p = pb_varint(p, TAG(field, WT_LEN));
    p = pb_varint(p, len);
    memcpy(p, data, len);
    return p + len;
}

static inline size_t str_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Fields of Flow by kind, for the worst-case size: 47 fields of at most 2 tag bytes and
 * 10 value bytes, plus 13 length-delimited ones with up to 5 length bytes each. */
#define FLOW_FIXED_WORST (47u * 12u + 13u * 5u)

typedef struct flow_lens {
    size_t master, app, proto, cat, sni, ifname, cid;
} flow_lens_t;

/* Measures the strings of *f and returns the worst-case size of its body. */
static size_t flow_worst(const Zflow__Flow *f, flow_lens_t *l)
{
    l->master = str_len(f->l7_master_name);
    l->app = str_len(f->l7_app_name);
    l->proto = str_len(f->l7_proto_name);
    l->cat = str_len(f->l7_category);
    l->sni = str_len(f->server_name);
    l->ifname = str_len(f->interface);
    l->cid = str_len(f->community_id);
    return FLOW_FIXED_WORST + l->master + l->app + l->proto + l->cat + l->sni + l->ifname + l->cid +
           f->client_ip.len + f->server_ip.len + f->client_mac.len + f->server_mac.len +
           f->tunnel_outer_src.len + f->tunnel_outer_dst.len;
}

/* Writes the body of *f in field order; p has room for flow_worst(). Returns the end. */
static uint8_t *flow_pack_body(const Zflow__Flow *f, const flow_lens_t *l, uint8_t *p)
{
    PB_UINT(p, 1, f->flow_id);
    PB_ENUM(p, 2, f->event);
    PB_ENUM(p, 3, f->end_reason);
    PB_UINT(p, 4, f->first_seen_ns);
    PB_UINT(p, 5, f->last_seen_ns);
    PB_UINT(p, 6, f->ip_version);
    p = pb_bytes(p, 7, f->client_ip.data, f->client_ip.len);
    p = pb_bytes(p, 8, f->server_ip.data, f->server_ip.len);
    PB_UINT(p, 9, f->client_port);
    PB_UINT(p, 10, f->server_port);
    PB_UINT(p, 11, f->l4_proto);
    PB_UINT(p, 12, f->c2s_bytes);
    PB_UINT(p, 13, f->s2c_bytes);
    PB_UINT(p, 14, f->c2s_packets);
    PB_UINT(p, 15, f->s2c_packets);
    PB_UINT(p, 16, f->c2s_tcp_flags);
    PB_UINT(p, 17, f->s2c_tcp_flags);
    PB_UINT(p, 18, f->c2s_tos);
    PB_UINT(p, 19, f->s2c_tos);
    PB_UINT(p, 20, f->min_ttl);
    PB_UINT(p, 21, f->max_ttl);
    PB_UINT(p, 22, f->icmp_type);
    PB_UINT(p, 23, f->icmp_code);
    PB_UINT(p, 24, f->vlan_outer);
    PB_UINT(p, 25, f->vlan_inner);
    p = pb_bytes(p, 26, f->client_mac.data, f->client_mac.len);
    p = pb_bytes(p, 27, f->server_mac.data, f->server_mac.len);
    PB_ENUM(p, 28, f->tunnel_type);
    PB_UINT(p, 29, f->tunnel_id);
    p = pb_bytes(p, 30, f->tunnel_outer_src.data, f->tunnel_outer_src.len);
    p = pb_bytes(p, 31, f->tunnel_outer_dst.data, f->tunnel_outer_dst.len);
    PB_UINT(p, 32, f->l7_master_id);
    PB_UINT(p, 33, f->l7_app_id);
    p = pb_bytes(p, 34, f->l7_master_name, l->master);
    p = pb_bytes(p, 35, f->l7_app_name, l->app);
    p = pb_bytes(p, 36, f->l7_proto_name, l->proto);
    PB_UINT(p, 37, f->l7_category_id);
    p = pb_bytes(p, 38, f->l7_category, l->cat);
    PB_UINT(p, 39, f->l7_risk);
    p = pb_bytes(p, 40, f->server_name, l->sni);
    PB_UINT(p, 41, f->client_rtt_us);
    PB_UINT(p, 42, f->server_rtt_us);
    PB_UINT(p, 43, f->c2s_retransmissions);
    PB_UINT(p, 44, f->s2c_retransmissions);
    p = pb_bytes(p, 45, f->interface, l->ifname);
    p = pb_bytes(p, 46, f->community_id, l->cid);
    PB_UINT(p, 47, f->l7_risk_score);
    return p;
}

int codec_pack_batch_flow(const Zflow__Flow *flow, uint8_t *buf, size_t size)
{
    /* The body goes after the tag and a length slot wide enough for the worst case; when the
     * real length needs fewer bytes the body moves back, so the encoding stays canonical. */
    flow_lens_t lens;
    size_t worst = flow_worst(flow, &lens);
    size_t slot = pb_varint_size(worst);
    if (worst > CODEC_MAX_MESSAGE || size < 1 + slot || size - 1 - slot < worst) return -1;
    uint8_t *body = buf + 1 + slot;
    size_t n = (size_t)(flow_pack_body(flow, &lens, body) - body);
    size_t lsz = pb_varint_size(n);
    buf[0] = (uint8_t)TAG(1, WT_LEN);
    pb_varint(buf + 1, n);
    if (lsz < slot) memmove(buf + 1 + lsz, body, n);
    return (int)(1 + lsz + n);
}

int codec_pack_batch_header(const Zflow__Envelope *hdr, size_t batch_len, uint8_t *buf, size_t size)
{
    size_t l_id = str_len(hdr->probe_id);
    if (l_id > CODEC_MAX_STRING || size < 64 + l_id) return -1;
    uint8_t *p = buf;
    PB_UINT(p, 1, hdr->schema_version);
    p = pb_bytes(p, 2, hdr->probe_id, l_id);
    PB_UINT(p, 3, hdr->run_id);
    PB_UINT(p, 4, hdr->seq);
    PB_UINT(p, 5, hdr->send_time_ns);
    p = pb_varint(p, TAG(ZFLOW__ENVELOPE__PAYLOAD_FLOWS, WT_LEN));
    p = pb_varint(p, batch_len);
    return (int)(p - buf);
}

/* ---- unpacking and validation ----------------------------------------------------------- */

/* A decoded envelope lives in an arena: protobuf-c allocates every message, array, string and
 * bytes field through arena_alloc(), which bumps a pointer through one or a few heap blocks, and
 * codec_msg_destroy() frees the blocks. The first block also holds the codec_msg itself and is
 * sized from the wire length, so a typical batch costs one malloc() instead of one per field.
 * The blocks come out of a budget, so a hostile message cannot make the decoded form much larger
 * than the wire form. */

/* Every piece is aligned for any type: messages, arrays and strings share the blocks. */
#define ARENA_ALIGN _Alignof(max_align_t)
/* First block: this many bytes per wire byte plus a fixed part (the codec_msg, the envelope and
 * a 1 KiB scratch array of protobuf-c). A decoded flow takes 3-5 times its wire size: the
 * 376-byte Flow struct, and each string and bytes field an aligned piece. */
#define ARENA_FIRST_PER_BYTE 6u
#define ARENA_FIRST_FIXED    2048u
/* protobuf-c allocates a scratch array for each message with more than 16 fields on the wire
 * and frees it when the message is done. The latest piece of at least this size, once freed, is
 * handed out again, so a batch does not keep one dead scratch array per flow. */
#define ARENA_REUSE_MIN 512u

/* Unused arena space is poisoned (asan_poison.h), so AddressSanitizer still sees a read past a
 * field. */

/* Header of every block after the first. */
typedef union arena_block {
    union arena_block *next;
    max_align_t align;
} arena_block_t;

struct codec_msg {
    Zflow__Envelope *env;
    size_t size;               /* bytes of the first block (this struct's) */
    unsigned char *next, *end; /* free part of the current block */
    arena_block_t *more;       /* blocks after the first, newest first */
    size_t left;               /* budget not taken by blocks yet */
    size_t grow;               /* size of the next block */
    void *big;                 /* latest piece of >= ARENA_REUSE_MIN bytes, in use */
    size_t big_size;           /* its rounded size */
    void *spare;               /* a freed big piece, to be handed out again */
    size_t spare_size;         /* its rounded size */
    int exhausted;             /* a piece did not fit in the budget */
};

static inline size_t arena_round(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

#define ARENA_HEADER arena_round(sizeof(codec_msg_t))

/* First blocks of destroyed messages, kept for the next messages: a batch's block is large
 * enough that malloc() maps it afresh each time, and touching new pages costs more than
 * decoding into them. Messages come and go in bursts (a collector frees the batches its
 * workers finished together), so the cache holds dozens of blocks, up to 64 MiB. Shared by
 * all threads (one lock per message, not per field). */
#define ARENA_CACHE_BLOCKS 64
#define ARENA_CACHE_MAX_BLOCK (16u << 20)
#define ARENA_CACHE_MAX_BYTES (64u << 20)

static struct {
    pthread_mutex_t mu;
    int n;
    size_t bytes;
    void *block[ARENA_CACHE_BLOCKS];
    size_t size[ARENA_CACHE_BLOCKS];
} arena_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* A cached block of at least `want` bytes (the smallest), its size in *got; NULL if none. */
static void *arena_cache_take(size_t want, size_t *got)
{
    void *p = NULL;
    pthread_mutex_lock(&arena_cache.mu);
    int best = -1;
    for (int i = 0; i < arena_cache.n; i++) {
        size_t sz = arena_cache.size[i];
        if (sz >= want && (best < 0 || sz < arena_cache.size[best]))
            best = i;
    }
    if (best >= 0) {
        p = arena_cache.block[best];
        *got = arena_cache.size[best];
        arena_cache.bytes -= *got;
        arena_cache.n--;
        arena_cache.block[best] = arena_cache.block[arena_cache.n];
        arena_cache.size[best] = arena_cache.size[arena_cache.n];
    }
    pthread_mutex_unlock(&arena_cache.mu);
    return p;
}

/* Keeps a first block for reuse, or frees it (a full cache gives up its smallest block). */
static void arena_cache_put(void *block, size_t size)
{
    if (size > ARENA_CACHE_MAX_BLOCK) {
        free(block);
        return;
    }
    ZFLOW_POISON(block, size);
    pthread_mutex_lock(&arena_cache.mu);
    if (arena_cache.n < ARENA_CACHE_BLOCKS && arena_cache.bytes + size <= ARENA_CACHE_MAX_BYTES) {
        arena_cache.block[arena_cache.n] = block;
        arena_cache.size[arena_cache.n] = size;
        arena_cache.n++;
        arena_cache.bytes += size;
        block = NULL;
    } else if (arena_cache.n) {
        int small = 0;
        for (int i = 1; i < arena_cache.n; i++)
            if (arena_cache.size[i] < arena_cache.size[small])
                small = i;
        size_t out_size = arena_cache.size[small];
        if (out_size < size && arena_cache.bytes - out_size + size <= ARENA_CACHE_MAX_BYTES) {
            void *out = arena_cache.block[small];
            arena_cache.block[small] = block;
            arena_cache.size[small] = size;
            arena_cache.bytes += size - out_size;
            block = out;
        }
    }
    pthread_mutex_unlock(&arena_cache.mu);
    free(block);
}

/* Starts a new block with room for `size` bytes. Returns 0, or -1 when it would go over the
 * budget (m->exhausted is set) or out of memory. */
static int arena_grow(codec_msg_t *m, size_t size)
{
    /* (left is a multiple of ARENA_ALIGN, so a size that fits still fits rounded) */
    size_t room = m->left > sizeof(arena_block_t) ? m->left - sizeof(arena_block_t) : 0;
    if (size > room) {
        m->exhausted = 1;
        return -1;
    }
    size_t need = sizeof(arena_block_t) + arena_round(size);
    size_t bsize = m->grow > need ? m->grow : need;
    if (bsize > m->left) bsize = m->left;
    arena_block_t *b = malloc(bsize);
    if (!b) return -1;
    b->next = m->more;
    m->more = b;
    m->left -= bsize;
    m->grow = 2 * bsize;
    m->next = (unsigned char *)(b + 1);
    m->end = (unsigned char *)b + bsize;
    ZFLOW_POISON(m->next, (size_t)(m->end - m->next));
    return 0;
}

static void *arena_alloc(void *data, size_t size)
{
    codec_msg_t *m = data;
    if (size == 0) size = 1;
    if (size >= ARENA_REUSE_MIN && m->spare && size <= m->spare_size) {
        void *p = m->spare;
        m->spare = NULL;
        m->big = p;
        m->big_size = m->spare_size;
        ZFLOW_UNPOISON(p, size);
        return p;
    }
    /* the free part is a multiple of ARENA_ALIGN, so a size that fits still fits rounded */
    if (size > (size_t)(m->end - m->next) && arena_grow(m, size) != 0) return NULL;
    void *p = m->next;
    m->next += arena_round(size);
    ZFLOW_UNPOISON(p, size);
    if (size >= ARENA_REUSE_MIN) {
        m->big = p;
        m->big_size = arena_round(size);
    }
    return p;
}

static void arena_free(void *data, void *ptr)
{
    codec_msg_t *m = data;
    /* Everything else goes with the arena: only the latest big piece has a known size. */
    if (ptr && ptr == m->big) {
        m->spare = ptr;
        m->spare_size = m->big_size;
        m->big = NULL;
        ZFLOW_POISON(ptr, m->spare_size);
    }
}

/* A string is valid when absent or at most CODEC_MAX_STRING bytes. */
static int str_ok(const char *s)
{
    return !s || strnlen(s, CODEC_MAX_STRING + 1) <= CODEC_MAX_STRING;
}

static int addr_len_ok(size_t len)
{
    return len == 0 || len == 4 || len == 16;
}

codec_error_t codec_check_flow(const Zflow__Flow *f)
{
    if (!f) return CODEC_ERR_RANGE;
    size_t want = f->ip_version == 4 ? 4 : f->ip_version == 6 ? 16 : 0;
    if (!want || f->client_ip.len != want || f->server_ip.len != want) return CODEC_ERR_RANGE;
    if (f->client_port > 65535 || f->server_port > 65535 || f->l4_proto > 255)
        return CODEC_ERR_RANGE;
    if (f->event < ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW ||
        f->event > ZFLOW__FLOW_EVENT__FLOW_EVENT_END)
        return CODEC_ERR_RANGE;
    if (f->end_reason < ZFLOW__END_REASON__END_REASON_NONE ||
        f->end_reason > ZFLOW__END_REASON__END_REASON_PROBE_RESTART)
        return CODEC_ERR_RANGE;
    if (f->event != ZFLOW__FLOW_EVENT__FLOW_EVENT_END &&
        f->end_reason != ZFLOW__END_REASON__END_REASON_NONE)
        return CODEC_ERR_RANGE;
    if (f->tunnel_type < ZFLOW__TUNNEL_TYPE__TUNNEL_NONE ||
        f->tunnel_type > ZFLOW__TUNNEL_TYPE__TUNNEL_TEREDO)
        return CODEC_ERR_RANGE;
    if ((f->c2s_tcp_flags | f->s2c_tcp_flags | f->c2s_tos | f->s2c_tos | f->min_ttl | f->max_ttl |
         f->icmp_type | f->icmp_code) > 255)
        return CODEC_ERR_RANGE;
    if (f->vlan_outer > 4095 || f->vlan_inner > 4095) return CODEC_ERR_RANGE;
    if ((f->client_mac.len != 0 && f->client_mac.len != 6) ||
        (f->server_mac.len != 0 && f->server_mac.len != 6))
        return CODEC_ERR_RANGE;
    if (!addr_len_ok(f->tunnel_outer_src.len) || !addr_len_ok(f->tunnel_outer_dst.len))
        return CODEC_ERR_RANGE;
    if (!str_ok(f->l7_master_name) || !str_ok(f->l7_app_name) || !str_ok(f->l7_proto_name) ||
        !str_ok(f->l7_category) || !str_ok(f->server_name) || !str_ok(f->interface) ||
        !str_ok(f->community_id))
        return CODEC_ERR_RANGE;
    return CODEC_OK;
}

static codec_error_t hello_check(const Zflow__Hello *h)
{
    if (!str_ok(h->software_version) || !str_ok(h->hostname) || !str_ok(h->interface) ||
        !str_ok(h->link_type) || !str_ok(h->bpf_filter))
        return CODEC_ERR_RANGE;
    return CODEC_OK;
}

static codec_error_t stats_check(const Zflow__Stats *s)
{
    if (!str_ok(s->interface) || s->n_decode_error_counters > CODEC_MAX_COUNTERS)
        return CODEC_ERR_RANGE;
    for (size_t i = 0; i < s->n_decode_error_counters; i++) {
        const Zflow__Counter *c = s->decode_error_counters[i];
        if (!c || !str_ok(c->name)) return CODEC_ERR_RANGE;
    }
    return CODEC_OK;
}

/* Unknown fields are kept (a newer sender may add fields), but field number 0 does not exist:
 * protobuf-c takes it as an unknown field and would write it back as bytes no reader accepts. */
static int unknown_ok(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) return 0;
    return 1;
}

/* unknown_ok() for the envelope and every message in it. */
static int all_unknown_ok(const Zflow__Envelope *env)
{
    if (!unknown_ok(&env->base)) return 0;
    switch (env->payload_case) {
    case ZFLOW__ENVELOPE__PAYLOAD_FLOWS:
        if (!unknown_ok(&env->flows->base)) return 0;
        for (size_t i = 0; i < env->flows->n_flows; i++)
            if (!unknown_ok(&env->flows->flows[i]->base)) return 0;
        return 1;
    case ZFLOW__ENVELOPE__PAYLOAD_HELLO:
        return unknown_ok(&env->hello->base);
    case ZFLOW__ENVELOPE__PAYLOAD_STATS:
        if (!unknown_ok(&env->stats->base)) return 0;
        for (size_t i = 0; i < env->stats->n_decode_error_counters; i++)
            if (!unknown_ok(&env->stats->decode_error_counters[i]->base)) return 0;
        return 1;
    case ZFLOW__ENVELOPE__PAYLOAD_ACK:
        return unknown_ok(&env->ack->base);
    default:
        return 1;
    }
}

static codec_error_t envelope_check_fields(const Zflow__Envelope *env);

static codec_error_t envelope_check(const Zflow__Envelope *env)
{
    codec_error_t err = envelope_check_fields(env);
    if (err == CODEC_OK && !all_unknown_ok(env)) err = CODEC_ERR_UNPACK;
    return err;
}

static codec_error_t envelope_check_fields(const Zflow__Envelope *env)
{
    if (env->schema_version != CODEC_SCHEMA_VERSION) return CODEC_ERR_VERSION;
    if (!env->probe_id || !env->probe_id[0]) return CODEC_ERR_NO_PROBE_ID;
    if (!str_ok(env->probe_id)) return CODEC_ERR_RANGE;
    switch (env->payload_case) {
    case ZFLOW__ENVELOPE__PAYLOAD_FLOWS:
        if (!env->flows) return CODEC_ERR_NO_PAYLOAD;
        if (env->seq == 0 || env->flows->n_flows > CODEC_MAX_FLOWS_PER_BATCH)
            return CODEC_ERR_RANGE;
        for (size_t i = 0; i < env->flows->n_flows; i++) {
            codec_error_t err = codec_check_flow(env->flows->flows[i]);
            if (err != CODEC_OK) return err;
        }
        return CODEC_OK;
    case ZFLOW__ENVELOPE__PAYLOAD_HELLO:
        if (!env->hello) return CODEC_ERR_NO_PAYLOAD;
        return env->seq == 0 ? CODEC_ERR_RANGE : hello_check(env->hello);
    case ZFLOW__ENVELOPE__PAYLOAD_STATS:
        if (!env->stats) return CODEC_ERR_NO_PAYLOAD;
        return env->seq == 0 ? CODEC_ERR_RANGE : stats_check(env->stats);
    case ZFLOW__ENVELOPE__PAYLOAD_ACK:
        if (!env->ack) return CODEC_ERR_NO_PAYLOAD;
        return env->ack->n_seqs > CODEC_MAX_ACK_SEQS ? CODEC_ERR_RANGE : CODEC_OK;
    default:
        return CODEC_ERR_NO_PAYLOAD;
    }
}

codec_error_t codec_unpack(const uint8_t *buf, size_t len, codec_msg_t **out)
{
    *out = NULL;
    if (!buf || len == 0) return CODEC_ERR_EMPTY;
    if (len > CODEC_MAX_MESSAGE) return CODEC_ERR_TOO_BIG;
    size_t budget = (CODEC_UNPACK_BUDGET + 4 * len) & ~(ARENA_ALIGN - 1);
    size_t first = arena_round(ARENA_HEADER + ARENA_FIRST_FIXED + ARENA_FIRST_PER_BYTE * len);
    if (first > budget) first = budget;
    size_t got = 0;
    codec_msg_t *m = arena_cache_take(first, &got);
    if (m) {
        ZFLOW_UNPOISON(m, ARENA_HEADER); /* (only `first` bytes of it are used: the budget) */
    } else if (!(m = malloc(first))) {
        return CODEC_ERR_UNPACK;
    } else {
        got = first;
    }
    *m = (codec_msg_t){.size = got,
                       .next = (unsigned char *)m + ARENA_HEADER,
                       .end = (unsigned char *)m + first,
                       .left = budget - first,
                       .grow = 2 * first};
    ZFLOW_POISON(m->next, first - ARENA_HEADER);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, m};
    m->env = zflow__envelope__unpack(&alloc, len, buf);
    codec_error_t err = CODEC_ERR_UNPACK;
    if (m->env)
        err = envelope_check(m->env);
    else if (m->exhausted)
        err = CODEC_ERR_TOO_BIG;
    if (err != CODEC_OK) {
        codec_msg_destroy(&m);
        return err;
    }
    *out = m;
    return CODEC_OK;
}

Zflow__Envelope *codec_msg_env(const codec_msg_t *msg)
{
    return msg ? msg->env : NULL;
}

void codec_msg_destroy(codec_msg_t **pmsg)
{
    if (!pmsg || !*pmsg) return;
    codec_msg_t *m = *pmsg;
    arena_block_t *b = m->more;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    arena_cache_put(m, m->size);
    *pmsg = NULL;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Bounded writer: every write checks the room left; once something did not fit, `full` is set
 * and nothing more is written. */
typedef struct jw {
    char *p;
    char *end;
    int full;
} jw_t;

static inline void jw_raw(jw_t *w, const char *s, size_t n)
{
    if ((size_t)(w->end - w->p) < n) {
        w->full = 1;
        w->p = w->end;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define JW_LIT(w, lit) jw_raw(w, lit, sizeof(lit) - 1)

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Writes v in decimal at p (room for 20 bytes); returns the end. */
static inline char *u64_put(char *p, uint64_t v)
{
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    size_t n = 2;
    for (uint64_t t = v; t >= 100; t /= 10)
        n++;
    char *q = p + n;
    while (v >= 100) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return p + n;
}

static inline void jw_u64(jw_t *w, uint64_t v)
{
    char tmp[20];
    jw_raw(w, tmp, (size_t)(u64_put(tmp, v) - tmp));
}

static const char hex_digits[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] does not start one. */
static size_t utf8_seq_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* Writes s (n bytes) as a JSON string: quotes, backslash and control characters escaped,
 * valid UTF-8 copied, every byte of invalid UTF-8 as \u00XX. */
static void jw_strn(jw_t *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    JW_LIT(w, "\"");
    while (s < end && !w->full) {
        const unsigned char *run = s;
        while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
            s++;
        if (s > run) jw_raw(w, (const char *)run, (size_t)(s - run));
        if (s >= end) break;
        unsigned char c = *s;
        if (c == '"') {
            JW_LIT(w, "\\\"");
        } else if (c == '\\') {
            JW_LIT(w, "\\\\");
        } else if (c == '\n') {
            JW_LIT(w, "\\n");
        } else if (c == '\r') {
            JW_LIT(w, "\\r");
        } else if (c == '\t') {
            JW_LIT(w, "\\t");
        } else if (c == '\b') {
            JW_LIT(w, "\\b");
        } else if (c == '\f') {
            JW_LIT(w, "\\f");
        } else {
            size_t len = c >= 0x80 ? utf8_seq_len(s, end) : 0;
            if (len) {
                jw_raw(w, (const char *)s, len);
                s += len;
                continue;
            }
            char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
            jw_raw(w, esc, sizeof esc);
        }
        s++;
    }
    JW_LIT(w, "\"");
}

static inline void jw_str(jw_t *w, const char *s)
{
    jw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

/* IPv4 by hand (same text as inet_ntop), IPv6 through inet_ntop; "" for other lengths. */
static void jw_addr(jw_t *w, const ProtobufCBinaryData *a)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    char *p = tmp;
    *p++ = '"';
    if (a->len == 4) {
        for (int i = 0; i < 4; i++) {
            unsigned v = a->data[i];
            if (i) *p++ = '.';
            if (v >= 100) *p++ = (char)('0' + v / 100);
            if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
        }
    } else if (a->len == 16) {
        if (!inet_ntop(AF_INET6, a->data, p, INET6_ADDRSTRLEN)) *p = '\0';
        p += strlen(p);
    }
    *p++ = '"';
    jw_raw(w, tmp, (size_t)(p - tmp));
}

static void jw_mac(jw_t *w, const ProtobufCBinaryData *m)
{
    if (m->len != 6) {
        JW_LIT(w, "\"\"");
        return;
    }
    char tmp[19];
    char *p = tmp;
    *p++ = '"';
    for (int i = 0; i < 6; i++) {
        if (i) *p++ = ':';
        *p++ = hex_digits[m->data[i] >> 4];
        *p++ = hex_digits[m->data[i] & 15];
    }
    *p++ = '"';
    jw_raw(w, tmp, (size_t)(p - tmp));
}

/* Key and number; with room for both (the common case) written without a temporary. */
#define JW_NUM(w, key, v)                                                                          \
    do {                                                                                           \
        static const char jw_key_[] = ",\"" key "\":";                                             \
        if ((w)->end - (w)->p >= (ptrdiff_t)(sizeof jw_key_ + 20)) {                               \
            memcpy((w)->p, jw_key_, sizeof jw_key_ - 1);                                           \
            (w)->p = u64_put((w)->p + sizeof jw_key_ - 1, (uint64_t)(v));                          \
        } else {                                                                                   \
            jw_raw(w, jw_key_, sizeof jw_key_ - 1);                                                \
            jw_u64(w, (uint64_t)(v));                                                              \
        }                                                                                          \
    } while (0)
#define JW_STR(w, key, s)                                                                          \
    do {                                                                                           \
        JW_LIT(w, ",\"" key "\":");                                                                \
        jw_str(w, s);                                                                              \
    } while (0)
#define JW_NAME(w, key, s)                                                                         \
    do {                                                                                           \
        JW_LIT(w, ",\"" key "\":\"");                                                              \
        const char *jw_s_ = (s);                                                                   \
        jw_raw(w, jw_s_, strlen(jw_s_));                                                           \
        JW_LIT(w, "\"");                                                                           \
    } while (0)
#define JW_ADDR(w, key, a)                                                                         \
    do {                                                                                           \
        JW_LIT(w, ",\"" key "\":");                                                                \
        jw_addr(w, a);                                                                             \
    } while (0)
#define JW_MAC(w, key, m)                                                                          \
    do {                                                                                           \
        JW_LIT(w, ",\"" key "\":");                                                                \
        jw_mac(w, m);                                                                              \
    } while (0)

int codec_flow_to_json_buf(const Zflow__Flow *f, char *buf, size_t size)
{
    if (size > (size_t)INT32_MAX) size = INT32_MAX;
    jw_t w = {.p = buf, .end = buf + size, .full = 0};
    JW_LIT(&w, "{\"flow_id\":");
    jw_u64(&w, f->flow_id);
    JW_NAME(&w, "event", codec_event_name(f->event));
    JW_NAME(&w, "end_reason", codec_end_reason_name(f->end_reason));
    JW_NUM(&w, "first_seen_ns", f->first_seen_ns);
    JW_NUM(&w, "last_seen_ns", f->last_seen_ns);
    JW_NUM(&w, "ip_version", f->ip_version);
    JW_ADDR(&w, "client_ip", &f->client_ip);
    JW_ADDR(&w, "server_ip", &f->server_ip);
    JW_NUM(&w, "client_port", f->client_port);
    JW_NUM(&w, "server_port", f->server_port);
    JW_NUM(&w, "l4_proto", f->l4_proto);
    JW_NUM(&w, "c2s_bytes", f->c2s_bytes);
    JW_NUM(&w, "s2c_bytes", f->s2c_bytes);
    JW_NUM(&w, "c2s_packets", f->c2s_packets);
    JW_NUM(&w, "s2c_packets", f->s2c_packets);
    JW_NUM(&w, "c2s_tcp_flags", f->c2s_tcp_flags);
    JW_NUM(&w, "s2c_tcp_flags", f->s2c_tcp_flags);
    JW_NUM(&w, "c2s_tos", f->c2s_tos);
    JW_NUM(&w, "s2c_tos", f->s2c_tos);
    JW_NUM(&w, "min_ttl", f->min_ttl);
    JW_NUM(&w, "max_ttl", f->max_ttl);
    JW_NUM(&w, "icmp_type", f->icmp_type);
    JW_NUM(&w, "icmp_code", f->icmp_code);
    JW_NUM(&w, "vlan_outer", f->vlan_outer);
    JW_NUM(&w, "vlan_inner", f->vlan_inner);
    JW_MAC(&w, "client_mac", &f->client_mac);
    JW_MAC(&w, "server_mac", &f->server_mac);
    JW_NAME(&w, "tunnel_type", codec_tunnel_name(f->tunnel_type));
    JW_NUM(&w, "tunnel_id", f->tunnel_id);
    JW_ADDR(&w, "tunnel_outer_src", &f->tunnel_outer_src);
    JW_ADDR(&w, "tunnel_outer_dst", &f->tunnel_outer_dst);
    JW_NUM(&w, "l7_master_id", f->l7_master_id);
    JW_NUM(&w, "l7_app_id", f->l7_app_id);
    JW_STR(&w, "l7_master_name", f->l7_master_name);
    JW_STR(&w, "l7_app_name", f->l7_app_name);
    JW_STR(&w, "l7_proto_name", f->l7_proto_name);
    JW_NUM(&w, "l7_category_id", f->l7_category_id);
    JW_STR(&w, "l7_category", f->l7_category);
    JW_NUM(&w, "l7_risk", f->l7_risk);
    JW_STR(&w, "server_name", f->server_name);
    JW_NUM(&w, "client_rtt_us", f->client_rtt_us);
    JW_NUM(&w, "server_rtt_us", f->server_rtt_us);
    JW_NUM(&w, "c2s_retransmissions", f->c2s_retransmissions);
    JW_NUM(&w, "s2c_retransmissions", f->s2c_retransmissions);
    JW_STR(&w, "interface", f->interface);
    JW_STR(&w, "community_id", f->community_id);
    JW_NUM(&w, "l7_risk_score", f->l7_risk_score);
    JW_LIT(&w, "}\n");
    if (w.full) return -1;
    if (w.p < w.end) *w.p = '\0';
    return (int)(w.p - buf);
}

/* Worst case of a flow's JSON: the fixed part plus 6 output bytes per string byte. */
static size_t flow_json_worst(const Zflow__Flow *f)
{
    return 4096 + 6 * (str_len(f->l7_master_name) + str_len(f->l7_app_name) +
                       str_len(f->l7_proto_name) + str_len(f->l7_category) +
                       str_len(f->server_name) + str_len(f->interface) + str_len(f->community_id));
}

int codec_flow_to_json(const Zflow__Flow *flow, FILE *out)
{
    char stack_buf[8192];
    char *heap_buf = NULL;
    int n = codec_flow_to_json_buf(flow, stack_buf, sizeof stack_buf);
    const char *text = stack_buf;
    if (n < 0) {
        size_t size = flow_json_worst(flow);
        heap_buf = malloc(size);
        if (!heap_buf) goto fail;
        n = codec_flow_to_json_buf(flow, heap_buf, size);
        if (n < 0) goto fail;
        text = heap_buf;
    }
    if (fwrite(text, 1, (size_t)n, out) != (size_t)n) goto fail;
    free(heap_buf);
    return 0;
fail:
    free(heap_buf);
    return -1;
}
