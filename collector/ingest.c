/* ingest: the collector's ROUTER sockets, message validation, dedupe, dispatch to workers,
 * acknowledgements and probe liveness. */
#include "ingest.h"

#include "local_msg.h"
#include "timebase.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define LOG_EVERY_NS 5000000000ull /* bad-input logs: at most one per reason per 5 s */
/* How long later batches wait for a refused one to come back before it counts as given up
 * by the probe: several of the probe's resend intervals (5 s by default). */
#define HOLD_MAX_NS 30000000000ull

struct ingest {
    ingest_config_t cfg;
    void *ctx;
    void *socks[INGEST_MAX_LISTEN];
    int n_socks;
    size_t inflight;
    batch_t *ack_head, *ack_tail; /* applied, waiting for their alerts to be committed */
    int local_expected, local_finished;
    ingest_stats_t st;
    uint64_t last_log_ns[CODEC_ERR_COUNT + 4];
    uint64_t suppressed[CODEC_ERR_COUNT + 4];
    uint64_t next_second_ns, next_summary_ns;
    uint64_t start_ns;
};

/* Logs bad input at a bounded rate per reason. */
static void log_bad(ingest_t *self, int slot, const char *what, const char *detail)
{
    uint64_t t = wall_ns();
    if (t - self->last_log_ns[slot] < LOG_EVERY_NS) {
        self->suppressed[slot]++;
        return;
    }
    fprintf(stderr, "zflow-collector: rejected message: %s%s%s", what, detail ? ": " : "",
            detail ? detail : "");
    if (self->suppressed[slot])
        fprintf(stderr, " (%" PRIu64 " more since the last report)", self->suppressed[slot]);
    fputc('\n', stderr);
    self->suppressed[slot] = 0;
    self->last_log_ns[slot] = t;
}

ingest_t *ingest_new(const ingest_config_t *cfg, char *err, size_t errlen)
{
    ingest_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (!self->cfg.probe_timeout_s)
        self->cfg.probe_timeout_s = 30;
    self->start_ns = wall_ns();
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto fail;
    }
    for (int i = 0; i < cfg->n_listen; i++) {
        void *s = zmq_socket(self->ctx, ZMQ_ROUTER);
        int64_t maxmsg = CODEC_MAX_MESSAGE;
        int one = 1, linger = 0, hwm = 10000;
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        zmq_setsockopt(s, ZMQ_IPV6, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (zmq_bind(s, cfg->listen[i]) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen[i], zmq_strerror(errno));
            zmq_close(s);
            goto fail;
        }
        self->socks[self->n_socks++] = s;
    }
    return self;
fail:
    ingest_destroy(&self);
    return NULL;
}

void ingest_destroy(ingest_t **pself)
{
    if (!pself || !*pself)
        return;
    ingest_t *self = *pself;
    for (int i = 0; i < self->n_socks; i++)
        zmq_close(self->socks[i]);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *pself = NULL;
}

void ingest_expect_local(ingest_t *self, int n)
{
    self->local_expected = n;
}

/* Sends Ack{run_id, seq} to a probe. */
static void send_ack(ingest_t *self, int sock, const uint8_t *rid, size_t rlen, uint64_t run_id,
                     uint64_t seq)
{
    if (sock < 0 || sock >= self->n_socks)
        return;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    Zflow__Ack ack = ZFLOW__ACK__INIT;
    env.schema_version = CODEC_SCHEMA_VERSION;
    env.probe_id = (char *)"collector";
    env.send_time_ns = wall_ns();
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    ack.run_id = run_id;
    ack.n_seqs = 1;
    ack.seqs = &seq;
    uint8_t buf[64];
    size_t len = zflow__envelope__pack(&env, buf);
    if (zmq_send(self->socks[sock], rid, rlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->socks[sock], buf, len, ZMQ_DONTWAIT) < 0) {
        self->st.acks_failed++;
        return;
    }
    self->st.acks_sent++;
}

