/* syslog_listener: one epoll thread owning the syslog UDP/TCP sockets; RFC 6587 TCP framing
 * through syslog_framer, RFC 3164/5424/JSON parsing through syslog_parse. */
#include "syslog_listener.h"
#include "syslog_framer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_MESSAGE  65536u
#define LIMIT_MAX_MESSAGE    (16u * 1024 * 1024)
#define DEFAULT_MAX_CLIENTS  1024
#define LIMIT_MAX_CLIENTS    65536
#define DEFAULT_IDLE_S       300
#define UDP_RCVBUF           (8 * 1024 * 1024)
#define UDP_BATCH            16     /* datagrams per recvmmsg() */
#define UDP_MAX_DATAGRAM     65535u /* no UDP payload is larger */
#define UDP_ROUNDS_PER_EVENT 8      /* recvmmsg() calls per readiness, then others' turn */
#define TCP_READ_BUF         (256 * 1024)
#define TCP_READS_PER_EVENT  4
#define ACCEPTS_PER_EVENT    64
#define EPOLL_EVENTS         64

enum tag_kind { TAG_WAKE = 1, TAG_ENDPOINT, TAG_CLIENT };
#define TAG(kind, i) (((uint64_t)(kind) << 32) | (uint32_t)(i))

typedef struct endpoint {
    int fd;
    int is_tcp;
    int port;
    uint32_t rxq_drops; /* last SO_RXQ_OVFL value seen (cumulative per socket) */
} endpoint_t;

typedef struct client {
    int fd; /* -1: free slot */
    int next_free;
    syslog_framer_t *framer;
    struct sockaddr_storage peer;
    int64_t last_ms; /* monotonic time of the last byte */
    struct syslog_listener *owner;
} client_t;

/* The shared counters: written by the thread, read by syslog_listener_get_stats(). */
typedef struct counters {
    _Atomic uint64_t udp_messages, tcp_messages, bytes, parsed, malformed, oversized, truncated_udp,
        tcp_clients, tcp_accepted, tcp_refused, tcp_idle_closed, tcp_partial_at_close,
        bad_octet_count, udp_kernel_drops;
} counters_t;

#define COUNT(self, field, n)                                                                      \
    atomic_fetch_add_explicit(&(self)->st.field, (n), memory_order_relaxed)
#define READ(self, field) atomic_load_explicit(&(self)->st.field, memory_order_relaxed)

struct syslog_listener {
    size_t max_message;
    int max_clients;
    int64_t idle_ms;
    syslog_deliver_fn deliver;
    syslog_flush_fn flush;
    void *ctx;

    endpoint_t ep[SYSLOG_LISTENER_MAX_ENDPOINTS];
    int n_ep;
    int epfd, wakefd, spare_fd;
    pthread_t thread;
    int started;
    atomic_int stop;

    client_t *clients; /* max_clients slots */
    int free_head, n_clients;
    char *tcp_buf;   /* TCP_READ_BUF */
    char *udp_buf;   /* UDP_BATCH slots of udp_slot bytes */
    size_t udp_slot; /* max_message, at most the largest datagram */
    struct mmsghdr udp_msgs[UDP_BATCH];
    struct iovec udp_iov[UDP_BATCH];
    struct sockaddr_storage udp_from[UDP_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } udp_ctrl[UDP_BATCH];
    int64_t now_s; /* wall clock, refreshed every loop: the year of RFC 3164 timestamps */

