/* zflow-ack-sink: a minimal acknowledging collector (ROUTER) for probe tests and benchmarks:
 * validates, dedupes, counts gaps, acks, optionally dumps flows as JSON lines. */
#include "codec.h"
#include "timebase.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

#define SINK_ID       "zflow-ack-sink"
#define SINK_MAX_RUNS 256        /* (probe, run) pairs tracked; least recently seen evicted */
#define SINK_WINDOW   (1u << 16) /* seqs remembered per run for duplicate detection */
#define SINK_HWM      1000

/* What one probe run has delivered: seqs (highest - SINK_WINDOW, highest] as a bitmap. */
typedef struct run {
    char *probe_id;
    uint64_t run_id;
    uint64_t highest;
    uint64_t last_used;
    uint8_t *seen; /* SINK_WINDOW bits, bit (seq % SINK_WINDOW) */
} run_t;

typedef struct sink {
    void *ctx;
    void *sock;
    int dump_json;
    run_t runs[SINK_MAX_RUNS];
    uint32_t n_runs;
    uint64_t tick;
    uint64_t ack_seq;
    uint64_t run_id;
    /* counters for the summary */
    uint64_t messages, batches, hellos, stats, acks_in, flows, duplicates, stale, lost;
    uint64_t runs_seen, restarts, evicted_runs, acks_sent, ack_send_failures, bad_frames;
    uint64_t bad[CODEC_ERR_COUNT];
} sink_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void run_clear(run_t *r)
{
    free(r->probe_id);
    free(r->seen);
    memset(r, 0, sizeof *r);
}

/* Finds or creates the state of (probe_id, run_id); NULL without memory. */
static run_t *run_lookup(sink_t *self, const char *probe_id, uint64_t run_id)
{
    run_t *slot = NULL;
    int known_probe = 0;
    for (uint32_t i = 0; i < self->n_runs; i++) {
        run_t *r = &self->runs[i];
        if (strcmp(r->probe_id, probe_id) != 0) continue;
        if (r->run_id == run_id) {
            r->last_used = ++self->tick;
            return r;
        }
        known_probe = 1;
    }
    if (self->n_runs < SINK_MAX_RUNS) {
        slot = &self->runs[self->n_runs++];
    } else {
        slot = &self->runs[0];
        for (uint32_t i = 1; i < self->n_runs; i++)
            if (self->runs[i].last_used < slot->last_used) slot = &self->runs[i];
        run_clear(slot);
        self->evicted_runs++;
    }
    slot->probe_id = strdup(probe_id);
    slot->seen = calloc(SINK_WINDOW / 8, 1);
    if (!slot->probe_id || !slot->seen) {
        run_clear(slot);
        *slot = self->runs[--self->n_runs];
        memset(&self->runs[self->n_runs], 0, sizeof(run_t));
        return NULL;
    }
    slot->run_id = run_id;
    slot->last_used = ++self->tick;
    self->runs_seen++;
    if (known_probe) self->restarts++;
    return slot;
}

static inline int bit_get(const uint8_t *bits, uint64_t seq)
{
    uint32_t i = (uint32_t)(seq % SINK_WINDOW);
    return bits[i / 8] >> (i % 8) & 1;
}

