/* test_syslog_parse: the syslog parser (syslog_parse.c) and TCP framer (syslog_framer.c) on
 * the captured `logger` bytes and RFC 5424 samples of $ZFLOW_SHARED_DIR/syslog, the Eve lines
 * of $ZFLOW_SHARED_DIR/eve, RFC 3164 / RFC 5424 / JSON variants, truncation at every length
 * and garbage. */
#include "check.h"
#include "syslog_framer.h"
#include "syslog_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_2026_11_27 1795814671 /* 2026-11-27T21:24:31Z, the capture's clock */

/* ---- helpers ---- */

/* Reads a whole file (at most 1 MiB) into a malloc'd buffer; NULL when it cannot. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= (1 << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

/* Parses s (a C string) with the capture's clock. */
static int parse(const char *s, syslog_msg_t *m)
{
    return syslog_parse_at(s, strlen(s), NOW_2026_11_27, m);
}

/* The message body as a C string (static buffer). */
static const char *body(const syslog_msg_t *m)
{
    static char out[4096];
    size_t n = m->msg_len < sizeof out - 1 ? m->msg_len : sizeof out - 1;
    memcpy(out, m->msg, n);
    out[n] = '\0';
    return out;
}

static const char *sdtext(const syslog_msg_t *m)
{
    static char out[4096];
    size_t n = m->sd_len < sizeof out - 1 ? m->sd_len : sizeof out - 1;
    memcpy(out, m->sd, n);
    out[n] = '\0';
    return out;
}

/* Collected frames of a framer run. */
typedef struct frames {
    int n;
    char text[16][512];
    size_t len[16];
} frames_t;

static void collect(void *ctx, const char *msg, size_t len)
{
    frames_t *f = ctx;
    if (f->n < 16) {
        size_t n = len < 511 ? len : 511;
        memcpy(f->text[f->n], msg, n);
        f->text[f->n][n] = '\0';
        f->len[f->n] = len;
    }
    f->n++;
}

/* Feeds data to a new framer in pieces of `step` bytes (0 = all at once). */
static int frame(const char *data, size_t len, size_t max_message, size_t step, frames_t *out,
                 syslog_framer_stats_t *st, int *partial)
{
    syslog_framer_t *fr = syslog_framer_new(max_message);
    if (!fr) return -1;
    memset(out, 0, sizeof *out);
    memset(st, 0, sizeof *st);
    if (step == 0) step = len ? len : 1;
    for (size_t off = 0; off < len; off += step)
        syslog_framer_feed(fr, data + off, len - off < step ? len - off : step, st, collect, out);
    if (partial) *partial = syslog_framer_partial(fr);
    syslog_framer_destroy(&fr);
    CHECK(fr == NULL);
    return 0;
}

/* Parses every prefix of buf in an exact-size heap copy: no crash, no read outside (ASan),
 * pointers inside the input, strings terminated. */
static void check_every_prefix(const char *buf, size_t len)
{
    int bad = 0;
    for (size_t l = 0; l <= len; l++) {
        char *copy = malloc(l ? l : 1);
        syslog_msg_t m;
        if (!copy) return;
        memcpy(copy, buf, l);
        if (syslog_parse_at(copy, l, NOW_2026_11_27, &m) == 0) {
            if (m.msg < copy || m.msg + m.msg_len > copy + l) bad++;
            if (m.sd_len && (m.sd < copy || m.sd + m.sd_len > copy + l)) bad++;
            if (m.format == SYSLOG_FMT_UNKNOWN) bad++;
            if (strlen(m.hostname) >= sizeof m.hostname ||
                strlen(m.app_name) >= sizeof m.app_name || strlen(m.procid) >= sizeof m.procid ||
                strlen(m.msgid) >= sizeof m.msgid || strlen(m.timestamp) >= sizeof m.timestamp)
                bad++;
            if ((m.pri < 0) != (m.facility < 0) || (m.pri >= 0 && m.facility != m.pri >> 3)) bad++;
        }
        free(copy);
    }
    CHECK_EQ(bad, 0);
}

/* ---- shared samples ---- */

