/* test_syslog_listener: the syslog listener thread on loopback (IPv4 and IPv6, UDP and TCP)
 * fed by the real util-linux `logger`, many interleaved TCP clients, oversized, garbage,
 * half-sent and idle clients, the client cap, bad endpoints, and a throughput measurement. */
#include "check.h"
#include "syslog_listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_RECORDS 512
#define MAX_STREAMS 64
#define WAIT_MS     15000 /* upper bound of any wait; the loops end as soon as the state is there */

/* One delivered message, copied out of the callback. */
typedef struct record {
    int parsed, format, pri, is_tcp, family;
    char app[64], host[256], procid[129], msgid[33], body[512], sd[256];
    size_t raw_len;
} record_t;

/* What the callback saw; guarded by lock. */
typedef struct rx {
    pthread_mutex_t lock;
    record_t rec[MAX_RECORDS];
    int n_rec;                 /* records kept (the first MAX_RECORDS after a reset) */
    uint64_t n, n_null;        /* every delivery, those with msg == NULL */
    int next_seq[MAX_STREAMS]; /* "stream S seq K": K expected next per stream */
    int seq_errors;
} rx_t;

static rx_t rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void on_message(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                       const struct sockaddr_storage *from, int is_tcp)
{
    rx_t *r = ctx;
    int s, k;

    pthread_mutex_lock(&r->lock);
    r->n++;
    if (!msg) r->n_null++;
    if (msg && msg->msg_len > 7 && memcmp(msg->msg, "stream ", 7) == 0) {
        char tmp[64];
        size_t n = msg->msg_len < sizeof tmp - 1 ? msg->msg_len : sizeof tmp - 1;
        memcpy(tmp, msg->msg, n);
        tmp[n] = '\0';
        if (sscanf(tmp, "stream %d seq %d", &s, &k) == 2 && s >= 0 && s < MAX_STREAMS) {
            if (r->next_seq[s] != k) r->seq_errors++;
            r->next_seq[s] = k + 1;
        }
    } else if (r->n_rec < MAX_RECORDS) {
        record_t *rec = &r->rec[r->n_rec++];
        memset(rec, 0, sizeof *rec);
        rec->parsed = msg != NULL;
        rec->is_tcp = is_tcp;
        rec->family = from->ss_family;
        rec->raw_len = len;
        if (msg) {
            size_t n = msg->msg_len < sizeof rec->body - 1 ? msg->msg_len : sizeof rec->body - 1;
            rec->format = msg->format;
            rec->pri = msg->pri;
            memcpy(rec->app, msg->app_name, sizeof rec->app);
            memcpy(rec->host, msg->hostname, sizeof rec->host);
            memcpy(rec->procid, msg->procid, sizeof rec->procid);
            memcpy(rec->msgid, msg->msgid, sizeof rec->msgid);
            memcpy(rec->body, msg->msg, n);
            n = msg->sd_len < sizeof rec->sd - 1 ? msg->sd_len : sizeof rec->sd - 1;
            memcpy(rec->sd, msg->sd, n);
        } else {
            size_t n = len < sizeof rec->body - 1 ? len : sizeof rec->body - 1;
            memcpy(rec->body, raw, n); /* the raw bytes, for the garbage checks */
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static void rx_reset(void)
{
    pthread_mutex_lock(&rx.lock);
    rx.n_rec = 0;
    rx.n = rx.n_null = 0;
    memset(rx.next_seq, 0, sizeof rx.next_seq);
    rx.seq_errors = 0;
    pthread_mutex_unlock(&rx.lock);
}

/* Waits until a record with this body arrives; copies it to *out. 0, or -1 on timeout. */
static int wait_record(const char *body, record_t *out)
{
    int64_t deadline = now_ms() + WAIT_MS;
    do {
        pthread_mutex_lock(&rx.lock);
        for (int i = 0; i < rx.n_rec; i++) {
            if (strcmp(rx.rec[i].body, body) == 0) {
                *out = rx.rec[i];
                pthread_mutex_unlock(&rx.lock);
                return 0;
            }
        }
        pthread_mutex_unlock(&rx.lock);
        sleep_ms(2);
    } while (now_ms() < deadline);
    fprintf(stderr, "timeout waiting for a message \"%s\"\n", body);
    return -1;
}

/* Polls the listener's counters until `cond` (an expression over `st`) holds, or times out. */
#define WAIT_STATS(l, cond)                                                                        \
    do {                                                                                           \
        syslog_listener_stats_t st;                                                                \
        int64_t deadline_ = now_ms() + WAIT_MS;                                                    \
        for (;;) {                                                                                 \
            syslog_listener_get_stats((l), &st);                                                   \
            if ((cond) || now_ms() > deadline_) break;                                             \
            sleep_ms(2);                                                                           \
        }                                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

/* Runs a program to completion (no shell); returns its exit status or -1. */
static int run(char *const argv[])
{
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) return -1;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A connected loopback socket of the given type to host:port (v4 or v6 literal). */
static int connect_to(const char *host, int port, int type)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd;

    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
        sl = sizeof *a;
    }
    fd = socket(ss.ss_family, type, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* 1 when the peer closed the connection within the wait, else 0. */
static int peer_closed(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    char c;
    if (poll(&pfd, 1, WAIT_MS) != 1) return 0;
    return recv(fd, &c, 1, 0) == 0;
}

/* ---- the real logger ---- */

static void test_logger(syslog_listener_t *l)
{
    char host[256], shorthost[256], port4u[8], port4t[8], port6t[8], port6u[8];
    char tmpl[] = "/tmp/zflow-syslog-XXXXXX";
    record_t r;
    int n = 0;

    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    memcpy(shorthost, host, sizeof host);
    if (strchr(shorthost, '.')) *strchr(shorthost, '.') = '\0';
    snprintf(port4u, sizeof port4u, "%d", syslog_listener_port(l, 0));
    snprintf(port4t, sizeof port4t, "%d", syslog_listener_port(l, 1));
    snprintf(port6u, sizeof port6u, "%d", syslog_listener_port(l, 2));
    snprintf(port6t, sizeof port6t, "%d", syslog_listener_port(l, 3));

    static const struct {
        const char *server, *transport, *format, *octet, *id;
        int port_index, is_tcp, rfc3164;
    } cases[] = {
        {"127.0.0.1", "--udp", "--rfc3164", NULL, NULL, 0, 0, 1},
        {"127.0.0.1", "--udp", "--rfc5424", NULL, "--id=4242", 0, 0, 0},
        {"127.0.0.1", "--tcp", "--rfc3164", NULL, "--id=4242", 1, 1, 1},
        {"127.0.0.1", "--tcp", "--rfc5424", NULL, NULL, 1, 1, 0},
        {"127.0.0.1", "--tcp", "--rfc3164", "--octet-count", NULL, 1, 1, 1},
        {"127.0.0.1", "--tcp", "--rfc5424", "--octet-count", "--id=4242", 1, 1, 0},
        {"::1", "--udp", "--rfc5424", NULL, NULL, 2, 0, 0},
        {"::1", "--tcp", "--rfc5424", "--octet-count", NULL, 3, 1, 0},
        {"::1", "--tcp", "--rfc3164", NULL, NULL, 3, 1, 1},
    };
    const char *ports[4] = {port4u, port4t, port6u, port6t};

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[128];
        char *argv[20];
        int a = 0;
        snprintf(body, sizeof body, "logger case %zu %s %s%s", i, cases[i].transport,
                 cases[i].format, cases[i].octet ? " octet" : "");
        argv[a++] = "logger";
        argv[a++] = "--server";
        argv[a++] = (char *)cases[i].server;
        argv[a++] = "--port";
        argv[a++] = (char *)ports[cases[i].port_index];
        argv[a++] = (char *)cases[i].transport;
        argv[a++] = (char *)cases[i].format;
        if (cases[i].octet) argv[a++] = (char *)cases[i].octet;
        if (cases[i].id) argv[a++] = (char *)cases[i].id;
        argv[a++] = "-p";
        argv[a++] = "local3.warning";
        argv[a++] = "-t";
        argv[a++] = "ZflowTest";
        argv[a++] = body;
        argv[a] = NULL;
        CHECK_EQ(run(argv), 0);
        if (wait_record(body, &r) != 0) {
            CHECK(0);
            continue;
        }
        n++;
        CHECK_EQ(r.parsed, 1);
        CHECK_EQ(r.format, cases[i].rfc3164 ? SYSLOG_FMT_RFC3164 : SYSLOG_FMT_RFC5424);
        CHECK_EQ(r.pri, 19 * 8 + 4);     /* local3.warning */
        CHECK_STREQ(r.app, "ZflowTest"); /* as sent: lower-casing is the dispatcher's */
        CHECK_STREQ(r.host, cases[i].rfc3164 ? shorthost : host);
        CHECK_STREQ(r.procid, cases[i].id ? "4242" : "");
        CHECK_EQ(r.is_tcp, cases[i].is_tcp);
        CHECK_EQ(r.family, strchr(cases[i].server, ':') ? AF_INET6 : AF_INET);
        if (!cases[i].rfc3164) CHECK(strstr(r.sd, "timeQuality") != NULL);
    }
    CHECK_EQ(n, (int)(sizeof cases / sizeof *cases));

    /* a file: one message per line on one TCP connection, with structured data */
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    if (fd >= 0) {
        const char *lines = "file line one\nfile line two\nfile line three\n";
        CHECK_EQ(write(fd, lines, strlen(lines)), (long long)strlen(lines));
        close(fd);
        char *argv[] = {
            "logger",        "--server", "127.0.0.1", "--port",  port4t,        "--tcp",
            "--octet-count", "--msgid",  "M1",        "--sd-id", "zflow@32473", "--sd-param",
            "k=\"v\\]\"",    "-t",       "filer",     "-f",      tmpl,          NULL};
        CHECK_EQ(run(argv), 0);
        CHECK_EQ(wait_record("file line one", &r), 0);
        CHECK_STREQ(r.msgid, "M1");
        CHECK(strstr(r.sd, "[zflow@32473 k=\"v\\]\"]") != NULL);
        char v[8];
        CHECK_EQ(syslog_sd_param(r.sd, strlen(r.sd), "zflow@32473", "k", v, sizeof v), 2);
        CHECK_STREQ(v, "v]");
        CHECK_EQ(wait_record("file line two", &r), 0);
        CHECK_EQ(wait_record("file line three", &r), 0);
        CHECK_STREQ(r.app, "filer");
        unlink(tmpl);
    }
}

/* ---- many TCP clients, interleaved partial writes ---- */

static void test_many_clients(syslog_listener_t *l, const char *host, int port)
{
    enum { CLIENTS = 50, PER_CLIENT = 40 };
    static char stream[CLIENTS][PER_CLIENT * 96];
    size_t len[CLIENTS], off[CLIENTS];
    int fd[CLIENTS];
    syslog_listener_stats_t before;
    uint32_t x = 7;
    int live = CLIENTS;

    /* the earlier tests' clients (logger) exit before the listener sees their FIN: wait for it,
     * or `before` counts a client that goes away during this test */
    WAIT_STATS(l, st.tcp_clients == 0);
    rx_reset();
    syslog_listener_get_stats(l, &before);
    for (int c = 0; c < CLIENTS; c++) {
        len[c] = off[c] = 0;
        for (int k = 0; k < PER_CLIENT; k++) {
            char m[96];
            int n = snprintf(m, sizeof m,
                             "<13>1 2026-11-27T21:24:31Z h app%d - - - stream %d seq %d", c, c, k);
            if (c % 2) /* odd clients count octets, even ones end lines (CRLF on some) */
                len[c] += (size_t)sprintf(stream[c] + len[c], "%d %s", n, m);
            else
                len[c] += (size_t)sprintf(stream[c] + len[c], "%s%s", m, k % 3 ? "\n" : "\r\n");
        }
        fd[c] = connect_to(host, port, SOCK_STREAM);
        CHECK(fd[c] >= 0);
    }
    /* round-robin: each client writes a random 1..40-byte piece in turn */
    while (live > 0) {
        live = 0;
        for (int c = 0; c < CLIENTS; c++) {
            if (fd[c] < 0 || off[c] == len[c]) continue;
            x = x * 1103515245u + 12345u;
            size_t n = 1 + (x >> 16) % 40;
            if (n > len[c] - off[c]) n = len[c] - off[c];
            CHECK_EQ(send_all(fd[c], stream[c] + off[c], n), 0);
            off[c] += n;
            live++;
        }
    }
    WAIT_STATS(l, st.tcp_messages - before.tcp_messages == CLIENTS * PER_CLIENT);
    WAIT_STATS(l, st.tcp_clients >= CLIENTS);
    for (int c = 0; c < CLIENTS; c++)
        if (fd[c] >= 0) close(fd[c]);
    WAIT_STATS(l, st.tcp_clients == before.tcp_clients);
    syslog_listener_get_stats(l, &before);
    CHECK_EQ(before.tcp_partial_at_close, 0);
    pthread_mutex_lock(&rx.lock);
    CHECK_EQ(rx.seq_errors, 0);
    for (int c = 0; c < CLIENTS; c++)
        CHECK_EQ(rx.next_seq[c], PER_CLIENT);
    CHECK_EQ(rx.n_null, 0);
    pthread_mutex_unlock(&rx.lock);
}

/* ---- bad input ---- */

static void test_bad_input(syslog_listener_t *l)
{
    syslog_listener_stats_t b, a;
    record_t r;
    char *big;
    int fd;
    static const char garbage[] = "\x00\xff\xfe\x13\x37garbage\x80\x81";

    /* a 1 MiB line: counted oversized, the next message on the same connection arrives */
    syslog_listener_get_stats(l, &b);
    big = malloc((1 << 20) + 64);
    CHECK(big != NULL);
    if (!big) return;
    memcpy(big, "<13>", 4);
    memset(big + 4, 'x', (1 << 20) - 4);
    big[1 << 20] = '\n';
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 1), SOCK_STREAM);
    CHECK(fd >= 0);
    CHECK_EQ(send_all(fd, big, (1 << 20) + 1), 0);
    const char *after = "<13>1 - h app - - - after the big one\n";
    CHECK_EQ(send_all(fd, after, strlen(after)), 0);
    CHECK_EQ(wait_record("after the big one", &r), 0);
    syslog_listener_get_stats(l, &a);
    CHECK_EQ(a.oversized - b.oversized, 1);
    /* an octet count over the limit: skipped, counted, the stream goes on */
    memcpy(big, "1048576 ", 8);
    CHECK_EQ(send_all(fd, big, 8 + (1 << 20)), 0);
    after = "<13>1 - h app - - - after the big frame\n";
    CHECK_EQ(send_all(fd, after, strlen(after)), 0);
    CHECK_EQ(wait_record("after the big frame", &r), 0);
    syslog_listener_get_stats(l, &a);
    CHECK_EQ(a.oversized - b.oversized, 2);
    /* bad octet count: counted, read as a line */
    after = "12x <13>1 - h app - - - bad count\n";
    CHECK_EQ(send_all(fd, after, strlen(after)), 0);
    CHECK_EQ(wait_record("12x <13>1 - h app - - - bad count", &r), 0);
    CHECK_EQ(r.parsed, 0);
    syslog_listener_get_stats(l, &a);
    CHECK_EQ(a.bad_octet_count - b.bad_octet_count, 1);
    close(fd);
    free(big);

    /* binary garbage over UDP and TCP: delivered with msg == NULL, counted malformed */
    syslog_listener_get_stats(l, &b);
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 0), SOCK_DGRAM);
    CHECK(fd >= 0);
    CHECK_EQ(send(fd, garbage, sizeof garbage - 1, 0), (long long)(sizeof garbage - 1));
    CHECK_EQ(send(fd, "{\"invalid\": json", 16, 0), 16);
    close(fd);
    fd = connect_to("::1", syslog_listener_port(l, 3), SOCK_STREAM);
    CHECK(fd >= 0);
    const char *tcp_garbage = "\x01\x02\xfe\xff binary\n{\"a\":\n";
    CHECK_EQ(send_all(fd, tcp_garbage, strlen(tcp_garbage)), 0);
    close(fd);
    WAIT_STATS(l, st.malformed - b.malformed == 4);
    CHECK_EQ(wait_record("{\"invalid\": json", &r), 0);
    CHECK_EQ(r.parsed, 0);
    CHECK_EQ(r.is_tcp, 0);
    CHECK_EQ(wait_record("{\"a\":", &r), 0);
    CHECK_EQ(r.parsed, 0);
    CHECK_EQ(r.family, AF_INET6);
    pthread_mutex_lock(&rx.lock);
    CHECK(rx.n_null >= 4);
    pthread_mutex_unlock(&rx.lock);

    /* half-sent frames, then close: counted as partial */
    syslog_listener_get_stats(l, &b);
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 1), SOCK_STREAM);
    CHECK_EQ(send_all(fd, "<13>1 - h app - - - half a line", 31), 0);
    close(fd);
    fd = connect_to("::1", syslog_listener_port(l, 3), SOCK_STREAM);
    CHECK_EQ(send_all(fd, "100 <13>1 - h app - - - half a frame", 36), 0);
    close(fd);
    WAIT_STATS(l, st.tcp_partial_at_close - b.tcp_partial_at_close == 2);
    WAIT_STATS(l, st.tcp_clients == 0); /* every client of this test has closed */
    syslog_listener_get_stats(l, &a);
    CHECK_EQ(a.tcp_messages, b.tcp_messages);

    /* a message after all that still arrives: the listener keeps running */
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 0), SOCK_DGRAM);
    CHECK_EQ(send(fd, "<13>1 - h app - - - still alive\n", 32, 0), 32);
    close(fd);
    CHECK_EQ(wait_record("still alive", &r), 0);
}