/* Hands a flow batch to the workers owning its interfaces. Returns 0 when dispatched, -1 when
 * a worker queue was full (nothing was dispatched; the probe will resend). */
static int dispatch_flows(ingest_t *self, probe_t *probe, batch_t *b, int is_packet)
{
    Zflow__FlowBatch *fb = b->env->flows;
    int nw = self->cfg.n_workers;
    work_t *items[64] = {0};
    if (nw > 64)
        nw = 64;
    /* resolve interfaces first and count per worker */
    iface_t **ifs = malloc((fb->n_flows ? fb->n_flows : 1) * sizeof *ifs);
    uint32_t per[64] = {0};
    if (!ifs)
        return -1;
    for (size_t i = 0; i < fb->n_flows; i++) {
        ifs[i] = registry_iface(self->cfg.registry, probe, fb->flows[i]->interface, is_packet);
        if (ifs[i])
            per[ifs[i]->worker % nw]++;
    }
    for (int w = 0; w < nw; w++)
        if (per[w] && queue_room(worker_queue(self->cfg.workers[w])) == 0) {
            free(ifs);
            return -1;
        }
    int n_items = 0;
    for (int w = 0; w < nw; w++) {
        if (!per[w])
            continue;
        work_t *it = calloc(1, sizeof *it);
        if (it) {
            it->flows = malloc(per[w] * sizeof *it->flows);
            it->ifaces = malloc(per[w] * sizeof *it->ifaces);
        }
        if (!it || !it->flows || !it->ifaces) {
            work_free(it);
            for (int k = 0; k < nw; k++)
                work_free(items[k]);
            free(ifs);
            return -1;
        }
        it->kind = WORK_FLOWS;
        it->batch = b;
        items[w] = it;
        n_items++;
    }
    for (size_t i = 0; i < fb->n_flows; i++) {
        if (!ifs[i])
            continue;
        work_t *it = items[ifs[i]->worker % nw];
        it->flows[it->n] = fb->flows[i];
        it->ifaces[it->n] = ifs[i];
        it->n++;
    }
    free(ifs);
    atomic_store(&b->refs, n_items);
    if (n_items == 0) {
        /* nothing to apply (every interface refused): complete at once */
        atomic_store(&b->refs, 1);
        queue_push(self->cfg.done, b);
        return 0;
    }
    for (int w = 0; w < nw; w++)
        if (items[w])
            queue_push(worker_queue(self->cfg.workers[w]), items[w]); /* room checked above */
    return 0;
}

/* Tells the workers to end every flow of a probe's interfaces. */
static void end_probe_flows(ingest_t *self, probe_t *p, int reason)
{
    for (int i = 0; i < p->n_ifaces; i++) {
        work_t *w = calloc(1, sizeof *w);
        if (!w)
            continue;
        w->kind = WORK_IFACE_END;
        w->iface = p->ifaces[i];
        w->reason = reason;
        queue_t *q = worker_queue(self->cfg.workers[p->ifaces[i]->worker % self->cfg.n_workers]);
        struct timespec ms = {0, 1000000};
        while (queue_push(q, w) != 0) /* control messages are never dropped */
            nanosleep(&ms, NULL);
    }
}

/* Refuses a flow batch (not acknowledged: the probe resends it) and holds back the probe's
 * later batches until it is back. Frees msg. */
static void refuse_batch(ingest_t *self, probe_t *p, codec_msg_t *msg, uint64_t t,
                         const char *why)
{
    uint64_t seq = codec_msg_env(msg)->seq;
    self->st.queue_full++;
    log_bad(self, CODEC_ERR_COUNT + 2, why, p->id);
    if (!p->run.hold || seq <= p->run.hold_seq) {
        /* (the held batch coming back again shows the probe still has it: the wait restarts) */
        p->run.hold = 1;
        p->run.hold_seq = seq;
        p->run.hold_since_ns = t;
    }
    codec_msg_destroy(&msg);
}

