/* fuzz_syslog: libFuzzer target for syslog_parse(), syslog_eve_time(), json_pick() and the RFC
 * 6587 TCP framer; the input is parsed as one message, picked from as JSON, and framed as a
 * stream, whole and in pieces (same frames required). */
#include "json_pick.h"
#include "syslog_framer.h"
#include "syslog_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NOW 1795814671 /* fixed clock: RFC 3164 year choice is deterministic */

/* libFuzzer entry point: aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless a successful parse points inside buf and its fields are sane. */
static void check_parse(const char *buf, size_t len)
{
    syslog_msg_t m;
    char v[16];

    if (syslog_parse_at(buf, len, FUZZ_NOW, &m) != 0) {
        if (!m.msg) abort();
        return;
    }
    if (m.format == SYSLOG_FMT_UNKNOWN) abort();
    if (!m.msg || m.msg < buf || m.msg_len > len || m.msg + m.msg_len > buf + len) abort();
    if (m.sd_len && (m.sd < buf || m.sd + m.sd_len > buf + len)) abort();
    if (m.pri < -1 || m.pri > 191) abort();
    if (m.pri >= 0 && (m.facility != m.pri >> 3 || m.severity != (m.pri & 7))) abort();
    if (m.pri < 0 && (m.facility != -1 || m.severity != -1)) abort();
    if (m.ts_us < 0 || m.ts_us > 999999) abort();
    if (!memchr(m.timestamp, 0, sizeof m.timestamp) || !memchr(m.hostname, 0, sizeof m.hostname) ||
        !memchr(m.app_name, 0, sizeof m.app_name) || !memchr(m.procid, 0, sizeof m.procid) ||
        !memchr(m.msgid, 0, sizeof m.msgid))
        abort();
    if (m.format == SYSLOG_FMT_JSON && !syslog_json_valid(m.msg, m.msg_len)) abort();
    if (m.sd_len) {
        long n = syslog_sd_param(m.sd, m.sd_len, NULL, "type", v, sizeof v);
        if (n >= 0 && !memchr(v, 0, sizeof v)) abort(); /* terminated (values may hold NULs) */
    }
}

/* What a framer run produced: a digest of the frames, in order. */
typedef struct digest {
    uint64_t hash, frames;
    size_t max_message;
} digest_t;

static void on_frame(void *ctx, const char *msg, size_t len)
{
    digest_t *d = ctx;
    if (len == 0 || len > d->max_message) abort();
    d->hash ^= len;
    d->hash *= 1099511628211u;
    for (size_t i = 0; i < len; i++) {
        d->hash ^= (unsigned char)msg[i];
        d->hash *= 1099511628211u;
    }
    d->frames++;
    check_parse(msg, len);
}

/* json_pick's callback: a value must be well-formed; counts the reports. */
static int on_pick(void *ctx, int index, const json_pick_value_t *v)
{
    if (index < 0 || index >= 4) abort();
    if (v->type == JSON_PICK_STRING && v->len && !v->s) abort();
    if (v->type == JSON_PICK_BOOL && v->i != 0 && v->i != 1) abort();
    (*(int *)ctx)++;
    return 0;
}

/* Picks a few paths (a key-path prefix of another among them); a failed pick has a reason. */
static void check_pick(const char *buf, size_t len)
{
    static const char *const paths[] = {"event_type", "stats.decoder.pkts", "stats.decoder",
                                        "a.b.c.d"};
    char err[160] = "";
    int reports = 0;
    if (json_pick(buf, len, paths, 4, on_pick, &reports, err, sizeof err) != 0 &&
        (!err[0] || strchr(err, '\n')))
        abort();
    if (reports > 0 && len < 16) abort(); /* {"event_type":1} is the shortest with a path */
}

/* Feeds the stream in pieces (sizes from a PRNG seeded by `seed`; 0: all at once). */
static int frame_run(const char *buf, size_t len, size_t max_message, uint32_t seed, digest_t *d,
                     syslog_framer_stats_t *st)
{
    syslog_framer_t *fr = syslog_framer_new(max_message);
    int partial;

    if (!fr) return -1;
    memset(d, 0, sizeof *d);
    memset(st, 0, sizeof *st);
    d->hash = 14695981039346656037u;
    d->max_message = max_message;
    for (size_t off = 0; off < len;) {
        size_t n = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1 + (seed >> 16) % 97;
            if (piece < n) n = piece;
        }
        syslog_framer_feed(fr, buf + off, n, st, on_frame, d);
        off += n;
    }
    partial = syslog_framer_partial(fr);
    syslog_framer_destroy(&fr);
    return partial;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf;
    char *copy;
    digest_t whole, pieces;
    syslog_framer_stats_t st_whole, st_pieces;
    int part_whole, part_pieces;
    size_t max_message = 16 + size % 240;

    /* an exact-size copy, so ASan sees any read past the end */
    copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    buf = copy;

    check_parse(buf, size);
    (void)syslog_json_valid(buf, size);
    check_pick(buf, size);
    syslog_eve_time_t t;
    if (syslog_eve_time(buf, size, &t) == 0 && t.is_float && t.value != t.value) abort(); /* NaN */

    part_whole = frame_run(buf, size, max_message, 0, &whole, &st_whole);
    part_pieces =
        frame_run(buf, size, max_message, (uint32_t)size * 2654435761u | 1u, &pieces, &st_pieces);
    /* the framing of a stream does not depend on how it was split into reads */
    if (part_whole != part_pieces || whole.frames != pieces.frames || whole.hash != pieces.hash ||
        st_whole.messages != whole.frames || st_pieces.messages != pieces.frames ||
        st_whole.oversized != st_pieces.oversized ||
        st_whole.bad_octet_count != st_pieces.bad_octet_count)
        abort();
    free(copy);
    return 0;
}
