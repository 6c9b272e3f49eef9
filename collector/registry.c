/* registry: the probes the collector has heard from, their runs, sequences and interfaces. */
#include "registry.h"

#include "codec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_WINDOW 65536u /* seqs tracked above the contiguous mark; > any probe's unacked cap */

registry_t *registry_new(int n_workers)
{
    registry_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->n_workers = n_workers > 0 ? n_workers : 1;
    self->summaries = calloc(REGISTRY_MAX_PROBES, sizeof *self->summaries);
    if (!self->summaries) {
        free(self);
        return NULL;
    }
    return self;
}

static void run_free(probe_run_t *run)
{
    free(run->applied);
    free(run->inflight);
    memset(run, 0, sizeof *run);
}

void registry_destroy(registry_t **pself)
{
    if (!pself || !*pself)
        return;
    registry_t *self = *pself;
    for (int i = 0; i < self->n_probes; i++) {
        run_free(&self->probes[i]->run);
        codec_msg_destroy(&self->probes[i]->stats_msg);
        free(self->probes[i]);
    }
    for (int i = 0; i < self->n_ifaces; i++)
        free(self->ifaces[i]);
    pthread_mutex_destroy(&self->lock);
    free(self->summaries);
    free(self);
    *pself = NULL;
}

void registry_publish(registry_t *self, uint64_t now_ns)
{
    (void)now_ns;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->n_probes; i++) {
        const probe_t *p = self->probes[i];
        probe_summary_t *s = &self->summaries[i];
        memset(s, 0, sizeof *s);
        snprintf(s->probe_id, sizeof s->probe_id, "%s", p->id);
        snprintf(s->hostname, sizeof s->hostname, "%s", p->hostname);
        snprintf(s->version, sizeof s->version, "%s", p->version);
        s->up = !p->down;
        s->lost = registry_lost(p) + p->lost_prev_runs;
        s->restarts = p->restarts;
        s->messages = p->messages;
        s->flow_events = p->flow_events;
        s->duplicates = p->duplicates;
        s->flows_per_s = p->flows_per_s;
        s->first_seen_s = (int64_t)(p->first_seen_ns / 1000000000ull);
        s->last_seen_s = (int64_t)(p->last_seen_ns / 1000000000ull);
        s->stats_interval_s = p->stats_interval_s;
        if (p->stats_msg) {
            const Zflow__Stats *st = codec_msg_env(p->stats_msg)->stats;
            s->has_stats = 1;
            s->last_stats_s = (int64_t)(p->stats_at_ns / 1000000000ull);
            s->pcap_recv = st->pcap_recv;
            s->pcap_drop = st->pcap_drop;
            s->pcap_ifdrop = st->pcap_ifdrop;
            s->packets = st->packets;
            s->bytes = st->bytes;
            s->active_flows = st->active_flows;
            s->evictions = st->evictions;
            s->export_dropped_batches = st->export_dropped_batches;
            s->export_dropped_flows = st->export_dropped_flows;
            s->decode_errors = st->decode_errors;
        }
        s->n_ifaces = p->n_ifaces;
        for (int j = 0; j < p->n_ifaces; j++)
            s->iface_ids[j] = p->ifaces[j]->id;
    }
    self->n_summaries = self->n_probes;
    pthread_mutex_unlock(&self->lock);
}

int registry_snapshot(registry_t *self, probe_summary_t *out, int max)
{
    pthread_mutex_lock(&self->lock);
    int n = self->n_summaries < max ? self->n_summaries : max;
    if (n > 0)
        memcpy(out, self->summaries, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&self->lock);
    return n;
}

int registry_ifaces(registry_t *self, iface_t **out, int max)
{
    pthread_mutex_lock(&self->lock);
    int n = self->n_ifaces < max ? self->n_ifaces : max;
    if (n > 0)
        memcpy(out, self->ifaces, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&self->lock);
    return n;
}