/* ---- caps: UDP truncation, idle clients, client limit ---- */

static void test_caps(void)
{
    char err[256];
    syslog_listener_config_t cfg;
    syslog_listener_t *l;
    record_t r;
    char dgram[2000];
    int fd, fds[3];

    memset(&cfg, 0, sizeof cfg);
    cfg.endpoints[0] = "udp://127.0.0.1:0";
    cfg.endpoints[1] = "tcp://127.0.0.1:0";
    cfg.n_endpoints = 2;
    cfg.max_message = 1024;
    cfg.max_clients = 2;
    cfg.idle_timeout_s = 1;
    cfg.deliver = on_message;
    cfg.ctx = &rx;
    l = syslog_listener_new(&cfg, err, sizeof err);
    CHECK(l != NULL);
    if (!l) {
        fprintf(stderr, "%s\n", err);
        return;
    }

    /* a datagram over max_message: cut, counted, delivered */
    memset(dgram, 'd', sizeof dgram);
    memcpy(dgram, "<13>1 - h app - - - ", 20);
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 0), SOCK_DGRAM);
    CHECK_EQ(send(fd, dgram, sizeof dgram, 0), (long long)sizeof dgram);
    close(fd);
    WAIT_STATS(l, st.truncated_udp == 1 && st.udp_messages == 1);
    memset(dgram, 'd', 511);
    dgram[511] = '\0';
    CHECK_EQ(wait_record(dgram, &r), 0); /* the body is cut at 511 in the record */
    CHECK_EQ(r.raw_len, 1024);

    /* the client limit: the third is accepted and closed at once */
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to("127.0.0.1", syslog_listener_port(l, 1), SOCK_STREAM);
        CHECK(fds[i] >= 0);
        if (i < 2) WAIT_STATS(l, st.tcp_accepted == (uint64_t)i + 1);
    }
    WAIT_STATS(l, st.tcp_refused == 1);
    CHECK(peer_closed(fds[2]));
    close(fds[2]);

    /* idle clients are closed after idle_timeout_s (1 s here) */
    int64_t t0 = now_ms();
    WAIT_STATS(l, st.tcp_idle_closed == 2 && st.tcp_clients == 0);
    CHECK(peer_closed(fds[0]));
    CHECK(peer_closed(fds[1]));
    printf("idle clients closed after %lld ms (idle_timeout_s=1)\n", (long long)(now_ms() - t0));
    close(fds[0]);
    close(fds[1]);
    /* a client sending in time is not idle-closed */
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 1), SOCK_STREAM);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(send_all(fd, "<13>1 - h app - - - keepalive\n", 30), 0);
        sleep_ms(300);
    }
    syslog_listener_stats_t st;
    syslog_listener_get_stats(l, &st);
    CHECK_EQ(st.tcp_idle_closed, 2);
    CHECK_EQ(st.tcp_clients, 1);
    close(fd);
    syslog_listener_destroy(&l);
    CHECK(l == NULL);
}