    counters_t st;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses one message and hands it to the callback. */
static void deliver(syslog_listener_t *self, const char *raw, size_t len,
                    const struct sockaddr_storage *from, int is_tcp)
{
    syslog_msg_t msg;
    int ok = syslog_parse_at(raw, len, self->now_s, &msg) == 0;

    COUNT(self, bytes, len);
    if (ok)
        COUNT(self, parsed, 1);
    else
        COUNT(self, malformed, 1);
    if (self->deliver) self->deliver(self->ctx, raw, len, ok ? &msg : NULL, from, is_tcp);
}

/* ---- endpoints ---- */

/* Splits "udp://HOST:PORT" / "tcp://[V6]:PORT"; 0, or -1 with err set. */
static int endpoint_split(const char *spec, int *is_tcp, char *host, size_t hostcap, char *port,
                          char *err, size_t errlen)
{
    const char *h, *h_end, *p;
    size_t n;

    if (strncmp(spec, "udp://", 6) == 0) {
        *is_tcp = 0;
    } else if (strncmp(spec, "tcp://", 6) == 0) {
        *is_tcp = 1;
    } else {
        snprintf(err, errlen, "syslog endpoint %s: expected udp://HOST:PORT or tcp://HOST:PORT",
                 spec);
        return -1;
    }
    h = spec + 6;
    if (*h == '[') {
        h++;
        h_end = strchr(h, ']');
        if (!h_end || h_end[1] != ':') goto fail;
        p = h_end + 2;
    } else {
        h_end = strrchr(h, ':');
        if (!h_end || memchr(h, ':', (size_t)(h_end - h))) goto fail; /* bare IPv6 */
        p = h_end + 1;
    }
    n = (size_t)(h_end - h);
    if (n == 0 || n >= hostcap) goto fail;
    memcpy(host, h, n);
    host[n] = '\0';
    n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n || atoi(p) > 65535) goto fail;
    memcpy(port, p, n + 1);
    return 0;
fail:
    snprintf(err, errlen, "syslog endpoint %s: expected udp://HOST:PORT or tcp://[IPV6]:PORT",
             spec);
    return -1;
}