static void test_logger_captures(const char *dir)
{
    char path[4096];
    char *buf;
    size_t len;
    syslog_msg_t m;
    frames_t fr;
    syslog_framer_stats_t st;
    int partial;
    static const char *const udp[] = {"udp_default.bin", "udp_rfc3164.bin", "udp_rfc5424.bin",
                                      "udp_rfc5424_notq_notime_nohost.bin",
                                      "udp_rfc5424_sd_msgid_local5alert_json.bin"};
    static const char *const tcp[] = {"tcp_rfc3164.bin", "tcp_rfc5424.bin",
                                      "tcp_rfc5424_octet_count.bin",
                                      "tcp_rfc5424_two_lines_stdin.bin"};
    static const int tcp_frames[] = {1, 1, 1, 2};

    for (size_t i = 0; i < sizeof udp / sizeof *udp; i++) {
        snprintf(path, sizeof path, "%s/syslog/logger-captures/%s", dir, udp[i]);
        buf = slurp(path, &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        CHECK_EQ(syslog_parse_at(buf, len, NOW_2026_11_27, &m), 0);
        CHECK_STREQ(m.app_name, "suricata");
        CHECK_EQ(m.pri, strstr(udp[i], "local5alert") ? 169 : 13);
        check_every_prefix(buf, len);

        if (strcmp(udp[i], "udp_rfc3164.bin") == 0) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
            CHECK_EQ(m.facility, 1);
            CHECK_EQ(m.severity, 5);
            CHECK_STREQ(m.timestamp, "Nov 27 21:24:31");
            CHECK_EQ(m.ts_s, 1795814671);
            CHECK_STREQ(m.hostname, "vm");
            CHECK_STREQ(m.procid, "");
            CHECK_STREQ(body(&m), "msg rfc3164 udp");
        } else if (strcmp(udp[i], "udp_rfc5424.bin") == 0) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
            CHECK_STREQ(m.timestamp, "2026-11-27T21:24:31.056130+00:00");
            CHECK_EQ(m.ts_s, 1795814671);
            CHECK_EQ(m.ts_us, 56130);
            CHECK_STREQ(m.hostname, "vm");
            CHECK_STREQ(m.procid, "");
            CHECK_STREQ(m.msgid, "");
            CHECK_STREQ(sdtext(&m), "[timeQuality tzKnown=\"1\" isSynced=\"0\"]");
            CHECK_STREQ(body(&m), "msg rfc5424 udp");
            char v[16];
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "timeQuality", "isSynced", v, sizeof v), 1);
            CHECK_STREQ(v, "0");
        } else if (strcmp(udp[i], "udp_default.bin") == 0) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
            CHECK_STREQ(body(&m), "msg default udp");
        } else if (strstr(udp[i], "notq_notime_nohost")) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
            CHECK_STREQ(m.timestamp, "");
            CHECK_EQ(m.ts_s, 0);
            CHECK_STREQ(m.hostname, "");
            CHECK_EQ(m.sd_len, 0);
            CHECK_STREQ(body(&m), "msg rfc5424 minimal");
        } else {
            char v[32];
            CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
            CHECK_EQ(m.facility, 21); /* local5 */
            CHECK_EQ(m.severity, 1);  /* alert */
            CHECK_STREQ(m.msgid, "EVE");
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "eve@32473", "type", v, sizeof v), 5);
            CHECK_STREQ(v, "alert");
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, NULL, "type", v, sizeof v), 5);
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "timeQuality", "type", v, sizeof v), -1);
            CHECK_STREQ(body(&m), "{\"event_type\":\"alert\",\"src_ip\":\"10.0.0.1\"}");
            CHECK(syslog_json_valid(m.msg, m.msg_len));
        }
        free(buf);
    }

    for (size_t i = 0; i < sizeof tcp / sizeof *tcp; i++) {
        snprintf(path, sizeof path, "%s/syslog/logger-captures/%s", dir, tcp[i]);
        buf = slurp(path, &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        /* whole, and split at every byte: the same frames */
        for (size_t step = 0; step <= len; step++) {
            frame(buf, len, 65536, step, &fr, &st, &partial);
            if (fr.n != tcp_frames[i] || partial || st.bad_octet_count || st.oversized) {
                CHECK_EQ(fr.n, tcp_frames[i]);
                CHECK_EQ(partial, 0);
                break;
            }
        }
        CHECK_EQ(fr.n, tcp_frames[i]);
        for (int k = 0; k < fr.n && k < 16; k++) {
            CHECK_EQ(syslog_parse_at(fr.text[k], fr.len[k], NOW_2026_11_27, &m), 0);
            CHECK_STREQ(m.app_name, "suricata");
            CHECK_STREQ(m.hostname, "vm");
            CHECK_EQ(m.pri, 13);
            check_every_prefix(fr.text[k], fr.len[k]);
        }
        if (strcmp(tcp[i], "tcp_rfc3164.bin") == 0) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
            CHECK_STREQ(body(&m), "msg rfc3164 tcp");
        } else if (strcmp(tcp[i], "tcp_rfc5424.bin") == 0) {
            CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
            CHECK_STREQ(body(&m), "msg rfc5424 tcp");
        } else if (strstr(tcp[i], "octet_count")) {
            CHECK_EQ(fr.len[0], 121);
            CHECK_STREQ(body(&m), "msg rfc5424 tcp octet-count");
        } else {
            CHECK_EQ(syslog_parse_at(fr.text[0], fr.len[0], NOW_2026_11_27, &m), 0);
            CHECK_STREQ(body(&m), "line one");
            CHECK_EQ(syslog_parse_at(fr.text[1], fr.len[1], NOW_2026_11_27, &m), 0);
            CHECK_STREQ(body(&m), "line two");
        }
        /* every prefix of the stream: partial unless it ends on a frame boundary */
        for (size_t l = 0; l < len; l++) {
            frame(buf, l, 65536, 0, &fr, &st, &partial);
            CHECK(fr.n < tcp_frames[i] || l == len);
        }
        free(buf);
    }
}