static inline void bit_set(uint8_t *bits, uint64_t seq, int on)
{
    uint32_t i = (uint32_t)(seq % SINK_WINDOW);
    if (on)
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* Records seq; returns 1 when it is new (to be applied), 0 for a duplicate or a seq too old
 * to tell (acknowledged again, not applied). Gaps count as lost until a resend fills them. */
static int run_accept(sink_t *self, run_t *r, uint64_t seq)
{
    if (seq > r->highest) {
        uint64_t gap = seq - r->highest - 1;
        self->lost += gap;
        if (gap >= SINK_WINDOW) {
            memset(r->seen, 0, SINK_WINDOW / 8);
        } else {
            for (uint64_t s = r->highest + 1; s < seq; s++)
                bit_set(r->seen, s, 0);
        }
        r->highest = seq;
        bit_set(r->seen, seq, 1);
        return 1;
    }
    if (r->highest - seq >= SINK_WINDOW) {
        self->stale++;
        return 0;
    }
    if (bit_get(r->seen, seq)) {
        self->duplicates++;
        return 0;
    }
    bit_set(r->seen, seq, 1); /* a resend filled a gap */
    self->lost--;
    return 1;
}

/* Replies to the probe behind `identity` with Ack{run_id, [seq]}. */
static void ack_send(sink_t *self, zmq_msg_t *identity, uint64_t run_id, uint64_t seq)
{
    Zflow__Ack ack = ZFLOW__ACK__INIT;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    uint64_t seqs[1] = {seq};
    ack.run_id = run_id;
    ack.n_seqs = 1;
    ack.seqs = seqs;
    env.schema_version = CODEC_SCHEMA_VERSION;
    env.probe_id = SINK_ID;
    env.run_id = self->run_id;
    env.seq = ++self->ack_seq;
    env.send_time_ns = wall_ns();
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    uint8_t buf[128];
    size_t len = zflow__envelope__get_packed_size(&env);
    if (len > sizeof buf) goto fail;
    zflow__envelope__pack(&env, buf);
    if (zmq_send(self->sock, zmq_msg_data(identity), zmq_msg_size(identity),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) < 0)
        goto fail;
    self->acks_sent++;
    return;
fail:
    self->ack_send_failures++;
}

static void envelope_apply(sink_t *self, const Zflow__Envelope *env)
{
    switch (env->payload_case) {
    case ZFLOW__ENVELOPE__PAYLOAD_FLOWS:
        self->batches++;
        self->flows += env->flows->n_flows;
        if (self->dump_json)
            for (size_t i = 0; i < env->flows->n_flows; i++)
                codec_flow_to_json(env->flows->flows[i], stdout);
        break;
    case ZFLOW__ENVELOPE__PAYLOAD_HELLO:
        self->hellos++;
        break;
    case ZFLOW__ENVELOPE__PAYLOAD_STATS:
        self->stats++;
        break;
    default:
        break;
    }
}

/* Receives one ROUTER message ([identity][envelope]) and handles it. */
static void message_handle(sink_t *self)
{
    zmq_msg_t identity, body;
    zmq_msg_init(&identity);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&identity, self->sock, ZMQ_DONTWAIT) < 0) goto done;
    self->messages++;
    if (!zmq_msg_more(&identity) || zmq_msg_recv(&body, self->sock, ZMQ_DONTWAIT) < 0) {
        self->bad_frames++;
        goto done;
    }
    if (zmq_msg_more(&body)) { /* a probe sends one frame: drop the whole message */
        self->bad_frames++;
        int more = 1;
        while (more) {
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, self->sock, ZMQ_DONTWAIT) < 0) break;
            more = zmq_msg_more(&body);
        }
        goto done;
    }
    codec_msg_t *msg = NULL;
    codec_error_t err = codec_unpack(zmq_msg_data(&body), zmq_msg_size(&body), &msg);
    if (err != CODEC_OK) {
        self->bad[err]++;
        goto done;
    }
    const Zflow__Envelope *env = codec_msg_env(msg);
    if (env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_ACK) {
        self->acks_in++; /* acks travel collector -> probe only */
    } else {
        run_t *r = run_lookup(self, env->probe_id, env->run_id);
        if (r) {
            if (run_accept(self, r, env->seq)) envelope_apply(self, env);
            ack_send(self, &identity, env->run_id, env->seq);
        }
    }
    codec_msg_destroy(&msg);
done:
    zmq_msg_close(&identity);
    zmq_msg_close(&body);
}

