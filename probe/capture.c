/* capture: packets from a live interface or a capture file (pcap/pcapng, µs or ns) via libpcap. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_FILE_BUFFER (1u << 20)

/* A capture file is read ahead by a thread of its own: reading and copying the file costs
 * about a fifth of the probe's time, which then overlaps decoding, flows and nDPI. Packets
 * travel in chunks so the two threads meet once per few hundred packets. */
#define READER_CHUNK_MIN (256u << 10) /* bytes of a chunk (more when the snaplen needs it) */
#define READER_CHUNKS 8               /* chunks in flight between the threads */

typedef struct rec_hdr {
    uint64_t ts_ns;
    uint32_t caplen, wire_len;
} rec_hdr_t;

typedef struct chunk {
    struct chunk *next;
    size_t used;             /* bytes of records written */
    size_t pos;              /* bytes of records handed to the consumer */
    uint8_t *data;
} chunk_t;

typedef struct reader {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a chunk filled or freed, or the end */
    chunk_t *free_list;
    chunk_t *full_head, *full_tail;
    chunk_t *filling;        /* the reader's */
    chunk_t *reading;        /* the consumer's */
    size_t chunk_size;
    int stop;                /* the consumer closes the capture */
    int done;                /* the reader reached the end of the file (or an error) */
    int failed;
    char error[PCAP_ERRBUF_SIZE + 64];
    chunk_t chunks[READER_CHUNKS];
} reader_t;

struct capture {
    pcap_t *pcap;
    char *filebuf;           /* stdio buffer of an offline capture (freed after pcap_close) */
    int live;
    int linktype;
    int fd;
    capture_fn fn;
    void *ctx;
    reader_t *reader;        /* offline captures */
    atomic_int brk;          /* capture_break() on an offline capture */
    /* pcap_stats() counters are 32-bit and wrap; keep 64-bit running totals */
    uint32_t last_recv, last_drop, last_ifdrop;
    uint64_t recv, drop, ifdrop;
};

static void capture_on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    capture_t *self = (capture_t *)user;
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. Files may carry an
     * out-of-range fraction (>= 1e9); it is added as is, which keeps order deterministic. */
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)(uint32_t)h->ts.tv_usec;
    self->fn(self->ctx, ts, bytes, h->caplen, h->len);
}

/* ---- offline read-ahead ------------------------------------------------------------------ */

static inline size_t rec_size(uint32_t caplen)
{
    return (sizeof(rec_hdr_t) + caplen + 7u) & ~(size_t)7u;
}

/* Reader side: publishes the chunk being filled and waits for a free one. 0, or -1 when the
 * capture is being closed. */
static int reader_next_chunk(reader_t *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->filling && r->filling->used) {
        r->filling->next = NULL;
        if (r->full_tail)
            r->full_tail->next = r->filling;
        else
            r->full_head = r->filling;
        r->full_tail = r->filling;
        r->filling = NULL;
        pthread_cond_broadcast(&r->cv);
    }
    while (!r->filling && !r->stop) {
        if (r->free_list) {
            r->filling = r->free_list;
            r->free_list = r->filling->next;
            r->filling->used = r->filling->pos = 0;
        } else {
            pthread_cond_wait(&r->cv, &r->mu);
        }
    }
    int rc = r->stop ? -1 : 0;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static void reader_on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    capture_t *self = (capture_t *)user;
    reader_t *r = self->reader;
    uint32_t caplen = h->caplen;
    if (rec_size(caplen) > r->chunk_size) /* larger than the file's snaplen: keep what fits */
        caplen = (uint32_t)(r->chunk_size - sizeof(rec_hdr_t));
    size_t need = rec_size(caplen);
    if ((!r->filling || r->filling->used + need > r->chunk_size) && reader_next_chunk(r) != 0) {
        pcap_breakloop(self->pcap);
        return;
    }
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. Files may carry an
     * out-of-range fraction (>= 1e9); it is added as is, which keeps order deterministic. */
    rec_hdr_t hdr = {(uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)(uint32_t)h->ts.tv_usec,
                     caplen, h->len};
    uint8_t *at = r->filling->data + r->filling->used;
    memcpy(at, &hdr, sizeof hdr);
    memcpy(at + sizeof hdr, bytes, caplen);
    r->filling->used += need;
}