/* Handles one valid envelope. `sock` = -1 for local sources. Takes ownership of msg. */
static void handle_envelope(ingest_t *self, int sock, const uint8_t *rid, size_t rlen,
                            codec_msg_t *msg)
{
    Zflow__Envelope *env = codec_msg_env(msg);
    uint64_t t = wall_ns();
    if (sock >= 0 && (strncmp(env->probe_id, "local:", 6) == 0 ||
                      strncmp(env->probe_id, "syslog:", 7) == 0)) {
        /* "local:" and "syslog:" ids belong to the collector's own sources */
        self->st.bad_payload++;
        log_bad(self, CODEC_ERR_COUNT + 1, "reserved probe id from the network", env->probe_id);
        codec_msg_destroy(&msg);
        return;
    }
    probe_t *p = registry_probe(self->cfg.registry, env->probe_id, t);
    if (!p) {
        self->st.unknown_probe++;
        log_bad(self, CODEC_ERR_COUNT, "probe registry full", env->probe_id);
        codec_msg_destroy(&msg);
        return;
    }
    p->messages++;
    p->last_seen_ns = t;
    if (p->down) {
        p->down = 0;
        fprintf(stderr, "zflow-collector: probe %s is up again\n", p->id);
    }
    if (p->run.run_id != env->run_id) {
        if (registry_new_run(p, env->run_id)) {
            fprintf(stderr, "zflow-collector: probe %s restarted (run %" PRIx64 ")\n", p->id,
                    env->run_id);
            end_probe_flows(self, p, ZFLOW__END_REASON__END_REASON_PROBE_RESTART);
        }
    }
    seq_state_t state = registry_seq_state(&p->run, env->seq);
    if (state == SEQ_APPLIED) {
        self->st.duplicates++;
        p->duplicates++;
        send_ack(self, sock, rid, rlen, env->run_id, env->seq);
        codec_msg_destroy(&msg);
        return;
    }
    if (state == SEQ_INFLIGHT) {
        self->st.inflight_resends++;
        codec_msg_destroy(&msg);
        return;
    }

    switch (env->payload_case) {
    case ZFLOW__ENVELOPE__PAYLOAD_HELLO: {
        Zflow__Hello *h = env->hello;
        p->has_hello = 1;
        snprintf(p->hostname, sizeof p->hostname, "%s", h->hostname ? h->hostname : "");
        snprintf(p->version, sizeof p->version, "%s",
                 h->software_version ? h->software_version : "");
        snprintf(p->hello_iface, sizeof p->hello_iface, "%s", h->interface ? h->interface : "");
        p->stats_interval_s = h->stats_interval_s;
        registry_iface(self->cfg.registry, p, p->hello_iface,
                       sock < 0 && strncmp(p->id, "local:", 6) == 0);
        registry_seq_mark(&p->run, env->seq, SEQ_INFLIGHT);
        registry_seq_mark(&p->run, env->seq, SEQ_APPLIED);
        send_ack(self, sock, rid, rlen, env->run_id, env->seq);
        codec_msg_destroy(&msg);
        return;
    }
    case ZFLOW__ENVELOPE__PAYLOAD_STATS: {
        /* keep the whole message: the stats live in its arena */
        codec_msg_destroy(&p->stats_msg);
        p->stats_msg = msg;
        p->stats_at_ns = t;
        registry_seq_mark(&p->run, env->seq, SEQ_INFLIGHT);
        registry_seq_mark(&p->run, env->seq, SEQ_APPLIED);
        send_ack(self, sock, rid, rlen, env->run_id, env->seq);
        return;
    }
    case ZFLOW__ENVELOPE__PAYLOAD_FLOWS:
        break;
    default:
        self->st.bad_payload++;
        log_bad(self, CODEC_ERR_COUNT + 1, "unexpected payload from a probe", p->id);
        codec_msg_destroy(&msg);
        return;
    }

    if (p->run.hold && env->seq > p->run.hold_seq) {
        if (t - p->run.hold_since_ns < HOLD_MAX_NS) {
            /* an earlier batch was refused: applying this one first would reorder the
             * probe's events (an update after its flow's end) */
            self->st.held_back++;
            codec_msg_destroy(&msg);
            return;
        }
        self->st.holds_expired++;
        fprintf(stderr, "zflow-collector: probe %s: batch %" PRIu64 " refused %.0f s ago was "
                "not resent; applying later batches without it\n", p->id, p->run.hold_seq,
                (double)(t - p->run.hold_since_ns) / 1e9);
        p->run.hold = 0;
    }
    if (self->inflight >= self->cfg.max_inflight) {
        refuse_batch(self, p, msg, t, "workers busy, batch refused (the probe resends)");
        return;
    }
    batch_t *b = calloc(1, sizeof *b);
    if (!b) {
        codec_msg_destroy(&msg);
        return;
    }
    b->msg = msg;
    b->env = env;
    b->run_id = env->run_id;
    b->socket_index = sock;
    if (rlen > sizeof b->routing_id)
        rlen = sizeof b->routing_id;
    if (rlen)
        memcpy(b->routing_id, rid, rlen);
    b->routing_len = rlen;
    b->run = &p->run;
    b->seq = env->seq;
    size_t n = env->flows->n_flows;
    if (dispatch_flows(self, p, b, sock < 0 && strncmp(p->id, "local:", 6) == 0) != 0) {
        free(b);
        refuse_batch(self, p, msg, t, "worker queue full, batch refused (the probe resends)");
        return;
    }
    if (p->run.hold && env->seq == p->run.hold_seq)
        p->run.hold = 0; /* the refused batch is back: later ones are welcome again */
    registry_seq_mark(&p->run, env->seq, SEQ_INFLIGHT);
    self->inflight++;
    p->flow_events += n;
    p->rate_events += n;
    self->st.flow_events += n;
}