/* ---- endpoints ---- */

static void test_endpoints(syslog_listener_t *running)
{
    static const char *const bad[] = {
        "foo://127.0.0.1:5514", "udp://127.0.0.1", "udp://:5514",
        "tcp://::1:5514",       "tcp://[::1]5514", "udp://127.0.0.1:99999",
        "udp://127.0.0.1:x",    "tcp://[::1:5514", "udp://no.such.host.invalid:5514"};
    char err[256], ep[64], ep2[64];
    syslog_listener_config_t cfg;
    syslog_listener_t *l;

    memset(&cfg, 0, sizeof cfg);
    cfg.n_endpoints = 1;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cfg.endpoints[0] = bad[i];
        err[0] = '\0';
        l = syslog_listener_new(&cfg, err, sizeof err);
        CHECK(l == NULL);
        CHECK(err[0] != '\0' && !strchr(err, '\n'));
        syslog_listener_destroy(&l);
    }
    cfg.n_endpoints = 0;
    CHECK(syslog_listener_new(&cfg, err, sizeof err) == NULL);
    cfg.n_endpoints = 1;
    cfg.endpoints[0] = "tcp://127.0.0.1:0";
    cfg.max_message = (size_t)1 << 30;
    CHECK(syslog_listener_new(&cfg, err, sizeof err) == NULL);
    cfg.max_message = 0;

    /* address in use (TCP and UDP), reported in one line */
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", syslog_listener_port(running, 1));
    cfg.endpoints[0] = ep;
    CHECK(syslog_listener_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "in use") != NULL);
    snprintf(ep, sizeof ep, "udp://127.0.0.1:%d", syslog_listener_port(running, 0));
    CHECK(syslog_listener_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "in use") != NULL);
    printf("address in use: %s\n", err);

    /* the same port on IPv4 and IPv6 loopback, a host name, then the port is free again */
    cfg.endpoints[0] = "tcp://127.0.0.1:0";
    l = syslog_listener_new(&cfg, err, sizeof err);
    CHECK(l != NULL);
    if (!l) return;
    int port = syslog_listener_port(l, 0);
    CHECK(port > 0);
    CHECK_EQ(syslog_listener_port(l, 1), -1);
    CHECK_EQ(syslog_listener_port(NULL, 0), -1);
    snprintf(ep, sizeof ep, "tcp://[::1]:%d", port);
    snprintf(ep2, sizeof ep2, "udp://localhost:%d", port);
    cfg.endpoints[0] = ep;
    cfg.endpoints[1] = ep2;
    cfg.n_endpoints = 2;
    syslog_listener_t *l6 = syslog_listener_new(&cfg, err, sizeof err);
    CHECK(l6 != NULL);
    if (!l6) fprintf(stderr, "%s\n", err);
    syslog_listener_destroy(&l6);
    syslog_listener_destroy(&l);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    cfg.n_endpoints = 1;
    l = syslog_listener_new(&cfg, err, sizeof err); /* SO_REUSEADDR */
    CHECK(l != NULL);
    syslog_listener_destroy(&l);
    syslog_listener_destroy(NULL);
}