static void *reader_main(void *arg)
{
    capture_t *self = arg;
    reader_t *r = self->reader;
    int n;
    do {
        n = pcap_dispatch(self->pcap, 4096, reader_on_packet, (u_char *)self);
    } while (n > 0);
    pthread_mutex_lock(&r->mu);
    if (n == -1) {
        r->failed = 1;
        snprintf(r->error, sizeof r->error, "%s", pcap_geterr(self->pcap));
    }
    pthread_mutex_unlock(&r->mu);
    reader_next_chunk(r); /* publishes the last chunk (returns at once when stopping) */
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static int reader_start(capture_t *self, char *err, size_t errlen)
{
    reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int snap = pcap_snapshot(self->pcap);
    size_t need = rec_size(snap > 0 ? (uint32_t)snap : 262144u) * 2;
    r->chunk_size = need > READER_CHUNK_MIN ? need : READER_CHUNK_MIN;
    for (int i = 0; i < READER_CHUNKS; i++) {
        r->chunks[i].data = malloc(r->chunk_size);
        if (!r->chunks[i].data)
            goto fail;
        r->chunks[i].next = r->free_list;
        r->free_list = &r->chunks[i];
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    self->reader = r;
    if (pthread_create(&r->thread, NULL, reader_main, self) != 0) {
        self->reader = NULL;
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        goto fail;
    }
    r->started = 1;
    return 0;
fail:
    for (int i = 0; i < READER_CHUNKS; i++)
        free(r->chunks[i].data);
    free(r);
    snprintf(err, errlen, "cannot start the file reader");
    return -1;
}

static void reader_stop(capture_t *self)
{
    reader_t *r = self->reader;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pcap_breakloop(self->pcap);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    for (int i = 0; i < READER_CHUNKS; i++)
        free(r->chunks[i].data);
    free(r);
    self->reader = NULL;
}

/* Consumer side: the same contract as pcap_dispatch() on a file, from the read-ahead. */
static int reader_dispatch(capture_t *self, int max, capture_fn fn, void *ctx)
{
    reader_t *r = self->reader;
    int n = 0;
    while (max <= 0 || n < max) {
        if (atomic_exchange(&self->brk, 0))
            return n;
        chunk_t *c = r->reading;
        if (!c) {
            pthread_mutex_lock(&r->mu);
            while (!r->full_head && !r->done)
                pthread_cond_wait(&r->cv, &r->mu);
            c = r->full_head;
            if (c) {
                r->full_head = c->next;
                if (!r->full_head)
                    r->full_tail = NULL;
            }
            int failed = r->failed;
            pthread_mutex_unlock(&r->mu);
            if (!c)
                return n ? n : failed ? -1 : -2;
            r->reading = c;
        }
        while (c->pos < c->used && (max <= 0 || n < max)) {
            rec_hdr_t hdr;
            memcpy(&hdr, c->data + c->pos, sizeof hdr);
            fn(ctx, hdr.ts_ns, c->data + c->pos + sizeof hdr, hdr.caplen, hdr.wire_len);
            c->pos += rec_size(hdr.caplen);
            n++;
        }
        if (c->pos >= c->used) {
            pthread_mutex_lock(&r->mu);
            c->next = r->free_list;
            r->free_list = c;
            r->reading = NULL;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
    }
    return n;
}

static int capture_set_filter(capture_t *self, const char *filter, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (pcap_compile(self->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad filter \"%s\": %s", filter, pcap_geterr(self->pcap));
        return -1;
    }
    int rc = pcap_setfilter(self->pcap, &prog);
    if (rc != 0)
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(self->pcap));
    pcap_freecode(&prog);
    return rc == 0 ? 0 : -1;
}

static pcap_t *capture_open_live(const capture_config_t *cfg, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(cfg->interface, ebuf);
    if (!p) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface, ebuf);
        return NULL;
    }
    pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 65535);
    pcap_set_promisc(p, cfg->promisc);
    pcap_set_timeout(p, cfg->timeout_ms > 0 ? cfg->timeout_ms : 100);
    pcap_set_immediate_mode(p, cfg->immediate);
    if (cfg->buffer_mb > 0)
        pcap_set_buffer_size(p, cfg->buffer_mb * 1024 * 1024);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface,
                 rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
        pcap_close(p);
        return NULL;
    }
    if (pcap_setnonblock(p, 1, ebuf) != 0) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface, ebuf);
        pcap_close(p);
        return NULL;
    }
    return p;
}