probe_t *registry_probe(registry_t *self, const char *probe_id, uint64_t now_ns)
{
    for (int i = 0; i < self->n_probes; i++)
        if (strcmp(self->probes[i]->id, probe_id) == 0)
            return self->probes[i];
    if (self->n_probes >= REGISTRY_MAX_PROBES) {
        self->refused_probes++;
        return NULL;
    }
    probe_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", probe_id);
    p->first_seen_ns = p->last_seen_ns = p->rate_t0_ns = now_ns;
    pthread_mutex_lock(&self->lock);
    self->probes[self->n_probes++] = p;
    pthread_mutex_unlock(&self->lock);
    return p;
}

iface_t *registry_iface(registry_t *self, probe_t *probe, const char *name, int is_packet)
{
    if (probe) {
        for (int i = 0; i < probe->n_ifaces; i++)
            if (strcmp(probe->ifaces[i]->name, name) == 0)
                return probe->ifaces[i];
        if (probe->n_ifaces >= PROBE_IFACES_MAX)
            return NULL;
    }
    if (self->n_ifaces >= REGISTRY_MAX_IFACES)
        return NULL;
    iface_t *ifc = calloc(1, sizeof *ifc);
    if (!ifc)
        return NULL;
    ifc->id = self->n_ifaces + 1;
    ifc->worker = self->n_ifaces % self->n_workers;
    ifc->is_packet = is_packet;
    ifc->is_syslog = probe && strncmp(probe->id, "syslog:", 7) == 0;
    snprintf(ifc->name, sizeof ifc->name, "%s", name && *name ? name : "default");
    snprintf(ifc->probe_id, sizeof ifc->probe_id, "%s", probe ? probe->id : "");
    pthread_mutex_lock(&self->lock);
    self->ifaces[self->n_ifaces++] = ifc;
    if (probe)
        probe->ifaces[probe->n_ifaces++] = ifc;
    pthread_mutex_unlock(&self->lock);
    return ifc;
}

int registry_new_run(probe_t *probe, uint64_t run_id)
{
    int restart = probe->run.run_id != 0;
    if (restart) {
        probe->restarts++;
        probe->lost_prev_runs += registry_lost(probe);
    }
    run_free(&probe->run);
    probe->run.run_id = run_id;
    probe->run.hold = 0;
    probe->run.window = SEQ_WINDOW;
    probe->run.applied = calloc(SEQ_WINDOW / 64, sizeof(uint64_t));
    probe->run.inflight = calloc(SEQ_WINDOW / 64, sizeof(uint64_t));
    if (!probe->run.applied || !probe->run.inflight)
        probe->run.window = 0; /* no dedupe window: every seq is treated as new */
    return restart;
}

static inline int bit_get(const uint64_t *bits, uint32_t i)
{
    return (int)((bits[i / 64] >> (i % 64)) & 1u);
}