static void test_vast_samples(const char *dir)
{
    char path[4096], v[64];
    size_t len;
    char *buf, *line, *next;
    syslog_msg_t m;
    int n = 0;

    snprintf(path, sizeof path, "%s/syslog/vast__syslog-rfc5424-samples.log", dir);
    buf = slurp(path, &len);
    CHECK(buf != NULL);
    if (!buf) return;
    for (line = buf; line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
        next = nl ? nl + 1 : buf + len;
        n++;
        CHECK_EQ(syslog_parse_at(line, l, NOW_2026_11_27, &m), 0);
        CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
        check_every_prefix(line, l);
        switch (n) {
        case 1:
            CHECK_EQ(m.pri, 34);
            CHECK_EQ(m.facility, 4);
            CHECK_EQ(m.severity, 2);
            CHECK_EQ(m.ts_s, 1065910455);
            CHECK_EQ(m.ts_us, 3000);
            CHECK_STREQ(m.hostname, "mymachineexamplecom");
            CHECK_STREQ(m.app_name, "su");
            CHECK_STREQ(m.procid, "asd");
            CHECK_STREQ(m.msgid, "ID47");
            CHECK_EQ(
                syslog_sd_param(m.sd, m.sd_len, "exampleSDID@32473", "eventSource", v, sizeof v),
                12);
            CHECK_STREQ(v, "App]lication");
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "exampleSDID@32473", "eventID", v, sizeof v),
                     4);
            CHECK_STREQ(v, "1011");
            CHECK_STREQ(body(&m), "BOM'su root' failed for lonvick on /dev/pts/8");
            break;
        case 2:
            CHECK_STREQ(m.procid, "");
            CHECK_EQ(m.sd_len, 0);
            CHECK_STREQ(body(&m), "BOM'su root' failed for lonvick on /dev/pts/8");
            break;
        case 3:
            CHECK_EQ(m.pri, 165);
            CHECK_STREQ(m.timestamp, "");
            CHECK_EQ(m.ts_s, 0);
            CHECK_STREQ(m.hostname, "192.0.2.1");
            CHECK_STREQ(m.app_name, "myproc");
            CHECK_STREQ(m.procid, "8710");
            CHECK_STREQ(m.msgid, "");
            CHECK_EQ(m.sd_len, 0);
            CHECK_STREQ(body(&m), "%% It's time to make the do-nuts.");
            break;
        case 4:
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, NULL, "eventSource", v, sizeof v), 12);
            CHECK_STREQ(v, "Applic\"ation");
            CHECK_STREQ(body(&m), "BOMAn application event log entry...");
            break;
        case 5:
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, NULL, "eventSource", v, sizeof v), 12);
            CHECK_STREQ(v, "Applic\\ation");
            CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "examplePriority@32473", "class", v, sizeof v),
                     4);
            CHECK_STREQ(v, "high");
            CHECK_EQ(m.msg_len, 0);
            break;
        case 6: /* the same without PRI nor VERSION */
            CHECK_EQ(m.pri, -1);
            CHECK_EQ(m.facility, -1);
            CHECK_EQ(m.severity, -1);
            CHECK_STREQ(m.hostname, "mymachineexamplecom");
            CHECK_STREQ(m.app_name, "evntslog");
            CHECK_STREQ(m.msgid, "ID47");
            CHECK(m.sd_len > 0);
            break;
        case 7:
            CHECK_EQ(m.pri, 46);
            CHECK_STREQ(m.app_name, "rsyslogd");
            CHECK_EQ(m.sd_len, 0);
            CHECK_EQ(m.ts_s, 1583174277); /* 2020-03-02T19:37:57+01:00 */
            CHECK_EQ(m.ts_us, 819303);
            CHECK(strstr(body(&m), "[origin software=\"rsyslogd\"") != NULL);
            break;
        case 8:
            CHECK_STREQ(m.hostname, "parallels-Parallels-Virtual-Platform");
            CHECK_STREQ(m.app_name, "polkitd(authority=local)");
            break;
        case 10:
            CHECK_STREQ(m.app_name, "packagekitd");
            CHECK_STREQ(m.procid, "1370");
            CHECK_STREQ(body(&m), " PARENT process running...");
            break;
        default:
            break;
        }
    }
    CHECK_EQ(n, 13);
    free(buf);
}

/* Real Eve JSON lines: bare (JSON), behind an RFC 3164 header (msg is the JSON), and the
 * fever "broken" file whose truncated line is not JSON. */