/* ---- throughput ---- */

/* CPU time (user + system, ms) used so far by the listener thread ("syslog-listen"), or -1. */
static long long listener_cpu_ms(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    long long ms = -1;
    long hz = sysconf(_SC_CLK_TCK);

    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], comm[64], stat[1024];
        FILE *f;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (!(f = fopen(path, "r"))) continue;
        comm[0] = '\0';
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, "syslog-listen", 13) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if (!(f = fopen(path, "r"))) continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        /* fields after the ")" of comm: state is 3rd, utime 14th, stime 15th */
        char *p = strrchr(stat, ')');
        unsigned long long ut, st;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            ms = (long long)((ut + st) * 1000 / (unsigned long long)hz);
    }
    closedir(d);
    return ms;
}

static void test_throughput(syslog_listener_t *l)
{
    enum { TCP_MSGS = 400000, UDP_MSGS = 200000, BATCH = 64 };
    const char *m = "<13>1 2026-11-27T21:24:31.056130+00:00 vm suricata - - - flow 12345 ok\n";
    size_t mlen = strlen(m);
    size_t chunk_msgs = 2048;
    char *chunk = malloc(chunk_msgs * mlen);
    syslog_listener_stats_t b, a;
    int64_t t0, t1;
    long long cpu0, cpu1;
    int fd;

    if (!chunk) return;
    for (size_t i = 0; i < chunk_msgs; i++)
        memcpy(chunk + i * mlen, m, mlen);

    /* TCP: one client, big writes */
    rx_reset();
    syslog_listener_get_stats(l, &b);
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 1), SOCK_STREAM);
    CHECK(fd >= 0);
    t0 = now_ms();
    cpu0 = listener_cpu_ms();
    for (int sent = 0; sent < TCP_MSGS; sent += (int)chunk_msgs) {
        size_t n = TCP_MSGS - sent < (int)chunk_msgs ? (size_t)(TCP_MSGS - sent) : chunk_msgs;
        if (send_all(fd, chunk, n * mlen) != 0) break;
    }
    WAIT_STATS(l, st.tcp_messages - b.tcp_messages == TCP_MSGS);
    t1 = now_ms();
    cpu1 = listener_cpu_ms();
    close(fd);
    syslog_listener_get_stats(l, &a);
    CHECK_EQ(a.parsed - b.parsed, TCP_MSGS);
    printf("throughput: TCP %d messages of %zu bytes in %lld ms = %.0f messages/s; listener "
           "thread CPU %lld ms = %.0f messages per CPU-second\n",
           TCP_MSGS, mlen - 1, (long long)(t1 - t0),
           TCP_MSGS * 1000.0 / (double)(t1 - t0 ? t1 - t0 : 1), cpu1 - cpu0,
           TCP_MSGS * 1000.0 / (double)(cpu1 - cpu0 > 0 ? cpu1 - cpu0 : 1));

    /* UDP: sendmmsg bursts; what the kernel drops is counted, not lost silently */
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = (void *)m;
        iov[i].iov_len = mlen - 1;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    syslog_listener_get_stats(l, &b);
    fd = connect_to("127.0.0.1", syslog_listener_port(l, 0), SOCK_DGRAM);
    CHECK(fd >= 0);
    t0 = now_ms();
    cpu0 = listener_cpu_ms();
    for (int sent = 0; sent < UDP_MSGS;) {
        int k = sendmmsg(fd, mm, BATCH, 0);
        if (k <= 0) break;
        sent += k;
    }
    int64_t t_sent = now_ms();
    /* wait until the counters stop moving */
    uint64_t last = 0;
    for (;;) {
        sleep_ms(50);
        syslog_listener_get_stats(l, &a);
        uint64_t seen = a.udp_messages - b.udp_messages + a.udp_kernel_drops - b.udp_kernel_drops;
        if (seen >= UDP_MSGS || (seen == last && now_ms() - t_sent > 500)) break;
        last = seen;
    }
    t1 = now_ms();
    cpu1 = listener_cpu_ms();
    close(fd);
    uint64_t got = a.udp_messages - b.udp_messages,
             dropped = a.udp_kernel_drops - b.udp_kernel_drops;
    printf(
        "throughput: UDP %d datagrams sent in %lld ms, %llu received, %llu dropped by the kernel "
        "(counted); listener thread CPU %lld ms = %.0f messages per CPU-second\n",
        UDP_MSGS, (long long)(t_sent - t0), (unsigned long long)got, (unsigned long long)dropped,
        cpu1 - cpu0, (double)got * 1000.0 / (double)(cpu1 - cpu0 > 0 ? cpu1 - cpu0 : 1));
    CHECK(got > 0);
    CHECK(got + dropped <= UDP_MSGS);
    free(chunk);
}