/* Reads every message waiting on one socket. */
static void drain_done(ingest_t *self);

static void drain_socket(ingest_t *self, int sock)
{
    for (int k = 0; k < 256; k++) {
        if (k % 8 == 7)
            drain_done(self); /* hand finished batches back as we go, not in bursts of 256 */
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, self->socks[sock], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        self->st.messages++;
        if (!zmq_msg_more(&rid)) {
            self->st.bad_frames++;
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, self->socks[sock], 0);
        int extra = zmq_msg_more(&body);
        while (zmq_msg_more(&body)) { /* swallow any further frames */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            zmq_msg_recv(&body, self->socks[sock], 0);
        }
        if (extra) {
            self->st.bad_frames++;
            log_bad(self, CODEC_ERR_COUNT + 3, "unexpected extra frames", NULL);
        } else {
            codec_msg_t *msg = NULL;
            codec_error_t e = codec_unpack(zmq_msg_data(&body), zmq_msg_size(&body), &msg);
            if (e != CODEC_OK) {
                self->st.bad[e]++;
                log_bad(self, e, codec_error_name(e), NULL);
            } else {
                handle_envelope(self, sock, zmq_msg_data(&rid), zmq_msg_size(&rid), msg);
            }
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
}

/* Acknowledges the applied batches whose alerts are on disk, oldest first. */
static void send_ready_acks(ingest_t *self)
{
    uint64_t done = self->cfg.alerts ? alert_store_done(self->cfg.alerts) : UINT64_MAX;
    batch_t *b;
    while ((b = self->ack_head) && b->alert_mark <= done) {
        self->ack_head = b->next_ack;
        if (!self->ack_head)
            self->ack_tail = NULL;
        registry_seq_mark(b->run, b->seq, SEQ_APPLIED);
        send_ack(self, b->socket_index, b->routing_id, b->routing_len, b->run_id, b->seq);
        free(b);
        self->inflight--;
    }
}

static void drain_done(ingest_t *self)
{
    batch_t *b;
    while ((b = queue_pop(self->cfg.done, 0))) {
        /* the worker queued the batch's alerts before handing it back */
        b->alert_mark = self->cfg.alerts ? alert_store_mark(self->cfg.alerts) : 0;
        /* The flows are applied: free the decoded batch now rather than at the ack, which
         * waits for the alert store's commit. Batches then come and go one by one and the
         * codec reuses their memory instead of mapping fresh pages for each. */
        codec_msg_destroy(&b->msg);
        b->env = NULL;
        b->next_ack = NULL;
        if (self->ack_tail)
            self->ack_tail->next_ack = b;
        else
            self->ack_head = b;
        self->ack_tail = b;
    }
    send_ready_acks(self);
}

static void drain_local(ingest_t *self)
{
    if (!self->cfg.local)
        return;
    local_msg_t *m;
    /* only take what can be dispatched now: the sources wait rather than lose flows */
    while (self->inflight < self->cfg.max_inflight && (m = queue_pop(self->cfg.local, 0))) {
        if (!m->buf) {
            self->local_finished++;
        } else {
            codec_msg_t *msg = NULL;
            if (codec_unpack(m->buf, m->len, &msg) == CODEC_OK) {
                self->st.local_batches++;
                handle_envelope(self, -1, NULL, 0, msg);
            }
            free(m->buf);
        }
        free(m);
    }
}

/* Sums the script counters of every worker (and of extra_scripts) into `path` (tab
 * separated), for --list-scripts of this running collector. */
static void write_runtime(ingest_t *self, const char *path, uint64_t t)
{
    enum { MAX = 256 };
    script_info_t *all = calloc((size_t)MAX * 2, sizeof *all);
    if (!all)
        return;
    script_info_t *one = all + MAX;
    int n = 0;
    for (int w = 0; w <= self->cfg.n_workers; w++) {
        int k = w < self->cfg.n_workers ? worker_list_scripts(self->cfg.workers[w], one, MAX)
                : self->cfg.extra_scripts ? self->cfg.extra_scripts(self->cfg.extra_ctx, one, MAX)
                                          : 0;
        for (int i = 0; i < k; i++) {
            int j = 0;
            while (j < n && (strcmp(all[j].subdir, one[i].subdir) != 0 ||
                             strcmp(all[j].key, one[i].key) != 0))
                j++;
            if (j == n) {
                if (n == MAX)
                    continue;
                all[n++] = one[i];
            } else {
                all[j].calls += one[i].calls;
                all[j].errors += one[i].errors;
                all[j].seconds += one[i].seconds;
            }
        }
    }
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "# pid %d time %" PRIu64 " queue_full %" PRIu64 "\n", (int)getpid(),
                (uint64_t)(t / 1000000000ull), self->st.queue_full);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%.6f\n", all[i].subdir, all[i].key,
                    all[i].calls, all[i].errors, all[i].seconds);
        fclose(f);
        rename(tmp, path);
    }
    free(all);
}