static void test_eve_lines(const char *dir)
{
    static const char hdr[] = "<14>Nov 27 21:24:31 sensor suricata[1234]: ";
    char path[4096];
    size_t len, hl = sizeof hdr - 1;
    char *buf, *line, *next, *wrap;
    syslog_msg_t m;
    int n = 0, json = 0, wrapped = 0;

    snprintf(path, sizeof path, "%s/eve/curated.eve.json", dir);
    buf = slurp(path, &len);
    CHECK(buf != NULL);
    if (!buf) return;
    for (line = buf; line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
        next = nl ? nl + 1 : buf + len;
        if (l == 0) continue;
        n++;
        if (syslog_parse_at(line, l, NOW_2026_11_27, &m) == 0 && m.format == SYSLOG_FMT_JSON &&
            m.msg == line && m.msg_len == l && m.pri == -1 && m.app_name[0] == '\0')
            json++;
        wrap = malloc(hl + l);
        if (!wrap) break;
        memcpy(wrap, hdr, hl);
        memcpy(wrap + hl, line, l);
        if (syslog_parse_at(wrap, hl + l, NOW_2026_11_27, &m) == 0 &&
            m.format == SYSLOG_FMT_RFC3164 && strcmp(m.app_name, "suricata") == 0 &&
            strcmp(m.hostname, "sensor") == 0 && m.msg == wrap + hl && m.msg_len == l)
            wrapped++;
        free(wrap);
    }
    CHECK_EQ(n, 208);
    CHECK_EQ(json, n);
    CHECK_EQ(wrapped, n);
    free(buf);

    snprintf(path, sizeof path, "%s/eve/sources/fever__jsonparse_eve_broken1.json", dir);
    buf = slurp(path, &len);
    CHECK(buf != NULL);
    if (!buf) return;
    n = 0;
    for (line = buf; line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
        next = nl ? nl + 1 : buf + len;
        n++;
        CHECK_EQ(syslog_parse_at(line, l, NOW_2026_11_27, &m), n == 2 ? -1 : 0); /* truncated */
    }
    CHECK_EQ(n, 3);
    free(buf);
}

/* ---- RFC 3164 ---- */