int main(void)
{
    char err[256];
    syslog_listener_config_t cfg;
    syslog_listener_t *l;

    memset(&cfg, 0, sizeof cfg);
    cfg.endpoints[0] = "udp://127.0.0.1:0";
    cfg.endpoints[1] = "tcp://127.0.0.1:0";
    cfg.endpoints[2] = "udp://[::1]:0";
    cfg.endpoints[3] = "tcp://[::1]:0";
    cfg.n_endpoints = 4;
    cfg.deliver = on_message;
    cfg.ctx = &rx;
    l = syslog_listener_new(&cfg, err, sizeof err);
    CHECK(l != NULL);
    if (!l) {
        fprintf(stderr, "syslog_listener_new: %s\n", err);
        return check_report();
    }
    for (int i = 0; i < 4; i++)
        CHECK(syslog_listener_port(l, i) > 0);

    test_logger(l);
    test_many_clients(l, "127.0.0.1", syslog_listener_port(l, 1));
    test_many_clients(l, "::1", syslog_listener_port(l, 3));
    test_bad_input(l);
    test_endpoints(l);
    test_caps();
    test_throughput(l);

    syslog_listener_stats_t st;
    syslog_listener_get_stats(l, &st);
    printf("stats: udp %llu tcp %llu parsed %llu malformed %llu oversized %llu accepted %llu "
           "partial %llu bad_octet %llu\n",
           (unsigned long long)st.udp_messages, (unsigned long long)st.tcp_messages,
           (unsigned long long)st.parsed, (unsigned long long)st.malformed,
           (unsigned long long)st.oversized, (unsigned long long)st.tcp_accepted,
           (unsigned long long)st.tcp_partial_at_close, (unsigned long long)st.bad_octet_count);
    syslog_listener_destroy(&l);
    CHECK(l == NULL);
    return check_report();
}