/* Once a second: liveness, flows/s, status file. */
static void every_second(ingest_t *self, uint64_t t)
{
    registry_t *r = self->cfg.registry;
    for (int i = 0; i < r->n_probes; i++) {
        probe_t *p = r->probes[i];
        double dt = (double)(t - p->rate_t0_ns) / 1e9;
        if (dt >= 1.0) {
            p->flows_per_s = (double)p->rate_events / dt;
            p->rate_events = 0;
            p->rate_t0_ns = t;
        }
        if (!p->down && t - p->last_seen_ns > (uint64_t)self->cfg.probe_timeout_s * 1000000000ull &&
            strncmp(p->id, "local:", 6) != 0 && strncmp(p->id, "syslog:", 7) != 0) {
            p->down = 1;
            fprintf(stderr, "zflow-collector: probe %s is down (silent for %u s); ending its "
                            "flows\n",
                    p->id, self->cfg.probe_timeout_s);
            end_probe_flows(self, p, ZFLOW__END_REASON__END_REASON_PROBE_DOWN);
        }
    }
    registry_publish(r, t);
    if (self->cfg.runtime_path && (t / 1000000000ull) % 2 == 0)
        write_runtime(self, self->cfg.runtime_path, t);
    if (self->cfg.status_path) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s.tmp", self->cfg.status_path);
        FILE *f = fopen(tmp, "w");
        if (f) {
            ingest_print_status(self, f);
            fclose(f);
            rename(tmp, self->cfg.status_path);
        }
    }
}