capture_t *capture_open(const capture_config_t *cfg, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    capture_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->fd = -1;
    if (cfg->interface) {
        self->live = 1;
        self->pcap = capture_open_live(cfg, err, errlen);
        if (!self->pcap)
            goto fail;
        self->fd = pcap_get_selectable_fd(self->pcap);
    } else if (cfg->file) {
        /* Our own FILE with a large buffer: libpcap's default stdio buffer costs a read()
         * per few packets. libpcap takes ownership of the FILE. */
        FILE *fp = fopen(cfg->file, "rb");
        if (!fp) {
            snprintf(err, errlen, "%s: %s", cfg->file, strerror(errno));
            goto fail;
        }
        self->filebuf = malloc(CAPTURE_FILE_BUFFER);
        if (self->filebuf)
            setvbuf(fp, self->filebuf, _IOFBF, CAPTURE_FILE_BUFFER);
        /* Only the read-ahead thread reads it: no stdio lock around each of libpcap's two
         * freads per packet (taken in every call once the process has threads). */
        __fsetlocking(fp, FSETLOCKING_BYCALLER);
        self->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO,
                                                              ebuf);
        if (!self->pcap) {
            fclose(fp);
            snprintf(err, errlen, "%s: %s", cfg->file, ebuf);
            goto fail;
        }
    } else {
        snprintf(err, errlen, "no interface or file given");
        goto fail;
    }
    self->linktype = pcap_datalink(self->pcap);
    if (cfg->filter && *cfg->filter && capture_set_filter(self, cfg->filter, err, errlen) != 0)
        goto fail;
    if (!self->live && reader_start(self, err, errlen) != 0)
        goto fail;
    return self;
fail:
    capture_close(&self);
    return NULL;
}

void capture_close(capture_t **self)
{
    if (!self || !*self)
        return;
    reader_stop(*self);
    if ((*self)->pcap)
        pcap_close((*self)->pcap);
    free((*self)->filebuf);
    free(*self);
    *self = NULL;
}

int capture_dispatch(capture_t *self, int max, capture_fn fn, void *ctx)
{
    if (self->reader)
        return reader_dispatch(self, max, fn, ctx);
    self->fn = fn;
    self->ctx = ctx;
    int n = pcap_dispatch(self->pcap, max, capture_on_packet, (u_char *)self);
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n < 0)
        return -1;
    if (n == 0 && !self->live)
        return -2;
    return n;
}

void capture_break(capture_t *self)
{
    if (self->reader) {
        atomic_store(&self->brk, 1);
        return;
    }
    pcap_breakloop(self->pcap);
}

int capture_linktype(const capture_t *self)
{
    return self->linktype;
}

const char *capture_linktype_name(const capture_t *self)
{
    const char *n = pcap_datalink_val_to_name(self->linktype);
    return n ? n : "unknown";
}

int capture_is_live(const capture_t *self)
{
    return self->live;
}

int capture_fd(const capture_t *self)
{
    return self->fd;
}

int capture_snaplen(const capture_t *self)
{
    return pcap_snapshot(self->pcap);
}

const char *capture_error(capture_t *self)
{
    if (self->reader && self->reader->failed)
        return self->reader->error; /* written before `done`, read after it */
    return pcap_geterr(self->pcap);
}

int capture_stats(capture_t *self, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
    *recv = *drop = *ifdrop = 0;
    if (!self->live)
        return 0;
    struct pcap_stat st;
    if (pcap_stats(self->pcap, &st) != 0)
        return -1;
    self->recv += (uint32_t)(st.ps_recv - self->last_recv);
    self->drop += (uint32_t)(st.ps_drop - self->last_drop);
    self->ifdrop += (uint32_t)(st.ps_ifdrop - self->last_ifdrop);
    self->last_recv = st.ps_recv;
    self->last_drop = st.ps_drop;
    self->last_ifdrop = st.ps_ifdrop;
    *recv = self->recv;
    *drop = self->drop;
    *ifdrop = self->ifdrop;
    return 0;
}