/* Creates, configures and binds the socket of one endpoint; 0, or -1 with err set. */
static int endpoint_open(endpoint_t *ep, const char *spec, char *err, size_t errlen)
{
    char host[256], port[8];
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    const char *what = "socket";
    int one = 1, rcvbuf = UDP_RCVBUF, rc, sys_err = 1;

    ep->fd = -1;
    if (endpoint_split(spec, &ep->is_tcp, host, sizeof host, port, err, errlen) != 0) return -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = ep->is_tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errlen, "syslog endpoint %s: %s", spec, gai_strerror(rc));
        sys_err = 0;
        goto fail;
    }
    ep->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ep->fd < 0) goto fail;
    what = "setsockopt";
    if (ai->ai_family == AF_INET6 &&
        setsockopt(ep->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        goto fail;
    /* TCP only: on UDP, SO_REUSEADDR would let two listeners share a port silently */
    if (ep->is_tcp && setsockopt(ep->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    if (!ep->is_tcp) {
        /* best effort: FORCE needs CAP_NET_ADMIN, plain SO_RCVBUF is capped by rmem_max */
        if (setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
            (void)setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        (void)setsockopt(ep->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    }
    what = "bind";
    if (bind(ep->fd, ai->ai_addr, ai->ai_addrlen) != 0) goto fail;
    what = "listen";
    if (ep->is_tcp && listen(ep->fd, SOMAXCONN) != 0) goto fail;
    what = "getsockname";
    if (getsockname(ep->fd, (struct sockaddr *)&ss, &sl) != 0) goto fail;
    ep->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(ai);
    return 0;
fail:
    if (sys_err) snprintf(err, errlen, "syslog endpoint %s: %s: %s", spec, what, strerror(errno));
    if (ai) freeaddrinfo(ai);
    if (ep->fd >= 0) close(ep->fd);
    ep->fd = -1;
    return -1;
}

/* ---- TCP clients ---- */

static void client_close(syslog_listener_t *self, client_t *c, int count_partial)
{
    int slot = (int)(c - self->clients);

    if (count_partial && syslog_framer_partial(c->framer)) COUNT(self, tcp_partial_at_close, 1);
    close(c->fd); /* also leaves the epoll set */
    syslog_framer_destroy(&c->framer);
    c->fd = -1;
    c->next_free = self->free_head;
    self->free_head = slot;
    self->n_clients--;
    atomic_fetch_sub_explicit(&self->st.tcp_clients, 1, memory_order_relaxed);
}

/* Framer callback: one TCP message of client ctx. */
static void on_tcp_frame(void *ctx, const char *msg, size_t len)
{
    client_t *c = ctx;
    COUNT(c->owner, tcp_messages, 1);
    deliver(c->owner, msg, len, &c->peer, 1);
}

/* Out of descriptors: accept with the spare one and close at once, so the backlog drains
 * instead of waking the loop forever. */
static void shed_connection(syslog_listener_t *self, int lfd)
{
    int fd;
    if (self->spare_fd >= 0) close(self->spare_fd);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        COUNT(self, tcp_refused, 1);
    }
    self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(syslog_listener_t *self, endpoint_t *ep, int64_t now_ms)
{
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage peer;
        socklen_t sl = sizeof peer;
        struct epoll_event ev;
        client_t *c;
        int fd = accept4(ep->fd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) shed_connection(self, ep->fd);
            return; /* EAGAIN: backlog empty */
        }
        if (self->free_head < 0) {
            close(fd);
            COUNT(self, tcp_refused, 1);
            continue;
        }
        c = &self->clients[self->free_head];
        c->framer = syslog_framer_new(self->max_message);
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = TAG(TAG_CLIENT, self->free_head);
        if (!c->framer || epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            fprintf(stderr, "syslog listener: cannot take a TCP client: %s\n",
                    c->framer ? strerror(errno) : "out of memory");
            syslog_framer_destroy(&c->framer);
            close(fd);
            COUNT(self, tcp_refused, 1);
            continue;
        }
        self->free_head = c->next_free;
        c->fd = fd;
        c->peer = peer;
        c->last_ms = now_ms;
        self->n_clients++;
        COUNT(self, tcp_accepted, 1);
        COUNT(self, tcp_clients, 1);
    }
}

static void on_client(syslog_listener_t *self, client_t *c, int64_t now_ms)
{
    for (int i = 0; i < TCP_READS_PER_EVENT; i++) {
        ssize_t n = recv(c->fd, self->tcp_buf, TCP_READ_BUF, 0);
        if (n > 0) {
            syslog_framer_stats_t fs = {0, 0, 0};
            c->last_ms = now_ms;
            syslog_framer_feed(c->framer, self->tcp_buf, (size_t)n, &fs, on_tcp_frame, c);
            if (fs.oversized) COUNT(self, oversized, fs.oversized);
            if (fs.bad_octet_count) COUNT(self, bad_octet_count, fs.bad_octet_count);
            if ((size_t)n < TCP_READ_BUF) return; /* drained; epoll says when there is more */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        client_close(self, c, 1); /* EOF or error (reset) */
        return;
    }
}

static void close_idle_clients(syslog_listener_t *self, int64_t now_ms)
{
    for (int i = 0; i < self->max_clients && self->n_clients > 0; i++) {
        client_t *c = &self->clients[i];
        if (c->fd >= 0 && now_ms - c->last_ms >= self->idle_ms) {
            COUNT(self, tcp_idle_closed, 1);
            client_close(self, c, 1);
        }
    }
}

/* ---- UDP ---- */

/* The socket's cumulative drop count from the SO_RXQ_OVFL control message, if any. */
static void count_kernel_drops(syslog_listener_t *self, endpoint_t *ep, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        uint32_t drops;
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL ||
            cm->cmsg_len < CMSG_LEN(sizeof drops))
            continue;
        memcpy(&drops, CMSG_DATA(cm), sizeof drops);
        if (drops != ep->rxq_drops)
            COUNT(self, udp_kernel_drops, (uint32_t)(drops - ep->rxq_drops));
        ep->rxq_drops = drops;
    }
}

static void on_udp(syslog_listener_t *self, endpoint_t *ep)
{
    for (int round = 0; round < UDP_ROUNDS_PER_EVENT; round++) {
        int n;
        for (int i = 0; i < UDP_BATCH; i++) {
            struct msghdr *mh = &self->udp_msgs[i].msg_hdr;
            mh->msg_name = &self->udp_from[i];
            mh->msg_namelen = sizeof self->udp_from[i];
            mh->msg_iov = &self->udp_iov[i];
            mh->msg_iovlen = 1;
            mh->msg_control = self->udp_ctrl[i].buf;
            mh->msg_controllen = sizeof self->udp_ctrl[i].buf;
            mh->msg_flags = 0;
        }
        n = recvmmsg(ep->fd, self->udp_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &self->udp_msgs[i].msg_hdr;
            const char *raw = self->udp_iov[i].iov_base;
            size_t len = self->udp_msgs[i].msg_len;

            count_kernel_drops(self, ep, mh);
            if (mh->msg_flags & MSG_TRUNC) COUNT(self, truncated_udp, 1);
            while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
                len--;
            COUNT(self, udp_messages, 1);
            deliver(self, raw, len, &self->udp_from[i], 0);
        }
        if (n < UDP_BATCH) return;
    }
}

/* ---- the thread ---- */

static void *listener_run(void *arg)
{
    syslog_listener_t *self = arg;
    struct epoll_event events[EPOLL_EVENTS];
    int64_t check_every = self->idle_ms / 4, next_check;

    if (check_every > 1000) check_every = 1000;
    if (check_every < 50) check_every = 50;
    next_check = mono_ms() + check_every;
    while (!atomic_load(&self->stop)) {
        int timeout = -1, n;
        int64_t now_ms;

        if (self->n_clients > 0) {
            timeout = (int)(next_check - mono_ms());
            if (timeout < 0) timeout = 0;
        }
        n = epoll_wait(self->epfd, events, EPOLL_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "syslog listener: epoll_wait: %s\n", strerror(errno));
            break;
        }
        now_ms = mono_ms();
        self->now_s = (int64_t)time(NULL);
        for (int i = 0; i < n; i++) {
            uint32_t kind = (uint32_t)(events[i].data.u64 >> 32);
            uint32_t idx = (uint32_t)events[i].data.u64;
            if (kind == TAG_ENDPOINT) {
                endpoint_t *ep = &self->ep[idx];
                if (ep->is_tcp)
                    on_accept(self, ep, now_ms);
                else
                    on_udp(self, ep);
            } else if (kind == TAG_CLIENT && self->clients[idx].fd >= 0) {
                on_client(self, &self->clients[idx], now_ms);
            }
        }
        if (n > 0 && self->flush) self->flush(self->ctx);
        if (now_ms >= next_check) {
            close_idle_clients(self, now_ms);
            next_check = now_ms + check_every;
        }
    }
    return NULL;
}

/* ---- public ---- */

syslog_listener_t *syslog_listener_new(const syslog_listener_config_t *cfg, char *err,
                                       size_t errlen)
{
    syslog_listener_t *self = NULL;
    char dummy[1];
    struct epoll_event ev;
    sigset_t all, old;
    int i;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg || cfg->n_endpoints < 1 || cfg->n_endpoints > SYSLOG_LISTENER_MAX_ENDPOINTS) {
        snprintf(err, errlen, "syslog listener: 1 to %d endpoints needed",
                 SYSLOG_LISTENER_MAX_ENDPOINTS);
        return NULL;
    }
    if (cfg->max_message > LIMIT_MAX_MESSAGE || cfg->max_clients < 0 ||
        cfg->max_clients > LIMIT_MAX_CLIENTS || cfg->idle_timeout_s < 0) {
        snprintf(err, errlen,
                 "syslog listener: max_message <= %u, max_clients 0..%d, idle_timeout_s >= 0",
                 LIMIT_MAX_MESSAGE, LIMIT_MAX_CLIENTS);
        return NULL;
    }
    snprintf(err, errlen, "syslog listener: out of memory");
    self = calloc(1, sizeof *self);
    if (!self) goto fail;
    self->epfd = self->wakefd = self->spare_fd = -1;
    self->max_message = cfg->max_message ? cfg->max_message : DEFAULT_MAX_MESSAGE;
    self->max_clients = cfg->max_clients ? cfg->max_clients : DEFAULT_MAX_CLIENTS;
    self->idle_ms = (int64_t)(cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_S) * 1000;
    self->deliver = cfg->deliver;
    self->flush = cfg->flush;
    self->ctx = cfg->ctx;
    self->now_s = (int64_t)time(NULL);
    for (i = 0; i < SYSLOG_LISTENER_MAX_ENDPOINTS; i++)
        self->ep[i].fd = -1;

    self->clients = calloc((size_t)self->max_clients, sizeof *self->clients);
    self->tcp_buf = malloc(TCP_READ_BUF);
    self->udp_slot = self->max_message < UDP_MAX_DATAGRAM ? self->max_message : UDP_MAX_DATAGRAM;
    self->udp_buf = malloc(UDP_BATCH * self->udp_slot);
    if (!self->clients || !self->tcp_buf || !self->udp_buf) goto fail;
    for (i = 0; i < self->max_clients; i++) {
        self->clients[i].fd = -1;
        self->clients[i].owner = self;
        self->clients[i].next_free = i + 1 < self->max_clients ? i + 1 : -1;
    }
    self->free_head = 0;
    for (i = 0; i < UDP_BATCH; i++) {
        self->udp_iov[i].iov_base = self->udp_buf + (size_t)i * self->udp_slot;
        self->udp_iov[i].iov_len = self->udp_slot;
    }

    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    self->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (self->epfd < 0 || self->wakefd < 0) {
        snprintf(err, errlen, "syslog listener: epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = TAG(TAG_WAKE, 0);
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, self->wakefd, &ev) != 0) {
        snprintf(err, errlen, "syslog listener: epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    for (i = 0; i < cfg->n_endpoints; i++) {
        if (!cfg->endpoints[i]) {
            snprintf(err, errlen, "syslog listener: endpoint %d is NULL", i);
            goto fail;
        }
        if (endpoint_open(&self->ep[i], cfg->endpoints[i], err, errlen) != 0) goto fail;
        self->n_ep = i + 1;
        ev.events = EPOLLIN;
        ev.data.u64 = TAG(TAG_ENDPOINT, i);
        if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, self->ep[i].fd, &ev) != 0) {
            snprintf(err, errlen, "syslog listener: epoll_ctl: %s", strerror(errno));
            goto fail;
        }
    }

    /* the thread takes no signals: they go to the threads that handle them */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    i = pthread_create(&self->thread, NULL, listener_run, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (i != 0) {
        snprintf(err, errlen, "syslog listener: pthread_create: %s", strerror(i));
        goto fail;
    }
    self->started = 1;
    pthread_setname_np(self->thread, "syslog-listen"); /* best effort: shows in top -H */
    err[0] = '\0';
    return self;

fail:
    syslog_listener_destroy(&self);
    return NULL;
}

