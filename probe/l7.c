/* l7: application protocol detection with nDPI (Debian's libndpi 4.2). */
#include "l7.h"

#include "flow_record.h"

#include <ndpi/ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Packets fed to nDPI before detection is given up, per transport. nDPI decides almost every
 * protocol it knows within the first few packets of each direction; flows it cannot classify
 * would otherwise eat the budget (measured on generated__big-mix: 32/16/8 cost twice the nDPI
 * time of 16/8/4, and 12/6/4 gives the same protocol names on all but a handful of its 8000
 * flows). */
#define L7_BUDGET_TCP 12
#define L7_BUDGET_UDP 6
#define L7_BUDGET_OTHER 4

#define L7_POOL_MAX 1024 /* finished per-flow states kept for reuse (avoids malloc churn) */

struct l7 {
    struct ndpi_detection_module_struct *ndpi;
    struct l7_state *pool;   /* reusable states, chained through `next` */
    unsigned pool_n;
    uint64_t packets;        /* packets given to nDPI */
    uint64_t flows_done;     /* detections finished (known, extra dissection over or budget) */
    uint64_t budget_hits;    /* detections ended by the packet budget */
};

struct l7_state {
    struct ndpi_flow_struct *nf;
    struct l7_state *next;   /* in the pool */
    l7_t *owner;
    uint16_t packets;
};

l7_t *l7_new(void)
{
    l7_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!self->ndpi)
        goto fail;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(self->ndpi, &all);
    ndpi_finalize_initialization(self->ndpi);
    return self;
fail:
    free(self);
    return NULL;
}

void l7_destroy(l7_t **self)
{
    if (!self || !*self)
        return;
    while ((*self)->pool) {
        struct l7_state *st = (*self)->pool;
        (*self)->pool = st->next;
        ndpi_flow_free(st->nf); /* its members were freed when it entered the pool */
        free(st);
    }
    if ((*self)->ndpi)
        ndpi_exit_detection_module((*self)->ndpi);
    free(*self);
    *self = NULL;
}

void l7_get_stats(const l7_t *self, uint64_t *packets, uint64_t *done, uint64_t *budget_hits)
{
    *packets = self->packets;
    *done = self->flows_done;
    *budget_hits = self->budget_hits;
}

size_t l7_state_size(void)
{
    return sizeof(struct l7_state) + SIZEOF_FLOW_STRUCT;
}

void l7_release(flow_t *flow)
{
    struct l7_state *st = flow->l7_state;
    if (!st)
        return;
    flow->l7_state = NULL;
    l7_t *owner = st->owner;
    if (owner->pool_n < L7_POOL_MAX) {
        ndpi_free_flow_data(st->nf); /* what nDPI allocated inside; the struct is reused */
        memset(st->nf, 0, SIZEOF_FLOW_STRUCT);
        st->next = owner->pool;
        owner->pool = st;
        owner->pool_n++;
        return;
    }
    ndpi_free_flow(st->nf);
    free(st);
}

/* Copies nDPI's verdict into flow->l7 (allocated with room for the server name). */
static int l7_store(l7_t *self, flow_t *flow, ndpi_protocol proto)
{
    struct ndpi_flow_struct *nf = flow->l7_state->nf;
    const char *name = nf->host_server_name;
    size_t nlen = strnlen(name, sizeof nf->host_server_name);
    int had = flow->l7 != NULL;
    flow_l7_t *res = realloc(flow->l7, sizeof *res + nlen + 1);
    if (!res)
        return -1;
    if (!had && flow_community_id(flow, res->community_id) != 0)
        res->community_id[0] = '\0';
    res->detected = 1;
    res->master_id = proto.master_protocol;
    res->app_id = proto.app_protocol;
    res->category_id = (uint16_t)proto.category;
    uint16_t cli_score = 0, srv_score = 0;
    res->risk = nf->risk;
    res->risk_score = nf->risk ? ndpi_risk2score(nf->risk, &cli_score, &srv_score) : 0;
    memcpy(res->server_name, name, nlen);
    res->server_name[nlen] = '\0';
    flow->l7 = res;
    (void)self;
    return 0;
}