static void test_rfc3164(void)
{
    syslog_msg_t m;
    const char *s;

    /* no hostname, tag with pid, JSON body (Suricata through a local syslog daemon) */
    s = "<14>Nov 27 21:24:31 suricata[1234]: {\"timestamp\":\"2026-11-27T21:24:31\"}";
    CHECK_EQ(parse(s, &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_STREQ(m.hostname, "");
    CHECK_STREQ(m.app_name, "suricata");
    CHECK_STREQ(m.procid, "1234");
    CHECK(m.msg == strchr(s, '{'));
    CHECK(syslog_json_valid(m.msg, m.msg_len));

    s = "<14>Nov 27 21:24:31 sensor1 suricata[1234]: {\"event_type\":\"alert\"}";
    CHECK_EQ(parse(s, &m), 0);
    CHECK_STREQ(m.hostname, "sensor1");
    CHECK_STREQ(m.app_name, "suricata");
    CHECK(m.msg == strchr(s, '{'));

    CHECK_EQ(parse("<13>Nov 27 21:24:31 suricata: hello", &m), 0);
    CHECK_STREQ(m.hostname, "");
    CHECK_STREQ(m.app_name, "suricata");
    CHECK_STREQ(body(&m), "hello");

    /* space-padded day, kernel tag, CRLF */
    CHECK_EQ(parse("<6>Nov  7 01:02:03 fw kernel: [  1.0] eth0 up\r\n", &m), 0);
    CHECK_STREQ(m.timestamp, "Nov  7 01:02:03");
    CHECK_EQ(m.ts_s, 1794013323); /* 2026-11-07T01:02:03Z */
    CHECK_STREQ(m.hostname, "fw");
    CHECK_STREQ(m.app_name, "kernel");
    CHECK_STREQ(body(&m), "[  1.0] eth0 up");

    /* tag without colon */
    CHECK_EQ(parse("<13>Nov 27 21:24:31 host tag message text", &m), 0);
    CHECK_STREQ(m.hostname, "host");
    CHECK_STREQ(m.app_name, "tag");
    CHECK_STREQ(body(&m), "message text");

    /* year in the timestamp, fraction */
    CHECK_EQ(parse("<13>Nov 27 2025 21:24:31.250 host app: x", &m), 0);
    CHECK_EQ(m.ts_s, 1795814671 - 365 * 86400);
    CHECK_EQ(m.ts_us, 250000);
    CHECK_STREQ(m.app_name, "app");

    /* RFC 3339 timestamp in a 3164 header (rsyslog forward format) */
    CHECK_EQ(parse("<13>2026-11-27T22:24:31.5+01:00 host app[7]: x y", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_EQ(m.ts_s, 1795814671);
    CHECK_EQ(m.ts_us, 500000);
    CHECK_STREQ(m.hostname, "host");
    CHECK_STREQ(m.procid, "7");
    CHECK_STREQ(body(&m), "x y");

    /* the year nearest to now */
    s = "<13>Dec 31 23:59:59 h a: x";
    CHECK_EQ(syslog_parse_at(s, strlen(s), 1798848000 /* 2027-01-02 */, &m), 0);
    CHECK_EQ(m.ts_s, 1798761599); /* 2026-12-31T23:59:59Z */
    s = "<13>Jan  1 00:00:10 h a: x";
    CHECK_EQ(syslog_parse_at(s, strlen(s), 1798761500 /* 2026-12-31T23:58:20Z */, &m), 0);
    CHECK_EQ(m.ts_s, 1798761610); /* 2027-01-01T00:00:10Z */

    /* no timestamp: "tag:" form, else all message */
    CHECK_EQ(parse("<13>myapp[9]: started", &m), 0);
    CHECK_STREQ(m.app_name, "myapp");
    CHECK_STREQ(m.procid, "9");
    CHECK_STREQ(body(&m), "started");
    CHECK_EQ(parse("<13>just some text", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_STREQ(m.app_name, "");
    CHECK_STREQ(body(&m), "just some text");
    CHECK_EQ(parse("<13>", &m), 0);
    CHECK_EQ(m.msg_len, 0);
    CHECK_EQ(parse("<13>Nov 27 21:24:31", &m), 0);
    CHECK_STREQ(m.timestamp, "Nov 27 21:24:31");
    CHECK_EQ(parse("<13>Nov 27 21:24:31 host", &m), 0);
    CHECK_STREQ(m.hostname, "host");
    /* invalid dates are not timestamps */
    CHECK_EQ(parse("<13>Nov 31 21:24:31 host app: x", &m), 0);
    CHECK_EQ(m.ts_s, 0);
    CHECK_STREQ(m.timestamp, "");
    CHECK_EQ(parse("<13>Foo 27 21:24:31 host app: x", &m), 0);
    CHECK_EQ(m.ts_s, 0);

    /* PRI range */
    CHECK_EQ(parse("<0>x", &m), 0);
    CHECK_EQ(m.facility, 0);
    CHECK_EQ(m.severity, 0);
    CHECK_EQ(parse("<191>x", &m), 0);
    CHECK_EQ(m.facility, 23);
    CHECK_EQ(m.severity, 7);
    CHECK_EQ(parse("<192>x", &m), -1);
    CHECK_EQ(parse("<1234>x", &m), -1);
    CHECK_EQ(parse("<>x", &m), -1);
    CHECK_EQ(parse("<13", &m), -1);
    CHECK_EQ(parse("<", &m), -1);

    /* fields longer than their buffers are cut, not errors */
    char big[1200];
    memset(big, 0, sizeof big);
    memcpy(big, "<13>Nov 27 21:24:31 ", 20);
    memset(big + 20, 'h', 300);
    memcpy(big + 320, " ", 1);
    memset(big + 321, 'a', 100);
    memcpy(big + 421, "[", 1);
    memset(big + 422, '1', 200);
    memcpy(big + 622, "]: m", 4);
    CHECK_EQ(parse(big, &m), 0);
    CHECK_EQ(strlen(m.hostname), sizeof m.hostname - 1);
    CHECK_EQ(strlen(m.app_name), sizeof m.app_name - 1);
    CHECK_EQ(strlen(m.procid), sizeof m.procid - 1);
    CHECK_STREQ(body(&m), "m");
    check_every_prefix(big, strlen(big));
}

/* ---- RFC 5424 ---- */

static void test_rfc5424(void)
{
    syslog_msg_t m;
    char v[8];
    const char *s;

    /* a real BOM is removed */
    s = "<165>1 2026-11-27T21:24:31Z host app 42 ID1 - \xEF\xBB\xBFutf-8 text";
    CHECK_EQ(parse(s, &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
    CHECK_EQ(m.ts_s, 1795814671);
    CHECK_EQ(m.ts_us, 0);
    CHECK_STREQ(m.procid, "42");
    CHECK_STREQ(m.msgid, "ID1");
    CHECK_STREQ(body(&m), "utf-8 text");

    /* every field NIL, no MSG */
    CHECK_EQ(parse("<13>1 - - - - - -", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
    CHECK_STREQ(m.hostname, "");
    CHECK_STREQ(m.app_name, "");
    CHECK_EQ(m.sd_len, 0);
    CHECK_EQ(m.msg_len, 0);

    /* header cut short: what is there is kept */
    CHECK_EQ(parse("<13>1 2026-11-27T21:24:31Z host", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
    CHECK_STREQ(m.hostname, "host");
    CHECK_STREQ(m.app_name, "");

    /* unparseable timestamp: kept as sent, ts_s 0 */
    CHECK_EQ(parse("<13>1 2026-13-45T99:00:00Z host app - - - m", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
    CHECK_STREQ(m.timestamp, "2026-13-45T99:00:00Z");
    CHECK_EQ(m.ts_s, 0);
    CHECK_STREQ(body(&m), "m");

    /* negative offset, lower-case t/z */
    CHECK_EQ(parse("<13>1 2026-11-27t16:24:31.000001-05:00 h a - - - m", &m), 0);
    CHECK_EQ(m.ts_s, 1795814671);
    CHECK_EQ(m.ts_us, 1);
    CHECK_EQ(parse("<13>1 2026-11-27T21:24:31.1234567z h a - - - m", &m), 0);
    CHECK_EQ(m.ts_us, 123456);

    /* escapes inside SD values, several elements, ']' inside quotes */
    s = "<13>1 - h a - - [x@1 k=\"a\\\"b\\\\c\\]d\" e=\"]\"][y@2 k=\"2\"] msg";
    CHECK_EQ(parse(s, &m), 0);
    CHECK_STREQ(sdtext(&m), "[x@1 k=\"a\\\"b\\\\c\\]d\" e=\"]\"][y@2 k=\"2\"]");
    CHECK_STREQ(body(&m), "msg");
    CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "x@1", "k", v, sizeof v), 7);
    CHECK_STREQ(v, "a\"b\\c]d");
    CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "x@1", "e", v, sizeof v), 1);
    CHECK_STREQ(v, "]");
    CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "y@2", "k", v, sizeof v), 1);
    CHECK_STREQ(v, "2");
    CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "y@2", "e", v, sizeof v), -1);
    CHECK_EQ(syslog_sd_param(m.sd, m.sd_len, "x@1", "k", v, 3), 7); /* truncated copy */
    CHECK_STREQ(v, "a\"");

    /* unterminated SD: not structured data, all message */
    s = "<13>1 - h a - - [x@1 k=\"v";
    CHECK_EQ(parse(s, &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC5424);
    CHECK_EQ(m.sd_len, 0);
    CHECK_STREQ(body(&m), "[x@1 k=\"v");
    CHECK_EQ(parse("<13>1 - h a - - [] m", &m), 0); /* empty SD-ID */
    CHECK_EQ(m.sd_len, 0);
    /* a MSG straight after MSGID (no SD) */
    CHECK_EQ(parse("<13>1 - h a - - hello there", &m), 0);
    CHECK_STREQ(body(&m), "hello there");

    /* "1 " not followed by a timestamp: RFC 3164 with that as the message */
    CHECK_EQ(parse("<13>1 hello", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_STREQ(body(&m), "1 hello");

    /* truncated fields */
    char big[800];
    snprintf(big, sizeof big, "<13>1 - %0300d %0100d %0200d %040d - m", 1, 2, 3, 4);
    CHECK_EQ(parse(big, &m), 0);
    CHECK_EQ(strlen(m.hostname), 255);
    CHECK_EQ(strlen(m.app_name), 63);
    CHECK_EQ(strlen(m.procid), 128);
    CHECK_EQ(strlen(m.msgid), 32);
    CHECK_STREQ(body(&m), "m");
    check_every_prefix(big, strlen(big));
}

/* ---- JSON and garbage ---- */

/* syslog_eve_time(): Suricata's layout, the values suricata.lua's general parser gives
 * (integers without a fraction, the correctly rounded double with one), -1 for the rest. */
static void test_eve_time(void)
{
    static const struct {
        const char *s;
        int ok, is_float;
        long long secs;
        double value;
    } cases[] = {
        {"2011-08-12T14:52:57.716360+0200", 1, 1, 1313153577, 1313153577.71636},
        {"2011-08-12T14:52:57.716360+02:00", 1, 1, 1313153577, 1313153577.71636},
        {"2011-08-12T14:52:57.716360-0130", 1, 1, 1313166177, 1313166177.71636},
        {"2011-08-12T12:52:57Z", 1, 0, 1313153577, 0},
        {"2011-08-12T12:52:57", 1, 0, 1313153577, 0},
        {"2011-08-12T14:52:57+0200", 1, 0, 1313153577, 0},
        {"2011-08-12T12:52:57.+0000", 1, 0, 1313153577, 0},              /* "." without digits */
        {"2011-08-12T12:52:57.5 +0200", 1, 1, 1313153577, 1313153577.5}, /* no zone: UTC */
        {"2011-08-12T12:52:57+02", 1, 0, 1313153577, 0},                 /* not a zone: UTC */
        {"1969-12-31T23:59:59.25", 1, 1, -1, -0.75},
        {"2011-08-12T12:52:571", 0, 0, 0, 0}, /* seconds of 3 digits */
        {"2011-8-12T12:52:57", 0, 0, 0, 0},   /* not fixed width */
        {"2011-08-12 12:52:57", 0, 0, 0, 0},
        {"2011-08-12T12:52:5", 0, 0, 0, 0},
        {"2011-08-12T12:52:57.1234567890123456", 0, 0, 0, 0}, /* 16 digits: the general form */
        {"", 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        syslog_eve_time_t t;
        int rc = syslog_eve_time(cases[i].s, strlen(cases[i].s), &t);
        CHECK_EQ(rc, cases[i].ok ? 0 : -1);
        if (rc != 0 || !cases[i].ok) continue;
        CHECK_EQ(t.is_float, cases[i].is_float);
        CHECK_EQ(t.secs, cases[i].secs);
        if (cases[i].is_float) CHECK(t.value == cases[i].value);
    }
    /* bounded: the text is not NUL-terminated where the length ends */
    syslog_eve_time_t t;
    CHECK_EQ(syslog_eve_time("2011-08-12T12:52:57.5+0200", 19, &t), 0);
    CHECK_EQ(t.is_float, 0);
    CHECK_EQ(t.secs, 1313153577);
}

static void test_json_and_garbage(void)
{
    syslog_msg_t m;
    char deep[200];
    static const unsigned char bin[] = {0x00, 0xff, 0x13, 0x37, 0x80, 0x01, 0x02, '<', '1'};

    CHECK_EQ(
        parse("{\"event_type\":\"alert\",\"n\":[1,-2.5e3,true,null,{}],\"s\":\"\\u00e9\"}", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_JSON);
    CHECK_EQ(m.pri, -1);
    CHECK_STREQ(m.app_name, "");
    CHECK_EQ(m.msg_len, strlen("{\"event_type\":\"alert\",\"n\":[1,-2.5e3,true,null,{}],"
                               "\"s\":\"\\u00e9\"}"));
    CHECK_EQ(parse("  {\"a\" : { \"b\" : [ ] } }\r\n", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_JSON);
    CHECK(m.msg[0] == '{');
    CHECK_EQ(parse("\xEF\xBB\xBF{}", &m), 0);

    /* invalid JSON */
    CHECK_EQ(parse("{\"a\":", &m), -1);
    CHECK_EQ(parse("{\"a\":1}}", &m), -1);
    CHECK_EQ(parse("{\"a\":1,}", &m), -1);
    CHECK_EQ(parse("{a:1}", &m), -1);
    CHECK_EQ(parse("{\"a\":01}", &m), -1);
    CHECK_EQ(parse("{\"a\":\"\\x\"}", &m), -1);
    CHECK_EQ(parse("{\"a\":\"tab\there\"}", &m), -1);
    CHECK_EQ(parse("{\"a\":tru}", &m), -1);
    CHECK_EQ(parse("{\"a\":[1 2]}", &m), -1);
    CHECK_EQ(parse("{\"a\":1} x", &m), -1);
    CHECK_EQ(syslog_json_valid("[1,{\"a\":[]}]", 12), 1);
    CHECK_EQ(syslog_json_valid("\"s\"", 3), 1);
    CHECK_EQ(syslog_json_valid("", 0), 0);
    CHECK_EQ(syslog_json_valid("-", 1), 0);
    CHECK_EQ(syslog_json_valid("1.", 2), 0);
    CHECK_EQ(syslog_json_valid("1e+", 3), 0);
    /* nesting: 64 levels are fine, 65 are not */
    for (int depth = 64; depth <= 65; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++)
            deep[n++] = '[';
        for (int i = 0; i < depth; i++)
            deep[n++] = ']';
        CHECK_EQ(syslog_json_valid(deep, (size_t)n), depth == 64);
    }

    /* not syslog at all */
    CHECK_EQ(syslog_parse_at((const char *)bin, sizeof bin, 0, &m), -1);
    CHECK(m.msg != NULL);
    CHECK_EQ(parse("", &m), -1);
    CHECK_EQ(parse("\r\n", &m), -1);
    CHECK_EQ(parse("hello world", &m), -1);
    CHECK_EQ(parse("12345", &m), -1);
    CHECK_EQ(syslog_parse_at(NULL, 5, 0, &m), -1);
    CHECK_EQ(syslog_parse_at("x", 1, 0, NULL), -1);
    CHECK_EQ(syslog_parse("<13>x", 5, &m), 0); /* with the real clock */

    /* a bare line starting with a timestamp is RFC 3164 without PRI */
    CHECK_EQ(parse("Nov 27 21:24:31 host sshd[1]: Accepted", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_EQ(m.pri, -1);
    CHECK_STREQ(m.hostname, "host");
    CHECK_STREQ(m.app_name, "sshd");
    CHECK_EQ(parse("2026-11-27T21:24:31Z host sshd[1]: Accepted", &m), 0);
    CHECK_EQ(m.format, SYSLOG_FMT_RFC3164);
    CHECK_STREQ(m.procid, "1");

    /* pseudo-random bytes, with and without a valid PRI in front */
    uint32_t x = 12345;
    char buf[300];
    int ok = 0, bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + round % 299;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            /* skew towards syslog's alphabet so deeper paths are reached */
            static const char alpha[] = "<>0123456789 -:[]\"\\=T.Z+{}NovJanabc\r\n\xEF\xBB\xBF";
            buf[i] = (x >> 24) & 1 ? alpha[(x >> 8) % (sizeof alpha - 1)] : (char)(x >> 16);
        }
        if (round % 3 == 0 && len > 4) memcpy(buf, "<13>", 4);
        if (round % 3 == 1 && len > 6) memcpy(buf, "<13>1 ", 6);
        char *copy = malloc(len);
        if (!copy) break;
        memcpy(copy, buf, len);
        if (syslog_parse_at(copy, len, NOW_2026_11_27, &m) == 0) {
            ok++;
            if (m.msg < copy || m.msg + m.msg_len > copy + len) bad++;
        }
        syslog_sd_param(copy, len, NULL, "k", buf, 8);
        syslog_json_valid(copy, len);
        free(copy);
    }
    CHECK_EQ(bad, 0);
    CHECK(ok > 0);
}

/* ---- framer ---- */

static void test_framer(void)
{
    frames_t fr;
    syslog_framer_stats_t st;
    int partial;
    char *big;
    const char *s;

    /* LF, CRLF, NUL delimiters; empty frames skipped */
    s = "<13>a\n<13>b\r\n\n\n<13>c";
    frame(s, strlen(s) + 1, 100, 0, &fr, &st, &partial); /* the NUL ends "c" */
    CHECK_EQ(fr.n, 3);
    CHECK_STREQ(fr.text[0], "<13>a");
    CHECK_STREQ(fr.text[1], "<13>b");
    CHECK_STREQ(fr.text[2], "<13>c");
    CHECK_EQ(st.messages, 3);
    CHECK_EQ(partial, 0);

    /* a half line is partial */
    frame("<13>a\n<13>b", 11, 100, 0, &fr, &st, &partial);
    CHECK_EQ(fr.n, 1);
    CHECK_EQ(partial, 1);

    /* octet counting, mixed with newline framing, split at every byte */
    s = "5 <13>a<13>b\n11 <13>c\nd e f3 <1>";
    for (size_t step = 1; step <= strlen(s); step++) {
        frame(s, strlen(s), 100, step, &fr, &st, &partial);
        if (fr.n != 4 || partial) break;
    }
    CHECK_EQ(fr.n, 4);
    CHECK_STREQ(fr.text[0], "<13>a");
    CHECK_STREQ(fr.text[1], "<13>b");
    CHECK_STREQ(fr.text[2], "<13>c\nd e f"); /* LF inside an octet-counted frame */
    CHECK_STREQ(fr.text[3], "<1>");
    CHECK_EQ(st.bad_octet_count, 0);
    CHECK_EQ(partial, 0);
    frame("10 <13>abc", 10, 100, 0, &fr, &st, &partial);
    CHECK_EQ(fr.n, 0);
    CHECK_EQ(partial, 1);
    frame("12", 2, 100, 0, &fr, &st, &partial);
    CHECK_EQ(partial, 1);
    frame("0 <13>x\n", 8, 100, 0, &fr, &st, &partial); /* LEN 0: empty frame */
    CHECK_EQ(fr.n, 1);
    CHECK_STREQ(fr.text[0], "<13>x");

    /* not "DIGITS SP": counted, then read as a line */
    s = "2003-10-11T22:14:15Z host app: m\n<13>next\n";
    frame(s, strlen(s), 100, 0, &fr, &st, &partial);
    CHECK_EQ(st.bad_octet_count, 1);
    CHECK_EQ(fr.n, 2);
    CHECK_STREQ(fr.text[0], "2003-10-11T22:14:15Z host app: m");
    CHECK_STREQ(fr.text[1], "<13>next");
    s = "1234567890 <13>x\n<13>y\n"; /* 10 digits */
    frame(s, strlen(s), 100, 3, &fr, &st, &partial);
    CHECK_EQ(st.bad_octet_count, 1);
    CHECK_EQ(fr.n, 2);
    CHECK_STREQ(fr.text[0], "1234567890 <13>x");

    /* oversized line: dropped up to its LF, counted once, the next one arrives */
    big = malloc(1 << 20);
    CHECK(big != NULL);
    if (!big) return;
    memset(big, 'x', 1 << 20);
    memcpy(big, "<13>", 4);
    big[(1 << 20) - 12] = '\n';
    memcpy(big + (1 << 20) - 11, "<13>after\n", 10);
    big[(1 << 20) - 1] = '\n';
    for (size_t step = 0; step <= 65536; step = step ? step * 4 : 1) {
        frame(big, 1 << 20, 65536, step, &fr, &st, &partial);
        CHECK_EQ(st.oversized, 1);
        CHECK_EQ(fr.n, 1);
        CHECK_STREQ(fr.text[0], "<13>after");
    }
    /* exactly max_message is fine, one more is not */
    memset(big, 'y', 200);
    big[100] = '\n';
    frame(big, 101, 100, 7, &fr, &st, &partial);
    CHECK_EQ(fr.n, 1);
    CHECK_EQ(fr.len[0], 100);
    frame(big, 101, 99, 7, &fr, &st, &partial);
    CHECK_EQ(fr.n, 0);
    CHECK_EQ(st.oversized, 1);
    /* oversized octet count: the announced bytes are skipped */
    memcpy(big, "150 ", 4);
    memset(big + 4, 'z', 150);
    memcpy(big + 154, "5 <13>k", 7);
    for (size_t step = 1; step <= 161; step += 20) {
        frame(big, 161, 100, step, &fr, &st, &partial);
        CHECK_EQ(st.oversized, 1);
        CHECK_EQ(fr.n, 1);
        CHECK_STREQ(fr.text[0], "<13>k");
        CHECK_EQ(partial, 0);
    }
    free(big);

    CHECK(syslog_framer_new(0) == NULL);
    syslog_framer_destroy(NULL);
    CHECK_EQ(syslog_framer_partial(NULL), 0);
}

int main(void)
{
    const char *shared = getenv("ZFLOW_SHARED_DIR");

    test_rfc3164();
    test_rfc5424();
    test_json_and_garbage();
    test_eve_time();
    test_framer();
    if (shared && *shared) {
        test_logger_captures(shared);
        test_vast_samples(shared);
        test_eve_lines(shared);
    } else {
        printf("ZFLOW_SHARED_DIR not set: shared sample tests skipped\n");
    }
    return check_report();
}