static int summary_write(const sink_t *self, FILE *out)
{
    fprintf(out,
            "{\"messages\":%llu,\"batches\":%llu,\"hellos\":%llu,\"stats\":%llu,"
            "\"flows\":%llu,\"duplicates\":%llu,\"stale\":%llu,\"lost\":%llu,\"runs\":%llu,"
            "\"restarts\":%llu,\"evicted_runs\":%llu,\"acks_sent\":%llu,"
            "\"ack_send_failures\":%llu,\"acks_in\":%llu,\"bad_frames\":%llu",
            (unsigned long long)self->messages, (unsigned long long)self->batches,
            (unsigned long long)self->hellos, (unsigned long long)self->stats,
            (unsigned long long)self->flows, (unsigned long long)self->duplicates,
            (unsigned long long)self->stale, (unsigned long long)self->lost,
            (unsigned long long)self->runs_seen, (unsigned long long)self->restarts,
            (unsigned long long)self->evicted_runs, (unsigned long long)self->acks_sent,
            (unsigned long long)self->ack_send_failures, (unsigned long long)self->acks_in,
            (unsigned long long)self->bad_frames);
    uint64_t bad_total = self->bad_frames;
    fputs(",\"bad\":{", out);
    for (int e = CODEC_ERR_EMPTY; e < CODEC_ERR_COUNT; e++) {
        fprintf(out, "%s\"%s\":%llu", e == CODEC_ERR_EMPTY ? "" : ",",
                codec_error_name((codec_error_t)e), (unsigned long long)self->bad[e]);
        bad_total += self->bad[e];
    }
    fprintf(out, "},\"bad_total\":%llu}\n", (unsigned long long)bad_total);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: zflow-ack-sink --listen ENDPOINT [--dump-json] [--stats-file FILE]\n"
                 "                      [--exit-after-idle-ms N] [--max-messages N]\n");
}

int main(int argc, char **argv)
{
    static sink_t sink;
    sink_t *self = &sink;
    const char *listen = NULL, *stats_file = NULL;
    uint64_t idle_ms = 0, max_messages = 0;
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dump-json")) {
            self->dump_json = 1;
        } else if (!strcmp(a, "--listen") && val) {
            listen = val;
            i++;
        } else if (!strcmp(a, "--stats-file") && val) {
            stats_file = val;
            i++;
        } else if (!strcmp(a, "--exit-after-idle-ms") && val) {
            idle_ms = strtoull(val, NULL, 10);
            i++;
        } else if (!strcmp(a, "--max-messages") && val) {
            max_messages = strtoull(val, NULL, 10);
            i++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!listen) {
        usage(stderr);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (getrandom(&self->run_id, sizeof self->run_id, 0) != sizeof self->run_id)
        self->run_id = wall_ns();
    static char stdout_buf[1 << 20];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);

    self->ctx = zmq_ctx_new();
    self->sock = self->ctx ? zmq_socket(self->ctx, ZMQ_ROUTER) : NULL;
    if (!self->sock) goto fail;
    int64_t max_msg = CODEC_MAX_MESSAGE;
    int hwm = SINK_HWM, linger = 0;
    if (zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_bind(self->sock, listen) < 0)
        goto fail;

    uint64_t last_activity = mono_ms();
    while (!stop_requested) {
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, 100);
        if (n < 0 && errno != EINTR) goto fail;
        if (n > 0 && (item.revents & ZMQ_POLLIN)) {
            /* bounded burst, so signals and the idle timer are still looked at */
            for (int k = 0; k < 1024; k++) {
                uint64_t before = self->messages;
                message_handle(self);
                if (self->messages == before) break;
                if (max_messages && self->messages >= max_messages) break;
            }
            last_activity = mono_ms();
        }
        if (max_messages && self->messages >= max_messages) break;
        if (idle_ms && mono_ms() - last_activity >= idle_ms) break;
    }
    fflush(stdout);
    rc = 0;
    summary_write(self, stderr);
    if (stats_file) {
        FILE *f = fopen(stats_file, "w");
        if (!f || summary_write(self, f) < 0) {
            fprintf(stderr, "zflow-ack-sink: cannot write %s\n", stats_file);
            rc = 1;
        }
        if (f) fclose(f);
    }
    goto done;
fail:
    fprintf(stderr, "zflow-ack-sink: %s: %s\n", listen, zmq_strerror(errno));
done:
    if (self->sock) zmq_close(self->sock);
    if (self->ctx) zmq_ctx_term(self->ctx);
    for (uint32_t i = 0; i < self->n_runs; i++)
        run_clear(&self->runs[i]);
    return rc;
}