static void print_summary(ingest_t *self, uint64_t t)
{
    registry_t *r = self->cfg.registry;
    uint64_t active = 0, hooks = 0, alerts = 0, errors = 0;
    for (int w = 0; w < self->cfg.n_workers; w++) {
        worker_stats_t ws;
        worker_get_stats(self->cfg.workers[w], &ws);
        active += ws.flows_active;
        hooks += ws.hook_calls;
        alerts += ws.alerts;
        errors += ws.script_errors;
    }
    if (self->cfg.extra_scripts) { /* scripts run outside the workers (syslog) */
        script_info_t *rows = calloc(256, sizeof *rows);
        int k = rows ? self->cfg.extra_scripts(self->cfg.extra_ctx, rows, 256) : 0;
        for (int i = 0; i < k; i++) {
            hooks += rows[i].calls;
            errors += rows[i].errors;
        }
        free(rows);
    }
    int up = 0;
    double fps = 0;
    for (int i = 0; i < r->n_probes; i++) {
        up += !r->probes[i]->down;
        fps += r->probes[i]->flows_per_s;
    }
    fprintf(stderr,
            "zflow-collector: %.0fs up | probes %d/%d up | flow events %" PRIu64
            " (%.0f/s) | active flows %" PRIu64 " | hook calls %" PRIu64 " | alerts %" PRIu64
            " | script errors %" PRIu64 " | duplicates %" PRIu64 " | refused %" PRIu64 "\n",
            (double)(t - self->start_ns) / 1e9, up, r->n_probes, self->st.flow_events, fps, active,
            hooks, alerts, errors, self->st.duplicates, self->st.queue_full);
}

int ingest_run(ingest_t *self, int until_local_done)
{
    zmq_pollitem_t items[INGEST_MAX_LISTEN];
    for (int i = 0; i < self->n_socks; i++) {
        items[i].socket = self->socks[i];
        items[i].fd = 0;
        items[i].events = ZMQ_POLLIN;
        items[i].revents = 0;
    }
    while (!*self->cfg.stop) {
        int timeout = (self->inflight || self->cfg.local) ? 1 : 50;
        if (self->n_socks) {
            if (zmq_poll(items, self->n_socks, timeout) < 0 && errno != EINTR)
                break;
        } else {
            struct timespec ts = {0, (long)timeout * 1000000L};
            nanosleep(&ts, NULL);
        }
        for (int i = 0; i < self->n_socks; i++)
            if (items[i].revents & ZMQ_POLLIN)
                drain_socket(self, i);
        drain_local(self);
        drain_done(self);
        if (self->cfg.reload && *self->cfg.reload) {
            *self->cfg.reload = 0;
            fprintf(stderr, "zflow-collector: reloading scripts and configuration\n");
            for (int w = 0; w < self->cfg.n_workers; w++) {
                work_t *it = calloc(1, sizeof *it);
                if (!it)
                    continue;
                it->kind = WORK_RELOAD;
                struct timespec ms = {0, 1000000};
                while (queue_push(worker_queue(self->cfg.workers[w]), it) != 0)
                    nanosleep(&ms, NULL);
            }
        }
        uint64_t t = wall_ns();
        if (t >= self->next_second_ns) {
            every_second(self, t);
            self->next_second_ns = t + 1000000000ull;
        }
        if (self->cfg.summary_interval_s && t >= self->next_summary_ns) {
            if (self->next_summary_ns)
                print_summary(self, t);
            self->next_summary_ns = t + (uint64_t)self->cfg.summary_interval_s * 1000000000ull;
        }
        if (until_local_done && self->local_finished >= self->local_expected &&
            self->inflight == 0 && (!self->cfg.local || queue_depth(self->cfg.local) == 0))
            break;
    }
    drain_done(self);
    return 0;
}