void syslog_listener_destroy(syslog_listener_t **selfp)
{
    syslog_listener_t *self;

    if (!selfp || !*selfp) return;
    self = *selfp;
    if (self->started) {
        uint64_t one = 1;
        atomic_store(&self->stop, 1);
        if (write(self->wakefd, &one, sizeof one) < 0)
            fprintf(stderr, "syslog listener: wake: %s\n", strerror(errno));
        pthread_join(self->thread, NULL);
    }
    if (self->clients) {
        for (int i = 0; i < self->max_clients; i++) {
            if (self->clients[i].fd >= 0) close(self->clients[i].fd);
            syslog_framer_destroy(&self->clients[i].framer);
        }
    }
    for (int i = 0; i < self->n_ep; i++)
        if (self->ep[i].fd >= 0) close(self->ep[i].fd);
    if (self->epfd >= 0) close(self->epfd);
    if (self->wakefd >= 0) close(self->wakefd);
    if (self->spare_fd >= 0) close(self->spare_fd);
    free(self->clients);
    free(self->tcp_buf);
    free(self->udp_buf);
    free(self);
    *selfp = NULL;
}

void syslog_listener_get_stats(syslog_listener_t *self, syslog_listener_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!self) return;
    out->udp_messages = READ(self, udp_messages);
    out->tcp_messages = READ(self, tcp_messages);
    out->bytes = READ(self, bytes);
    out->parsed = READ(self, parsed);
    out->malformed = READ(self, malformed);
    out->oversized = READ(self, oversized);
    out->truncated_udp = READ(self, truncated_udp);
    out->tcp_clients = READ(self, tcp_clients);
    out->tcp_accepted = READ(self, tcp_accepted);
    out->tcp_refused = READ(self, tcp_refused);
    out->tcp_idle_closed = READ(self, tcp_idle_closed);
    out->tcp_partial_at_close = READ(self, tcp_partial_at_close);
    out->bad_octet_count = READ(self, bad_octet_count);
    out->udp_kernel_drops = READ(self, udp_kernel_drops);
}

int syslog_listener_port(syslog_listener_t *self, int i)
{
    if (!self || i < 0 || i >= self->n_ep) return -1;
    return self->ep[i].port;
}