void l7_begin(flow_t *flow)
{
    if (flow->l7)
        return;
    flow_l7_t *res = calloc(1, sizeof *res + 1);
    if (!res)
        return; /* each export computes the Community ID itself */
    if (flow_community_id(flow, res->community_id) != 0)
        res->community_id[0] = '\0';
    flow->l7 = res;
}

static void l7_finish(l7_t *self, flow_t *flow, ndpi_protocol proto)
{
    l7_store(self, flow, proto);
    l7_release(flow);
    flow->l7_done = 1;
}

int l7_process(l7_t *self, flow_t *flow, const packet_t *pkt)
{
    if (flow->l7_done)
        return 0;
    if (!pkt->l3 || pkt->l3_len == 0)
        return 0;
    struct l7_state *st = flow->l7_state;
    if (!st) {
        if (self->pool) {
            st = self->pool;
            self->pool = st->next;
            self->pool_n--;
        } else {
            st = calloc(1, sizeof *st);
            if (!st)
                goto fail;
            st->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
            if (!st->nf) {
                free(st);
                goto fail;
            }
        }
        memset(st->nf, 0, SIZEOF_FLOW_STRUCT);
        st->next = NULL;
        st->owner = self;
        st->packets = 0;
        flow->l7_state = st;
    }
    uint16_t len = pkt->l3_len > 65535 ? 65535 : (uint16_t)pkt->l3_len;
    ndpi_protocol proto =
        ndpi_detection_process_packet(self->ndpi, st->nf, pkt->l3, len, pkt->ts_ns / 1000000u);
    st->packets++;
    self->packets++;

    int known = proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (known && !ndpi_extra_dissection_possible(self->ndpi, st->nf)) {
        l7_finish(self, flow, proto);
        self->flows_done++;
        return 1;
    }
    unsigned budget = flow->key.l4_proto == 6    ? L7_BUDGET_TCP
                      : flow->key.l4_proto == 17 ? L7_BUDGET_UDP
                                                 : L7_BUDGET_OTHER;
    if (st->packets >= budget) {
        self->flows_done++;
        self->budget_hits++;
        if (!known) {
            uint8_t guessed = 0;
            proto = ndpi_detection_giveup(self->ndpi, st->nf, 1, &guessed);
        }
        l7_finish(self, flow, proto);
        return 1;
    }
    return 0;
fail:
    flow->l7_done = 1;
    return -1;
}

int l7_giveup(l7_t *self, flow_t *flow)
{
    if (flow->l7_done || !flow->l7_state)
        return 0;
    uint8_t guessed = 0;
    ndpi_protocol proto = ndpi_detection_giveup(self->ndpi, flow->l7_state->nf, 1, &guessed);
    l7_finish(self, flow, proto);
    return 1;
}

const char *l7_proto_id_name(l7_t *self, uint16_t id)
{
    const char *n = ndpi_get_proto_name(self->ndpi, id);
    return n ? n : "Unknown";
}

const char *l7_category_name(l7_t *self, uint16_t category)
{
    const char *n = ndpi_category_get_name(self->ndpi, (ndpi_protocol_category_t)category);
    return n ? n : "Unspecified";
}

const char *l7_full_name(l7_t *self, uint16_t master, uint16_t app, char *buf, size_t size)
{
    /* nDPI's "Master.App" (just one name when they are the same or one is unknown), built
     * without ndpi_protocol2name()'s snprintf: it runs for every exported flow event */
    const char *m = master ? l7_proto_id_name(self, master) : NULL;
    const char *a = app ? l7_proto_id_name(self, app) : NULL;
    if (m && a && master != app) {
        size_t ml = strlen(m), al = strlen(a);
        if (ml + 1 + al < size) {
            memcpy(buf, m, ml);
            buf[ml] = '.';
            memcpy(buf + ml + 1, a, al + 1);
            return buf;
        }
    }
    const char *one = a ? a : m ? m : "Unknown";
    size_t n = strlen(one);
    if (n >= size)
        n = size - 1;
    memcpy(buf, one, n);
    buf[n] = '\0';
    return buf;
}