static inline void bit_set(uint64_t *bits, uint32_t i, int v)
{
    if (v)
        bits[i / 64] |= (uint64_t)1 << (i % 64);
    else
        bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

seq_state_t registry_seq_state(const probe_run_t *run, uint64_t seq)
{
    if (seq == 0 || run->window == 0)
        return SEQ_NEW;
    if (seq <= run->contiguous)
        return SEQ_APPLIED;
    if (seq - run->contiguous > run->window)
        return SEQ_NEW;
    uint32_t i = (uint32_t)(seq % run->window);
    if (bit_get(run->applied, i))
        return SEQ_APPLIED;
    if (bit_get(run->inflight, i))
        return SEQ_INFLIGHT;
    return SEQ_NEW;
}

void registry_seq_mark(probe_run_t *run, uint64_t seq, seq_state_t state)
{
    if (seq == 0 || run->window == 0)
        return;
    if (state == SEQ_INFLIGHT) {
        /* first sight of this seq */
        run->received++;
        if (seq > run->highest)
            run->highest = seq;
        /* slide the window past seqs that will never come (dropped by the probe) */
        while (seq - run->contiguous > run->window) {
            run->contiguous++;
            uint32_t j = (uint32_t)(run->contiguous % run->window);
            bit_set(run->applied, j, 0);
            bit_set(run->inflight, j, 0);
            run->too_far++;
        }
    }
    if (seq <= run->contiguous)
        return;
    uint32_t i = (uint32_t)(seq % run->window);
    bit_set(run->inflight, i, state == SEQ_INFLIGHT);
    bit_set(run->applied, i, state == SEQ_APPLIED);
    while (bit_get(run->applied, (uint32_t)((run->contiguous + 1) % run->window))) {
        run->contiguous++;
        bit_set(run->applied, (uint32_t)(run->contiguous % run->window), 0);
    }
}

void registry_preload(registry_t *self, const char *probe_id, uint64_t run_id, uint64_t seq,
                      uint64_t now_ns)
{
    probe_t *p = registry_probe(self, probe_id, now_ns);
    if (!p || seq == 0)
        return;
    if (p->run.run_id != run_id) {
        uint64_t restarts = p->restarts, lost = p->lost_prev_runs;
        registry_new_run(p, run_id);
        p->restarts = restarts; /* an earlier collector saw these runs, not a restart here */
        p->lost_prev_runs = lost;
        /* the earlier seqs of the run were applied (the marks of the last hour are kept) */
        p->run.contiguous = seq - 1;
        p->run.highest = seq - 1;
        p->run.received = seq - 1;
    }
    if (registry_seq_state(&p->run, seq) == SEQ_NEW) {
        registry_seq_mark(&p->run, seq, SEQ_INFLIGHT);
        registry_seq_mark(&p->run, seq, SEQ_APPLIED);
    }
}

uint64_t registry_lost(const probe_t *probe)
{
    const probe_run_t *r = &probe->run;
    return r->highest > r->received ? r->highest - r->received : 0;
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void registry_print_json(registry_t *self, FILE *out, uint64_t now_ns)
{
    pthread_mutex_lock(&self->lock);
    fprintf(out, "{\"probes\":[");
    for (int i = 0; i < self->n_probes; i++) {
        probe_t *p = self->probes[i];
        fprintf(out, "%s{\"probe_id\":", i ? "," : "");
        json_str(out, p->id);
        fprintf(out, ",\"hostname\":");
        json_str(out, p->hostname);
        fprintf(out,
                ",\"up\":%s,\"run_id\":%" PRIu64 ",\"messages\":%" PRIu64
                ",\"flow_events\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"lost\":%" PRIu64
                ",\"restarts\":%" PRIu64 ",\"last_seen_s_ago\":%.1f,\"flows_per_s\":%.1f"
                ",\"interfaces\":[",
                p->down ? "false" : "true", p->run.run_id, p->messages, p->flow_events,
                p->duplicates, registry_lost(p) + p->lost_prev_runs, p->restarts,
                (double)(now_ns - p->last_seen_ns) / 1e9, p->flows_per_s);
        for (int j = 0; j < p->n_ifaces; j++) {
            iface_t *f = p->ifaces[j];
            fprintf(out, "%s{\"id\":%d,\"name\":", j ? "," : "", f->id);
            json_str(out, f->name);
            fprintf(out,
                    ",\"flows_active\":%" PRIu64 ",\"flows_new\":%" PRIu64
                    ",\"flows_ended\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"packets\":%" PRIu64
                    ",\"hook_calls\":%" PRIu64 "}",
                    iface_get(&f->c.flows_active), iface_get(&f->c.flows_new),
                    iface_get(&f->c.flows_ended), iface_get(&f->c.bytes),
                    iface_get(&f->c.packets), iface_get(&f->c.hook_calls));
        }
        fprintf(out, "]}");
    }
    fprintf(out, "]}");
    pthread_mutex_unlock(&self->lock);
}
