/* netstats: traffic of each local network aggregated over every probe. */
#include "netstats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VICTIM_PORTS 1024 /* distinct ports remembered per SYN victim */

/* A local host of one network: when it was last seen, and SYN-only flows it received. */
typedef struct host_entry {
    uint8_t addr[16];
    uint8_t used;
    int64_t last_seen_s;
    int64_t syn_window_s;     /* start of the window the SYN counters belong to */
    uint32_t syn_flows;
    uint16_t n_ports;
    uint16_t *ports;          /* distinct destination ports, allocated on the first SYN flow */
} host_entry_t;

typedef struct net_state {
    net_counters_t c;
    pthread_mutex_t lock;     /* guards hosts */
    host_entry_t *hosts;      /* open addressing, NETSTATS_MAX_HOSTS * 2 slots, lazily allocated */
    uint32_t n_hosts;
} net_state_t;

struct netstats {
    const netset_t *nets;
    net_state_t *net;
};

netstats_t *netstats_new(const netset_t *nets)
{
    netstats_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nets = nets;
    self->net = calloc((size_t)(nets->n ? nets->n : 1), sizeof *self->net);
    if (!self->net) {
        free(self);
        return NULL;
    }
    for (int i = 0; i < nets->n; i++)
        pthread_mutex_init(&self->net[i].lock, NULL);
    return self;
}

void netstats_destroy(netstats_t **pself)
{
    if (!pself || !*pself)
        return;
    netstats_t *self = *pself;
    for (int i = 0; i < self->nets->n; i++) {
        net_state_t *n = &self->net[i];
        if (n->hosts)
            for (uint32_t j = 0; j < NETSTATS_MAX_HOSTS * 2; j++)
                free(n->hosts[j].ports);
        free(n->hosts);
        pthread_mutex_destroy(&n->lock);
    }
    free(self->net);
    free(self);
    *pself = NULL;
}

void netstats_classify(const netstats_t *self, cflow_t *f)
{
    f->cli_net = (int16_t)netset_find(self->nets, f->ip_version, f->cli_ip);
    f->srv_net = (int16_t)netset_find(self->nets, f->ip_version, f->srv_ip);
    f->cli_local = f->cli_net >= 0;
    f->srv_local = f->srv_net >= 0;
}