void ingest_finish(ingest_t *self)
{
    struct timespec ms = {0, 1000000};
    while (self->local_finished < self->local_expected) {
        drain_local(self);
        drain_done(self);
        nanosleep(&ms, NULL);
    }
    while (self->inflight) {
        drain_done(self);
        nanosleep(&ms, NULL);
    }
}

void ingest_barrier(ingest_t *self)
{
    atomic_int pending;
    atomic_store(&pending, self->cfg.n_workers);
    for (int w = 0; w < self->cfg.n_workers; w++) {
        work_t *it = calloc(1, sizeof *it);
        if (!it) {
            atomic_fetch_sub(&pending, 1);
            continue;
        }
        it->kind = WORK_BARRIER;
        it->barrier = &pending;
        struct timespec ms = {0, 1000000};
        while (queue_push(worker_queue(self->cfg.workers[w]), it) != 0)
            nanosleep(&ms, NULL);
    }
    struct timespec ms = {0, 1000000};
    while (atomic_load(&pending) > 0) {
        nanosleep(&ms, NULL);
        drain_done(self);
    }
    drain_done(self);
}

void ingest_get_stats(ingest_t *self, ingest_stats_t *out)
{
    *out = self->st;
}

void ingest_print_status(ingest_t *self, FILE *out)
{
    uint64_t t = wall_ns();
    fprintf(out, "{\"uptime_s\":%.1f,\"ingest\":{\"messages\":%" PRIu64 ",\"flow_events\":%" PRIu64
                 ",\"duplicates\":%" PRIu64 ",\"inflight_resends\":%" PRIu64
                 ",\"queue_full\":%" PRIu64 ",\"held_back\":%" PRIu64 ",\"holds_expired\":%" PRIu64
                 ",\"acks_sent\":%" PRIu64 ",\"acks_failed\":%" PRIu64
                 ",\"bad_frames\":%" PRIu64 ",\"bad_payload\":%" PRIu64,
            (double)(t - self->start_ns) / 1e9, self->st.messages, self->st.flow_events,
            self->st.duplicates, self->st.inflight_resends, self->st.queue_full,
            self->st.held_back, self->st.holds_expired,
            self->st.acks_sent, self->st.acks_failed, self->st.bad_frames, self->st.bad_payload);
    for (int e = 1; e < CODEC_ERR_COUNT; e++)
        fprintf(out, ",\"bad_%s\":%" PRIu64, codec_error_name((codec_error_t)e), self->st.bad[e]);
    fprintf(out, "},\"workers\":[");
    for (int w = 0; w < self->cfg.n_workers; w++) {
        worker_stats_t ws;
        worker_get_stats(self->cfg.workers[w], &ws);
        fprintf(out,
                "%s{\"events\":%" PRIu64 ",\"flows_active\":%" PRIu64 ",\"flows_created\":%" PRIu64
                ",\"flows_ended\":%" PRIu64 ",\"hook_calls\":%" PRIu64 ",\"script_errors\":%" PRIu64
                ",\"alerts\":%" PRIu64 ",\"alerts_dropped\":%" PRIu64 ",\"table_full\":%" PRIu64
                ",\"queue_depth\":%" PRIu64 ",\"late_events\":%" PRIu64 "}",
                w ? "," : "", ws.events, ws.flows_active, ws.flows_created, ws.flows_ended,
                ws.hook_calls, ws.script_errors, ws.alerts, ws.alerts_dropped, ws.table_full,
                ws.queue_depth, ws.late_events);
    }
    fprintf(out, "],\"registry\":");
    registry_print_json(self->cfg.registry, out, t);
    if (self->cfg.extra_status) {
        fputc(',', out);
        self->cfg.extra_status(self->cfg.extra_ctx, out);
    }
    fprintf(out, "}\n");
}