static inline void add(_Atomic uint64_t *v, uint64_t d)
{
    if (d)
        atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static uint32_t addr_hash(const uint8_t *a)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, a + 8, 8);
    x = (x ^ (y * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(x >> 32);
}

/* Finds or adds a host; NULL when the table is full. Caller holds n->lock. */
static host_entry_t *host_get(net_state_t *n, const uint8_t *addr)
{
    if (!n->hosts) {
        n->hosts = calloc(NETSTATS_MAX_HOSTS * 2, sizeof *n->hosts);
        if (!n->hosts)
            return NULL;
    }
    uint32_t mask = NETSTATS_MAX_HOSTS * 2 - 1;
    uint32_t i = addr_hash(addr) & mask;
    while (n->hosts[i].used) {
        if (memcmp(n->hosts[i].addr, addr, 16) == 0)
            return &n->hosts[i];
        i = (i + 1) & mask;
    }
    if (n->n_hosts >= NETSTATS_MAX_HOSTS) {
        add(&n->c.hosts_overflow, 1);
        return NULL;
    }
    n->hosts[i].used = 1;
    memcpy(n->hosts[i].addr, addr, 16);
    n->n_hosts++;
    return &n->hosts[i];
}

static void host_seen(net_state_t *n, const uint8_t *addr, int64_t now_s)
{
    pthread_mutex_lock(&n->lock);
    host_entry_t *h = host_get(n, addr);
    if (h)
        h->last_seen_s = now_s;
    pthread_mutex_unlock(&n->lock);
}

/* A SYN-only flow towards a local host: counted per minute window with its distinct ports. */
static void host_syn(net_state_t *n, const uint8_t *addr, uint16_t port, int64_t now_s)
{
    pthread_mutex_lock(&n->lock);
    host_entry_t *h = host_get(n, addr);
    if (h) {
        h->last_seen_s = now_s;
        int64_t window = now_s - now_s % 60;
        if (h->syn_window_s != window) {
            h->syn_window_s = window;
            h->syn_flows = 0;
            h->n_ports = 0;
        }
        h->syn_flows++;
        if (!h->ports)
            h->ports = calloc(VICTIM_PORTS, sizeof *h->ports);
        if (h->ports && h->n_ports < VICTIM_PORTS) {
            int known = 0;
            for (uint16_t k = 0; k < h->n_ports && !known; k++)
                known = h->ports[k] == port;
            if (!known)
                h->ports[h->n_ports++] = port;
        }
    }
    pthread_mutex_unlock(&n->lock);
}

void netstats_flow(netstats_t *self, const cflow_t *f, uint64_t d_c2s_bytes, uint64_t d_s2c_bytes,
                   uint64_t d_c2s_packets, uint64_t d_s2c_packets, int is_new, int is_end,
                   int64_t now_s)
{
    int cn = f->cli_net, sn = f->srv_net;
    if (cn < 0 && sn < 0)
        return;
    if (cn >= 0 && cn == sn) {
        net_counters_t *c = &self->net[cn].c;
        add(&c->inner_bytes, d_c2s_bytes + d_s2c_bytes);
        add(&c->inner_packets, d_c2s_packets + d_s2c_packets);
    } else {
        if (cn >= 0) { /* client inside: c2s leaves the network */
            net_counters_t *c = &self->net[cn].c;
            add(&c->egress_bytes, d_c2s_bytes);
            add(&c->egress_packets, d_c2s_packets);
            add(&c->ingress_bytes, d_s2c_bytes);
            add(&c->ingress_packets, d_s2c_packets);
        }
        if (sn >= 0) {
            net_counters_t *c = &self->net[sn].c;
            add(&c->ingress_bytes, d_c2s_bytes);
            add(&c->ingress_packets, d_c2s_packets);
            add(&c->egress_bytes, d_s2c_bytes);
            add(&c->egress_packets, d_s2c_packets);
        }
    }
    int nets[2] = {cn, sn == cn ? -1 : sn};
    for (int k = 0; k < 2; k++) {
        if (nets[k] < 0)
            continue;
        if (is_new)
            add(&self->net[nets[k]].c.flows_new, 1);
        if (is_end)
            add(&self->net[nets[k]].c.flows_ended, 1);
    }
    if (is_new || is_end) {
        if (cn >= 0)
            host_seen(&self->net[cn], f->cli_ip, now_s);
        if (sn >= 0)
            host_seen(&self->net[sn], f->srv_ip, now_s);
    }
    /* SYN-only: the client sent SYN, no ACK ever came from it, nothing but RST came back */
    if (is_end && f->l4_proto == 6 && (f->c2s_tcp_flags & 0x02) && !(f->c2s_tcp_flags & 0x10) &&
        (f->s2c_tcp_flags & ~0x14) == 0 && sn >= 0) {
        add(&self->net[sn].c.syn_only_flows, 1);
        host_syn(&self->net[sn], f->srv_ip, f->srv_port, now_s);
    }
}

int netstats_count(const netstats_t *self)
{
    return self->nets->n;
}

const char *netstats_name(const netstats_t *self, int i)
{
    return i >= 0 && i < self->nets->n ? self->nets->nets[i].text : "";
}

void netstats_snapshot(netstats_t *self, int i, int64_t since_s, net_snapshot_t *o)
{
    memset(o, 0, sizeof *o);
    if (i < 0 || i >= self->nets->n)
        return;
    net_state_t *n = &self->net[i];
#define LOAD(x) o->x = atomic_load_explicit(&n->c.x, memory_order_relaxed)
    LOAD(ingress_bytes);
    LOAD(egress_bytes);
    LOAD(inner_bytes);
    LOAD(ingress_packets);
    LOAD(egress_packets);
    LOAD(inner_packets);
    LOAD(flows_new);
    LOAD(flows_ended);
    LOAD(syn_only_flows);
#undef LOAD
    pthread_mutex_lock(&n->lock);
    if (n->hosts) {
        for (uint32_t j = 0; j < NETSTATS_MAX_HOSTS * 2; j++) {
            host_entry_t *h = &n->hosts[j];
            if (!h->used || h->last_seen_s < since_s)
                continue;
            o->hosts_seen++;
            if (h->syn_window_s + 60 > since_s && h->syn_flows > o->syn_victim_flows) {
                o->syn_victim_flows = h->syn_flows;
                o->syn_victim_ports = h->n_ports;
                memcpy(o->syn_victim, h->addr, 16);
            }
        }
    }
    pthread_mutex_unlock(&n->lock);
}
