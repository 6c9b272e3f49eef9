/* test_snmp_poller: the SNMP poller (collector/snmp_poller.c) against a real snmpd inside a fresh
 * network namespace (lo, a veth pair, a bridge left down; host namespace as a fallback) and
 * against a misbehaving in-process fake agent; device spec parsing and counter deltas. */
#include "check.h"
#include "snmp_poller.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS      15000 /* longest wait for one snapshot */
#define LO_PKTS      20    /* UDP datagrams over lo */
#define LO_PAYLOAD   100
#define VETH_PKTS    5 /* UDP datagrams out of v0 into v1 */
#define VETH_PAYLOAD 200
#define L2L3L4       (14 + 20 + 8) /* Ethernet + IPv4 + UDP headers counted by the kernel */

static char tmpdir[64];
static char ns_name[64];
static int ns_created, in_ns;
static pid_t snmpd_pid = -1;
static int snmpd_port;

/* ---- helpers ------------------------------------------------------------------------------- */

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

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command quietly; its exit status, or -1. */
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 32, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd - 32) return -1;
    strcat(cmd, " >/dev/null 2>&1");
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A UDP port on 127.0.0.1 that nothing listens on right now. */
static int free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* ---- snapshots from the poller ------------------------------------------------------------- */

typedef struct inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    snmp_snapshot_t *q[128];
    int n;
    int dropped;
} inbox_t;

static inbox_t inbox = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};

static void inbox_deliver(void *ctx, snmp_snapshot_t *snap)
{
    inbox_t *in = ctx;
    pthread_mutex_lock(&in->mu);
    if (in->n < (int)(sizeof in->q / sizeof in->q[0])) {
        in->q[in->n++] = snap;
        snap = NULL;
    } else {
        in->dropped++;
    }
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    snmp_snapshot_free(&snap);
}

/* The oldest snapshot delivered, waiting up to timeout_ms; NULL on timeout. */
static snmp_snapshot_t *inbox_wait(int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    snmp_snapshot_t *s = NULL;
    pthread_mutex_lock(&inbox.mu);
    while (inbox.n == 0)
        if (pthread_cond_timedwait(&inbox.cv, &inbox.mu, &dl) == ETIMEDOUT) break;
    if (inbox.n > 0) {
        s = inbox.q[0];
        memmove(&inbox.q[0], &inbox.q[1], (size_t)(inbox.n - 1) * sizeof inbox.q[0]);
        inbox.n--;
    }
    pthread_mutex_unlock(&inbox.mu);
    return s;
}

/* Waits for n snapshots (one round of n devices) and files them by device_index. */
static int inbox_round(snmp_snapshot_t **by_index, int n)
{
    for (int i = 0; i < n; i++)
        by_index[i] = NULL;
    for (int got = 0; got < n; got++) {
        snmp_snapshot_t *s = inbox_wait(WAIT_MS);
        if (!s) return -1;
        if (s->device_index < 0 || s->device_index >= n || by_index[s->device_index]) {
            snmp_snapshot_free(&s);
            return -1;
        }
        by_index[s->device_index] = s;
    }
    return 0;
}

static const snmp_if_t *find_if(const snmp_snapshot_t *s, const char *name)
{
    for (int i = 0; s && i < s->n_ifs; i++)
        if (strcmp(s->ifs[i].name, name) == 0) return &s->ifs[i];
    return NULL;
}

static snmp_poller_t *start_poller(const char **specs, int n, int timeout_ms, int retries,
                                   int max_ifs, char *err, size_t errlen)
{
    snmp_poller_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < n; i++)
        cfg.devices[i] = specs[i];
    cfg.n_devices = n;
    cfg.interval_s = 3600; /* rounds only at start and through snmp_poller_poll_now() */
    cfg.timeout_ms = timeout_ms;
    cfg.retries = retries;
    cfg.max_ifs = max_ifs;
    cfg.deliver = inbox_deliver;
    cfg.ctx = &inbox;
    return snmp_poller_new(&cfg, err, errlen);
}

/* ---- device specs and deltas (no network) -------------------------------------------------- */

static void test_parse(void)
{
    snmp_device_t d;
    char err[256];

    CHECK_EQ(snmp_device_parse("public@127.0.0.1", &d, err, sizeof err), 0);
    CHECK_EQ(d.version, SNMP_DEVICE_V2C);
    CHECK_STREQ(d.community, "public");
    CHECK_STREQ(d.host, "127.0.0.1");
    CHECK_EQ(d.port, 161);
    CHECK_STREQ(d.name, "127.0.0.1:161");

    CHECK_EQ(snmp_device_parse("v2c:pub@lic@router-1.example:1161", &d, err, sizeof err), 0);
    CHECK_STREQ(d.community, "pub@lic");
    CHECK_STREQ(d.host, "router-1.example");
    CHECK_EQ(d.port, 1161);

    CHECK_EQ(snmp_device_parse("v2c:v3:abc@h", &d, err, sizeof err), 0);
    CHECK_EQ(d.version, SNMP_DEVICE_V2C);
    CHECK_STREQ(d.community, "v3:abc");

    CHECK_EQ(snmp_device_parse("c@[::1]:1161", &d, err, sizeof err), 0);
    CHECK_STREQ(d.host, "::1");
    CHECK_EQ(d.port, 1161);
    CHECK_STREQ(d.name, "[::1]:1161");

    CHECK_EQ(snmp_device_parse("v3:ops:sha:authpass1:aes:privpass1@router1", &d, err, sizeof err),
             0);
    CHECK_EQ(d.version, SNMP_DEVICE_V3);
    CHECK_STREQ(d.user, "ops");
    CHECK_EQ(d.auth_proto, SNMP_AUTH_SHA);
    CHECK_STREQ(d.auth_pass, "authpass1");
    CHECK_EQ(d.priv_proto, SNMP_PRIV_AES);
    CHECK_STREQ(d.priv_pass, "privpass1");
    CHECK_STREQ(d.name, "ops@router1:161");

    CHECK_EQ(snmp_device_parse("v3:ops:-:-:-:-@127.0.0.1:11161", &d, err, sizeof err), 0);
    CHECK_EQ(d.auth_proto, SNMP_AUTH_NONE);
    CHECK_EQ(d.priv_proto, SNMP_PRIV_NONE);
    CHECK_EQ(snmp_device_parse("v3:ops:sha512:authpass1:-:-@h", &d, err, sizeof err), 0);
    CHECK_EQ(d.auth_proto, SNMP_AUTH_SHA512);
    CHECK_EQ(d.priv_proto, SNMP_PRIV_NONE);
    CHECK_EQ(snmp_device_parse("v3:ops:md5:authpass1:des:privpass1@h", &d, err, sizeof err), 0);
    CHECK_EQ(d.auth_proto, SNMP_AUTH_MD5);
    CHECK_EQ(d.priv_proto, SNMP_PRIV_DES);

    /* bad specs: one clear line each, never the secret */
    static const struct {
        const char *spec, *expect;
    } bad[] = {
        {"", "empty device spec"},
        {"secretcomm", "missing '@HOST'"},
        {"@host", "empty COMMUNITY"},
        {"v2c:@host", "empty COMMUNITY"},
        {"secretcomm@", "empty HOST"},
        {"secretcomm@host:0", "PORT must be 1..65535"},
        {"secretcomm@host:65536", "PORT must be 1..65535"},
        {"secretcomm@host:16x", "PORT must be 1..65535"},
        {"secretcomm@host:", "PORT must be 1..65535"},
        {"secretcomm@::1", "needs brackets"},
        {"secretcomm@[::1", "closing ']'"},
        {"secretcomm@[::1]x", "expected ':PORT'"},
        {"secretcomm@[host]:1", "not an IPv6 address"},
        {"secretcomm@ho st", "bad character ' '"},
        {"secret\ncomm@host", "control character"},
        {"v1:secretcomm@host", "SNMPv1 is not supported"},
        {"v3:u:sha:secret1:aes@h", "5 fields"},
        {"v3:u:sha:secret1:aes:secret22:x@h", "5 fields"},
        {"v3::sha:secret123:aes:secret223@h", "USER must have"},
        {"v3:u:sha1:secret123:aes:secret223@h", "unknown AUTHPROTO"},
        {"v3:u:sha:secret123:aes256:secret223@h", "unknown PRIVPROTO"},
        {"v3:u:sha:secret1:aes:secret223@h", "AUTHPASS must have at least 8"},
        {"v3:u:sha:secret123:aes:secret2@h", "PRIVPASS must have at least 8"},
        {"v3:u:-:-:aes:secret223@h", "noAuthNoPriv"},
        {"v3:u:-:secret123:-:-@h", "noAuthNoPriv"},
        {"v3:u:sha:secret123:-:secret223@h", "takes \"-\" for PRIVPASS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = snmp_device_parse(bad[i].spec, &d, err, sizeof err);
        CHECK_EQ(rc, -1);
        if (!strstr(err, bad[i].expect) || strstr(err, "secret") || strchr(err, '\n')) {
            check_failed++;
            fprintf(stderr, "parse \"%s\": unexpected error \"%s\" (want \"%s\")\n", bad[i].spec,
                    err, bad[i].expect);
        } else {
            check_passed++;
        }
        CHECK_EQ(d.community[0] | d.auth_pass[0] | d.priv_pass[0], 0); /* wiped on failure */
    }

    char longspec[400];
    memset(longspec, 'c', 200);
    strcpy(longspec + 200, "@host");
    CHECK_EQ(snmp_device_parse(longspec, &d, err, sizeof err), -1);
    CHECK(strstr(err, "COMMUNITY longer than 127") != NULL);
    memset(longspec, 'h', sizeof longspec - 1);
    longspec[0] = 'c';
    longspec[1] = '@';
    longspec[sizeof longspec - 1] = '\0';
    CHECK_EQ(snmp_device_parse(longspec, &d, err, sizeof err), -1);
    CHECK(strstr(err, "HOST longer than 127") != NULL);

    /* the poller refuses bad and duplicate specs before starting anything */
    const char *specs[3] = {"public@127.0.0.1:1161", "v3:u:sha:secret1:aes:secret223@h",
                            "other@127.0.0.1:1161"};
    CHECK(start_poller(specs, 2, 0, 0, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "(device 2)") != NULL && !strstr(err, "secret"));
    specs[1] = specs[2];
    CHECK(start_poller(specs, 2, 0, 0, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "device 2 repeats device 1 (127.0.0.1:1161)") != NULL);
    CHECK(start_poller(specs, 0, 0, 0, 0, err, sizeof err) == NULL);
}

static void test_delta(void)
{
    snmp_if_t a, b, d;
    memset(&a, 0, sizeof a);
    a.index = 3;
    a.in_octets = 4294967000u; /* 32-bit counters about to wrap */
    a.out_octets = 10;
    a.in_errors = 4294967295u;
    b = a;
    b.in_octets = 100;
    b.out_octets = 15;
    b.in_errors = 1;
    CHECK_EQ(snmp_if_delta(&a, 500, &b, 600, &d), 0);
    CHECK_EQ(d.in_octets, 396);
    CHECK_EQ(d.out_octets, 5);
    CHECK_EQ(d.in_errors, 2);
    CHECK_EQ(d.index, 3);

    a.has_hc = b.has_hc = 1; /* a 64-bit counter going back is a discontinuity */
    CHECK_EQ(snmp_if_delta(&a, 500, &b, 600, &d), -1);
    CHECK_EQ(d.in_octets, 0);
    CHECK_EQ(d.out_octets, 0);
    a.in_octets = 1ull << 40;
    b.in_octets = (1ull << 40) + 1500;
    CHECK_EQ(snmp_if_delta(&a, 500, &b, 600, &d), 0);
    CHECK_EQ(d.in_octets, 1500);
    CHECK_EQ(snmp_if_delta(&a, 500, &b, 400, &d), -1); /* agent restarted */
    b.index = 4;
    CHECK_EQ(snmp_if_delta(&a, 500, &b, 600, &d), -1);
}

/* ---- the namespace and snmpd --------------------------------------------------------------- */

/* Deletes the namespaces of earlier runs that were killed before their cleanup. */
static void ns_remove_stale(void)
{
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid;
        char tail;
        if (sscanf(e->d_name, "zflow-snmp-%d%c", &pid, &tail) == 1 && pid > 0 &&
            kill(pid, 0) != 0 && errno == ESRCH)
            run("ip netns del %s", e->d_name);
    }
    if (d) closedir(d);
}

/* A fresh network namespace with lo up, a veth pair v0 (10.99.0.1/24) - v1 (no address) whose
 * MAC is a permanent neighbour (no ARP), IPv6 off on both, and a bridge br0 left down. The
 * calling (main) thread joins it: everything started afterwards, poller thread included,
 * lives there. */
static int ns_setup(void)
{
    static const char *const cmds[] = {
        "link set lo up",
        "link add v0 type veth peer name v1",
        "link set v0 address 02:00:00:00:00:01 addrgenmode none",
        "link set v1 address 02:00:00:00:00:02 addrgenmode none",
        "link add br0 type bridge",
        "link set v0 up",
        "link set v1 up",
        "addr add 10.99.0.1/24 dev v0",
        "neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent",
    };
    char path[128];

    ns_remove_stale();
    snprintf(ns_name, sizeof ns_name, "zflow-snmp-%d", (int)getpid());
    if (run("ip netns add %s", ns_name) != 0) return -1;
    ns_created = 1;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (run("ip -n %s %s", ns_name, cmds[i]) != 0) {
            fprintf(stderr, "namespace setup failed at: ip -n %s %s\n", ns_name, cmds[i]);
            return -1;
        }
    }
    snprintf(path, sizeof path, "/run/netns/%s", ns_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    in_ns = 1;
    /* the sysctl files follow the netns of the task that opens them */
    static const char *const v6off[] = {"/proc/sys/net/ipv6/conf/v0/disable_ipv6",
                                        "/proc/sys/net/ipv6/conf/v1/disable_ipv6"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(v6off[i], "w");
        if (f) {
            fputs("1\n", f);
            fclose(f);
        }
    }
    return 0;
}

static void write_snmpd_conf(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/snmpd.conf", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f,
            "agentaddress udp:127.0.0.1:%d\n"
            "rocommunity public 127.0.0.1\n"
            "rwcommunity zflowrw 127.0.0.1\n"
            "sysName zflow-test-agent\n"
            "sysDescr zflow test agent\n"
            "createUser zuser SHA \"authpass123\" AES \"privpass123\"\n"
            "createUser zmd5 MD5 \"authpass123\" DES \"privpass123\"\n"
            "createUser z256 SHA-256 \"authpass123\" AES \"privpass123\"\n"
            "createUser zwauth SHA \"authpass123\" AES \"privpass123\"\n"
            "createUser zwpriv SHA \"authpass123\" AES \"privpass123\"\n"
            "createUser nouser\n"
            "rouser zuser priv\n"
            "rouser zmd5 priv\n"
            "rouser z256 priv\n"
            "rouser zwauth priv\n"
            "rouser zwpriv priv\n"
            "rouser nouser noauth\n"
            "[snmp] persistentDir %s/persist\n",
            snmpd_port, tmpdir);
    fclose(f);
}

/* net-snmp command-line tools for the test: no host config, state in the temp dir. */
#define SNMP_TOOL_ENV "env SNMPCONFPATH=%s SNMP_PERSISTENT_DIR=%s/tools MIBS= "

static int snmpd_ready(void)
{
    return run(SNMP_TOOL_ENV
               "snmpget -v2c -c public -t 0.3 -r 0 -On 127.0.0.1:%d 1.3.6.1.2.1.1.3.0",
               tmpdir, tmpdir, snmpd_port) == 0;
}

static int snmpd_start(void)
{
    char conf[128], log[128];
    snprintf(conf, sizeof conf, "%s/snmpd.conf", tmpdir);
    snprintf(log, sizeof log, "%s/snmpd.log", tmpdir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* no stray snmpd if the test is killed */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (in_ns) /* ip execs snmpd in place: the pid stays snmpd's; /sys shows the netns */
            execlp("ip", "ip", "netns", "exec", ns_name, "snmpd", "-f", "-Lo", "-C", "-c", conf,
                   (char *)NULL);
        else
            execlp("snmpd", "snmpd", "-f", "-Lo", "-C", "-c", conf, (char *)NULL);
        _exit(127);
    }
    snmpd_pid = pid;
    int64_t deadline = now_ms() + 20000;
    while (now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            snmpd_pid = -1;
            fprintf(stderr, "snmpd exited early; see %s\n", log);
            return -1;
        }
        if (snmpd_ready()) return 0;
        sleep_ms(100);
    }
    fprintf(stderr, "snmpd did not answer within 20 s; see %s\n", log);
    return -1;
}

static void snmpd_stop(void)
{
    if (snmpd_pid <= 0) return;
    kill(snmpd_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(snmpd_pid, NULL, WNOHANG) == snmpd_pid) {
            snmpd_pid = -1;
            return;
        }
        sleep_ms(50);
    }
    kill(snmpd_pid, SIGKILL);
    waitpid(snmpd_pid, NULL, 0);
    snmpd_pid = -1;
}

static void cleanup(void)
{
    snmpd_stop();
    if (ns_created) {
        run("ip netns del %s", ns_name);
        ns_created = 0;
    }
    if (tmpdir[0]) {
        run("rm -rf %s", tmpdir);
        tmpdir[0] = '\0';
    }
}

/* n datagrams of `payload` bytes from this namespace to dst:port (a local receiver for lo). */
static int send_udp(const char *dst, int n, size_t payload)
{
    int rx = -1, tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    socklen_t al = sizeof a;
    char buf[512];
    int sent = 0;

    inet_pton(AF_INET, dst, &a.sin_addr);
    if (strcmp(dst, "127.0.0.1") == 0) { /* a receiver, so lo carries no ICMP errors */
        rx = socket(AF_INET, SOCK_DGRAM, 0);
        a.sin_port = 0;
        if (rx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(rx, (struct sockaddr *)&a, &al) != 0)
            goto done;
    }
    memset(buf, 'z', sizeof buf);
    for (int i = 0; tx >= 0 && i < n && payload <= sizeof buf; i++)
        if (sendto(tx, buf, payload, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)payload)
            sent++;
done:
    if (tx >= 0) close(tx);
    if (rx >= 0) close(rx);
    return sent;
}

/* ---- against the real snmpd ---------------------------------------------------------------- */

/* Counter increases of interface `name` from snapshot a to b; -1 when either lacks it. */
static int delta_of(const snmp_snapshot_t *a, const snmp_snapshot_t *b, const char *name,
                    snmp_if_t *d)
{
    const snmp_if_t *x = find_if(a, name), *y = find_if(b, name);
    memset(d, 0, sizeof *d);
    if (!x || !y) return -1;
    return snmp_if_delta(x, a->sys_uptime_cs, y, b->sys_uptime_cs, d);
}

static void check_interfaces(const snmp_snapshot_t *s)
{
    const snmp_if_t *lo = find_if(s, "lo");
    CHECK(lo != NULL);
    if (!lo) return;
    CHECK_EQ(lo->index, if_nametoindex("lo"));
    CHECK_EQ(lo->type, 24); /* softwareLoopback */
    CHECK_STREQ(lo->descr, "lo");
    CHECK_EQ(lo->admin_status, 1);
    CHECK_EQ(lo->oper_status, 1);
    CHECK_EQ(lo->speed_bps, 10000000);
    CHECK_EQ(lo->has_hc, 1);
    for (int i = 1; i < s->n_ifs; i++)
        CHECK(s->ifs[i - 1].index < s->ifs[i].index);
    if (!in_ns) {
        CHECK(s->n_ifs >= 1);
        return;
    }
    /* inside the namespace the interface set is known exactly */
    CHECK_EQ(s->n_ifs, 4);
    const snmp_if_t *v0 = find_if(s, "v0"), *v1 = find_if(s, "v1"), *br0 = find_if(s, "br0");
    CHECK(v0 && v1 && br0);
    if (!v0 || !v1 || !br0) return;
    CHECK_EQ(v0->index, if_nametoindex("v0"));
    CHECK_EQ(v1->index, if_nametoindex("v1"));
    CHECK_EQ(br0->index, if_nametoindex("br0"));
    CHECK_EQ(v0->type, 6); /* ethernetCsmacd */
    CHECK_EQ(br0->type, 6);
    CHECK_EQ(v0->admin_status, 1);
    CHECK_EQ(v0->oper_status, 1);
    CHECK_EQ(v1->oper_status, 1);
    CHECK_EQ(br0->admin_status, 2);
    CHECK_EQ(br0->oper_status, 2);
    CHECK_EQ(v0->speed_bps, 10000000000ull); /* veth: ifSpeed saturated, ifHighSpeed 10000 */
    CHECK_STREQ(v0->alias, "uplink test");   /* set through snmpset before the poll */
    CHECK_STREQ(v1->alias, "");
}

/* Returns the number of interfaces of the first poll (-1 if none). */
static int test_real_agent(void)
{
    char spec[128], err[256];
    const char *specs[8];
    snmp_snapshot_t *s1 = NULL, *s2 = NULL, *s = NULL;
    int n_ifs = -1;

    if (in_ns && run(SNMP_TOOL_ENV "snmpset -v2c -c zflowrw -t 1 -r 2 127.0.0.1:%d "
                                   "1.3.6.1.2.1.31.1.1.1.18.%u s 'uplink test'",
                     tmpdir, tmpdir, snmpd_port, if_nametoindex("v0")) != 0)
        fprintf(stderr, "snmpset of ifAlias failed\n");

    /* v2c: the first round runs at start */
    snprintf(spec, sizeof spec, "public@127.0.0.1:%d", snmpd_port);
    specs[0] = spec;
    snmp_poller_t *p = start_poller(specs, 1, 500, 1, 0, err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "snmp_poller_new: %s\n", err);
        return -1;
    }
    CHECK(start_poller(specs, 1, 500, 1, 0, err, sizeof err) == NULL); /* one per process */
    CHECK(strstr(err, "another SNMP poller") != NULL);

    s1 = inbox_wait(WAIT_MS);
    CHECK(s1 != NULL);
    if (!s1) goto out;
    char want_name[64];
    snprintf(want_name, sizeof want_name, "127.0.0.1:%d", snmpd_port);
    CHECK_STREQ(s1->device, want_name);
    CHECK_STREQ(s1->host, "127.0.0.1");
    CHECK_EQ(s1->reachable, 1);
    CHECK_EQ(s1->truncated, 0);
    CHECK_STREQ(s1->error, "");
    CHECK_STREQ(s1->sys_name, "zflow-test-agent");
    CHECK_STREQ(s1->sys_descr, "zflow test agent");
    CHECK(s1->sys_uptime_cs > 0);
    CHECK(s1->polled_at_ms > 1600000000000LL);
    check_interfaces(s1);
    n_ifs = s1->n_ifs;
    printf("first poll: %d interfaces, sysUpTime %.2f s\n", s1->n_ifs, s1->sys_uptime_cs / 100.0);

    /* traffic: counters go up by at least what was sent (exactly, on the veth pair) */
    CHECK_EQ(send_udp("127.0.0.1", LO_PKTS, LO_PAYLOAD), LO_PKTS);
    if (in_ns) CHECK_EQ(send_udp("10.99.0.2", VETH_PKTS, VETH_PAYLOAD), VETH_PKTS);
    const uint64_t lo_bytes = LO_PKTS * (LO_PAYLOAD + L2L3L4);
    const uint64_t veth_bytes = VETH_PKTS * (VETH_PAYLOAD + L2L3L4);
    int settled = 0, polls = 1;
    snmp_if_t dlo, dv0, dv1, dbr;
    int64_t deadline = now_ms() + 30000; /* snmpd caches interface counters for a few seconds */
    while (!settled && now_ms() < deadline) {
        snmp_snapshot_free(&s2);
        snmp_poller_poll_now(p);
        s2 = inbox_wait(WAIT_MS);
        polls++;
        if (!s2 || !s2->reachable) break;
        if (delta_of(s1, s2, "lo", &dlo) < 0) break;
        settled = dlo.in_octets >= lo_bytes && dlo.in_ucast_pkts >= LO_PKTS;
        if (in_ns) {
            if (delta_of(s1, s2, "v0", &dv0) < 0 || delta_of(s1, s2, "v1", &dv1) < 0 ||
                delta_of(s1, s2, "br0", &dbr) < 0)
                break;
            settled = settled && dv1.in_octets >= veth_bytes;
        }
        if (!settled) sleep_ms(300);
    }
    CHECK(settled);
    if (settled) {
        printf("after %d polls: lo +%" PRIu64 " octets +%" PRIu64 " packets in (sent %" PRIu64
               " octets, %d packets)\n",
               polls, dlo.in_octets, dlo.in_ucast_pkts, lo_bytes, LO_PKTS);
        CHECK_EQ(dlo.in_errors + dlo.in_discards + dlo.out_errors + dlo.out_discards, 0);
        if (in_ns) {
            printf("v0 +%" PRIu64 " octets +%" PRIu64 " packets out, v1 +%" PRIu64
                   " octets +%" PRIu64 " packets in (sent %" PRIu64 " octets, %d packets)\n",
                   dv0.out_octets, dv0.out_ucast_pkts, dv1.in_octets, dv1.in_ucast_pkts, veth_bytes,
                   VETH_PKTS);
            CHECK_EQ(dv0.out_octets, veth_bytes);
            CHECK_EQ(dv0.out_ucast_pkts, VETH_PKTS);
            CHECK_EQ(dv1.in_octets, veth_bytes);
            CHECK_EQ(dv1.in_ucast_pkts, VETH_PKTS);
            CHECK_EQ(dv0.in_octets + dv0.in_ucast_pkts, 0);
            CHECK_EQ(dv1.out_octets + dv1.out_ucast_pkts, 0);
            CHECK_EQ(dbr.in_octets + dbr.out_octets, 0);
            CHECK_EQ(find_if(s2, "v0")->out_octets, veth_bytes); /* a fresh interface */
        }
    }

    /* the agent goes away: reported, and polling goes on */
    snmpd_stop();
    snmp_poller_poll_now(p);
    s = inbox_wait(WAIT_MS);
    CHECK(s && !s->reachable && s->n_ifs == 0 && strstr(s->error, "timeout"));
    if (s) printf("agent stopped: \"%s\"\n", s->error);
    snmp_snapshot_free(&s);
    CHECK_EQ(snmpd_start(), 0);
    snmp_poller_poll_now(p);
    s = inbox_wait(WAIT_MS);
    CHECK(s && s->reachable && s->n_ifs == s1->n_ifs && s->error[0] == '\0');
    snmp_snapshot_free(&s);

    snmp_poller_stats_t st;
    snmp_device_stats_t ds;
    snmp_poller_get_stats(p, &st);
    CHECK_EQ(snmp_poller_get_device_stats(p, 0, &ds), 0);
    CHECK_EQ(snmp_poller_get_device_stats(p, 1, &ds) == -1, 1);
    snmp_poller_get_device_stats(p, 0, &ds);
    CHECK_EQ(st.n_devices, 1);
    CHECK_EQ(st.rounds, polls + 2);
    CHECK_EQ(st.snapshots, polls + 2);
    CHECK_EQ(ds.polls, polls + 2);
    CHECK_EQ(ds.successes, polls + 1);
    CHECK_EQ(ds.failures, 1);
    CHECK_EQ(ds.timeouts, 1);
    CHECK_EQ(ds.auth_failures + ds.walk_errors + ds.ifs_capped + ds.bad_values, 0);
    CHECK_EQ(ds.reachable, 1);
    CHECK(strstr(ds.last_error, "timeout") != NULL);
    CHECK_STREQ(ds.device, want_name);

out:
    snmp_poller_destroy(&p);
    CHECK(p == NULL);
    snmp_poller_destroy(&p); /* NULL is fine */
    snmp_snapshot_free(&s1);
    snmp_snapshot_free(&s2);
    return n_ifs;
}

/* Wrong community, closed port and SNMPv3 (several protocols, unknown user) in one round. */
static void test_errors_and_v3(int n_ifs_expected)
{
    char specs_buf[7][160], err[256];
    const char *specs[7];
    int closed = free_udp_port();
    snprintf(specs_buf[0], 160, "wrong@127.0.0.1:%d", snmpd_port);
    snprintf(specs_buf[1], 160, "public@127.0.0.1:%d", closed);
    snprintf(specs_buf[2], 160, "v3:zuser:sha:authpass123:aes:privpass123@127.0.0.1:%d",
             snmpd_port);
    snprintf(specs_buf[3], 160, "v3:zmd5:md5:authpass123:des:privpass123@127.0.0.1:%d", snmpd_port);
    snprintf(specs_buf[4], 160, "v3:z256:sha256:authpass123:aes:privpass123@127.0.0.1:%d",
             snmpd_port);
    snprintf(specs_buf[5], 160, "v3:nouser:-:-:-:-@127.0.0.1:%d", snmpd_port);
    snprintf(specs_buf[6], 160, "v3:nosuch:sha:authpass123:aes:privpass123@127.0.0.1:%d",
             snmpd_port);
    for (int i = 0; i < 7; i++)
        specs[i] = specs_buf[i];

    int64_t t0 = now_ms();
    snmp_poller_t *p = start_poller(specs, 7, 300, -1, 0, err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "snmp_poller_new: %s\n", err);
        return;
    }
    snmp_snapshot_t *s[7];
    int ok = inbox_round(s, 7) == 0;
    int64_t elapsed = now_ms() - t0;
    CHECK(ok);
    if (ok) {
        printf("round of 7 devices (2 unreachable, 1 unknown v3 user) in %" PRId64 " ms\n",
               elapsed);
        CHECK(elapsed < 8000);        /* 2 x 300 ms timeouts; the rest answers at once */
        CHECK_EQ(s[0]->reachable, 0); /* v2c: a wrong community is a timeout */
        CHECK(strstr(s[0]->error, "timeout") != NULL);
        CHECK_EQ(s[0]->n_ifs, 0);
        CHECK_EQ(s[1]->reachable, 0);
        CHECK(strstr(s[1]->error, "timeout") != NULL);
        for (int i = 2; i <= 5; i++) {
            CHECK_EQ(s[i]->reachable, 1);
            if (in_ns)
                CHECK_EQ(s[i]->n_ifs, n_ifs_expected);
            else
                CHECK(s[i]->n_ifs >= 1);
            CHECK_STREQ(s[i]->sys_name, "zflow-test-agent");
            CHECK(find_if(s[i], "lo") != NULL);
            if (!s[i]->reachable) fprintf(stderr, "%s: %s\n", s[i]->device, s[i]->error);
        }
        CHECK_EQ(s[6]->reachable, 0);
        CHECK(strstr(s[6]->error, "check the v3 user") != NULL);
        char want[64];
        snprintf(want, sizeof want, "zuser@127.0.0.1:%d", snmpd_port);
        CHECK_STREQ(s[2]->device, want);
        for (int i = 0; i < 7; i++) {
            CHECK(strstr(s[i]->device, "pass") == NULL && strstr(s[i]->error, "pass123") == NULL);
            printf("  %-28s reachable=%d %s\n", s[i]->device, s[i]->reachable, s[i]->error);
        }
    }
    for (int i = 0; ok && i < 7; i++)
        snmp_snapshot_free(&s[i]);

    snmp_device_stats_t ds;
    snmp_poller_get_device_stats(p, 0, &ds);
    CHECK(ds.failures == 1 && ds.timeouts == 1 && ds.auth_failures == 0 && ds.reachable == 0);
    snmp_poller_get_device_stats(p, 6, &ds);
    CHECK(ds.failures == 1 && ds.timeouts == 0 && ds.auth_failures == 1);
    snmp_poller_get_device_stats(p, 2, &ds);
    CHECK(ds.successes == 1 && ds.failures == 0);
    snmp_poller_destroy(&p);

    /* wrong v3 passwords: one poller each. net-snmp keeps the keys of a v3 user it has used
     * for the life of the process, so each case uses a user this process never used. */
    static const char *const wrong[2][3] = {{"zwauth", "wrongpass99", "privpass123"},
                                            {"zwpriv", "authpass123", "wrongpass99"}};
    for (int w = 0; w < 2; w++) {
        char spec[160];
        const char *one[1] = {spec};
        snprintf(spec, sizeof spec, "v3:%s:sha:%s:aes:%s@127.0.0.1:%d", wrong[w][0], wrong[w][1],
                 wrong[w][2], snmpd_port);
        p = start_poller(one, 1, 300, -1, 0, err, sizeof err);
        CHECK(p != NULL);
        snmp_snapshot_t *x = p ? inbox_wait(WAIT_MS) : NULL;
        CHECK(x && !x->reachable);
        if (x) {
            printf("  wrong %s password: \"%s\"\n", w ? "privacy" : "authentication", x->error);
            CHECK(strstr(x->error, "wrongpass") == NULL);
        }
        snmp_poller_get_device_stats(p, 0, &ds);
        CHECK_EQ(ds.failures, 1);
        if (w == 0) CHECK_EQ(ds.auth_failures, 1);
        snmp_snapshot_free(&x);
        snmp_poller_destroy(&p);
    }
}

/* ---- a misbehaving agent ------------------------------------------------------------------- */

/* Scenarios, one UDP socket each. */
enum fake_kind {
    FAKE_LOOP,
    FAKE_MANY,
    FAKE_TYPES,
    FAKE_JUNK,
    FAKE_EMPTY,
    FAKE_ERROR,
    FAKE_STALL,
    FAKE_COUNT
};
static const char *const fake_names[FAKE_COUNT] = {"loop",  "many",  "types", "junk",
                                                   "empty", "error", "stall"};

typedef struct fake_agent {
    int fd[FAKE_COUNT];
    int port[FAKE_COUNT];
    atomic_int stop;
    atomic_int requests[FAKE_COUNT];
    pthread_t thread;
} fake_agent_t;

typedef struct bytes {
    uint8_t d[16384];
    size_t n;
    int overflow;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (n == 0) return;
    if (b->n + n > sizeof b->d) {
        b->overflow = 1;
        return;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_tlv(bytes_t *b, uint8_t tag, const void *v, size_t n)
{
    uint8_t h[4] = {tag};
    size_t hl;
    if (n < 128) {
        h[1] = (uint8_t)n;
        hl = 2;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    }
    put(b, h, hl);
    put(b, v, n);
}

static void put_uint(bytes_t *b, uint8_t tag, uint64_t v)
{
    uint8_t t[9];
    int n = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t byte = (uint8_t)(v >> (i * 8));
        if (n == 0 && byte == 0 && i > 0) continue;
        if (n == 0 && (byte & 0x80)) t[n++] = 0;
        t[n++] = byte;
    }
    put_tlv(b, tag, t, (size_t)n);
}

static void put_oid(bytes_t *b, const uint32_t *o, size_t n)
{
    uint8_t t[256];
    size_t k = 0;
    t[k++] = (uint8_t)(o[0] * 40 + o[1]);
    for (size_t i = 2; i < n && k < sizeof t - 5; i++) {
        uint32_t v = o[i];
        uint8_t tmp[5];
        int m = 0;
        do {
            tmp[m++] = v & 0x7f;
            v >>= 7;
        } while (v);
        while (m > 0) {
            m--;
            t[k++] = (uint8_t)(tmp[m] | (m ? 0x80 : 0));
        }
    }
    put_tlv(b, 0x06, t, k);
}

typedef struct cur {
    const uint8_t *p, *end;
} cur_t;

static int get_tlv(cur_t *c, uint8_t *tag, cur_t *val)
{
    if (c->end - c->p < 2) return -1;
    *tag = c->p[0];
    size_t len = c->p[1], hl = 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        if (nb < 1 || nb > 2 || (size_t)(c->end - c->p) < 2 + nb) return -1;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | c->p[2 + i];
        hl = 2 + nb;
    }
    if ((size_t)(c->end - c->p) < hl + len) return -1;
    val->p = c->p + hl;
    val->end = val->p + len;
    c->p = val->end;
    return 0;
}

static int get_int(cur_t *c, long *v)
{
    uint8_t tag;
    cur_t val;
    if (get_tlv(c, &tag, &val) < 0 || tag != 0x02 || val.p == val.end || val.end - val.p > 4)
        return -1;
    long x = (val.p[0] & 0x80) ? -1 : 0;
    for (const uint8_t *q = val.p; q < val.end; q++)
        x = (long)(((unsigned long)x << 8) | *q);
    *v = x;
    return 0;
}

static int get_oid(cur_t val, uint32_t *o, size_t *n)
{
    if (val.p == val.end) return -1;
    o[0] = val.p[0] / 40;
    o[1] = val.p[0] % 40;
    size_t k = 2;
    uint32_t v = 0;
    for (const uint8_t *q = val.p + 1; q < val.end && k < 128; q++) {
        v = (v << 7) | (*q & 0x7f);
        if (!(*q & 0x80)) {
            o[k++] = v;
            v = 0;
        }
    }
    *n = k;
    return 0;
}

static int oid_cmp(const uint32_t *a, size_t an, const uint32_t *b, size_t bn)
{
    for (size_t i = 0; i < an && i < bn; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* One entry of a fake MIB. */
typedef struct fentry {
    uint32_t oid[16];
    size_t n;
    uint8_t type;
    uint64_t u;
    const char *s;
    size_t slen;
} fentry_t;

static const uint32_t if_entry[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};
static const uint32_t ifx_entry[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1};

static fentry_t mk(int x, uint32_t col, uint32_t idx, uint32_t extra, uint8_t type, uint64_t u,
                   const char *s, size_t slen)
{
    fentry_t e;
    memset(&e, 0, sizeof e);
    const uint32_t *base = x ? ifx_entry : if_entry;
    size_t bn = x ? 10 : 9;
    memcpy(e.oid, base, bn * sizeof(uint32_t));
    e.n = bn;
    e.oid[e.n++] = col;
    e.oid[e.n++] = idx;
    if (extra) e.oid[e.n++] = extra;
    e.type = type;
    e.u = u;
    e.s = s;
    e.slen = slen;
    return e;
}

static char utf8_long[601]; /* 300 x "é" */
static fentry_t types_mib[32];
static size_t types_n;

/* ifTable/ifXTable with values of the wrong type, bad indexes, control characters, long UTF-8,
 * and an ifXTable row that ifTable lacks. Sorted by OID. */
static void build_types_mib(void)
{
    for (int i = 0; i < 300; i++)
        memcpy(utf8_long + 2 * i, "\xc3\xa9", 2);
    size_t n = 0;
    types_mib[n++] = mk(0, 1, 1, 0, 0x02, 1, NULL, 0);
    types_mib[n++] = mk(0, 1, 2, 0, 0x02, 2, NULL, 0);
    types_mib[n++] = mk(0, 1, 2, 5, 0x02, 7, NULL, 0); /* two sub-identifiers: bad index */
    types_mib[n++] = mk(0, 2, 1, 0, 0x04, 0, "eth\001ctl\177", 8);
    types_mib[n++] = mk(0, 2, 2, 0, 0x04, 0, utf8_long, 600);
    types_mib[n++] = mk(0, 3, 1, 0, 0x02, 6, NULL, 0);
    types_mib[n++] = mk(0, 3, 2, 0, 0x04, 0, "x", 1);    /* ifType as a string */
    types_mib[n++] = mk(0, 5, 1, 0, 0x04, 0, "fast", 4); /* ifSpeed as a string */
    types_mib[n++] = mk(0, 5, 2, 0, 0x42, 100000000, NULL, 0);
    types_mib[n++] = mk(0, 7, 1, 0, 0x02, 1, NULL, 0);
    types_mib[n++] = mk(0, 7, 2, 0, 0x02, 99, NULL, 0); /* out of range */
    types_mib[n++] = mk(0, 8, 1, 0, 0x02, 1, NULL, 0);
    types_mib[n++] = mk(0, 8, 2, 0, 0x02, 2, NULL, 0);
    types_mib[n++] = mk(0, 10, 1, 0, 0x41, 4000000000u, NULL, 0);
    types_mib[n++] = mk(0, 10, 2, 0, 0x02, 5, NULL, 0); /* Counter32 as INTEGER */
    types_mib[n++] = mk(0, 11, 1, 0, 0x41, 10, NULL, 0);
    types_mib[n++] = mk(0, 14, 1, 0, 0x46, 5, NULL, 0); /* Counter32 as Counter64 */
    types_mib[n++] = mk(0, 16, 1, 0, 0x41, 1, NULL, 0);
    types_mib[n++] = mk(1, 1, 1, 0, 0x04, 0, "port1", 5);
    types_mib[n++] = mk(1, 1, 2, 0, 0x04, 0, "", 0);      /* empty ifName: ifDescr stands in */
    types_mib[n++] = mk(1, 1, 9, 0, 0x04, 0, "ghost", 5); /* not in ifTable */
    types_mib[n++] = mk(1, 6, 1, 0, 0x46, (1ull << 40) + 7, NULL, 0);
    types_mib[n++] = mk(1, 6, 2, 0, 0x41, 9, NULL, 0); /* Counter64 as Counter32 */
    types_mib[n++] = mk(1, 15, 1, 0, 0x42, 1000, NULL, 0);
    types_mib[n++] = mk(1, 18, 1, 0, 0x04, 0, "alias\0\0", 7); /* trailing NULs */
    types_n = n;
}

/* The columns the "many" agent serves, each with rows 1..1000000. */
static const struct {
    int x;
    uint32_t col;
    uint8_t type;
} many_cols[] = {{0, 1, 0x02}, {0, 2, 0x04},  {0, 3, 0x02},  {0, 5, 0x42},  {0, 7, 0x02},
                 {0, 8, 0x02}, {0, 10, 0x41}, {0, 11, 0x41}, {0, 16, 0x41}, {1, 1, 0x04},
                 {1, 6, 0x46}, {1, 10, 0x46}, {1, 15, 0x42}, {1, 18, 0x04}};

/* The first entry after `o` in the scenario's MIB; 0 and e filled, or -1 at the end. */
static int fake_next(int kind, const uint32_t *o, size_t n, fentry_t *e)
{
    static char descr[32];
    if (kind == FAKE_TYPES) {
        for (size_t i = 0; i < types_n; i++) {
            if (oid_cmp(types_mib[i].oid, types_mib[i].n, o, n) > 0) {
                *e = types_mib[i];
                return 0;
            }
        }
        return -1;
    }
    if (kind == FAKE_JUNK) { /* ifIndex column, two sub-identifiers per entry, endless */
        fentry_t q = mk(0, 1, 1, 1, 0x02, 1, NULL, 0);
        if (oid_cmp(o, n, q.oid, q.n) < 0) {
            *e = q;
            return 0;
        }
        if (n == 12 && oid_cmp(o, 11, q.oid, 11) == 0) {
            *e = mk(0, 1, 1, o[11] + 1, 0x02, 1, NULL, 0);
            return 0;
        }
        return -1;
    }
    /* FAKE_MANY */
    for (size_t i = 0; i < sizeof many_cols / sizeof many_cols[0]; i++) {
        fentry_t q = mk(many_cols[i].x, many_cols[i].col, 1, 0, many_cols[i].type, 1, NULL, 0);
        size_t plen = q.n - 1; /* the column prefix */
        uint32_t idx;
        if (oid_cmp(o, n, q.oid, plen) < 0)
            idx = 1;
        else if (n >= plen && oid_cmp(o, plen, q.oid, plen) == 0)
            idx = n > plen ? o[plen] + 1 : 1;
        else
            continue;
        if (idx > 1000000) continue;
        snprintf(descr, sizeof descr, "if%u", idx);
        *e = mk(many_cols[i].x, many_cols[i].col, idx, 0, many_cols[i].type,
                many_cols[i].type == 0x02 && many_cols[i].col != 1 ? 1 : idx, descr, strlen(descr));
        return 0;
    }
    return -1;
}

static void put_varbind(bytes_t *vbs, const uint32_t *o, size_t n, const fentry_t *e, int end)
{
    bytes_t vb = {.n = 0};
    put_oid(&vb, o, n);
    if (end)
        put_tlv(&vb, 0x82, NULL, 0); /* endOfMibView */
    else if (e->type == 0x04)
        put_tlv(&vb, 0x04, e->s, e->slen);
    else
        put_uint(&vb, e->type, e->u);
    put_tlv(vbs, 0x30, vb.d, vb.n);
}

/* Answers one request datagram of scenario `kind`; 0 when a response was built. */
static int fake_answer(int kind, const uint8_t *req, size_t len, bytes_t *out)
{
    cur_t c = {req, req + len}, msg, pdu, vbl;
    uint8_t tag, pdu_tag;
    long version, reqid, nonrep, maxrep;
    cur_t community;
    static bytes_t vbs, body, inner;

    if (get_tlv(&c, &tag, &msg) < 0 || tag != 0x30 || get_int(&msg, &version) < 0 ||
        get_tlv(&msg, &tag, &community) < 0 || tag != 0x04 || get_tlv(&msg, &pdu_tag, &pdu) < 0 ||
        get_int(&pdu, &reqid) < 0 || get_int(&pdu, &nonrep) < 0 || get_int(&pdu, &maxrep) < 0 ||
        get_tlv(&pdu, &tag, &vbl) < 0 || tag != 0x30)
        return -1;
    vbs.n = body.n = inner.n = 0;
    vbs.overflow = 0;
    uint32_t oids[64][128];
    size_t oidn[64];
    int nv = 0;
    while (vbl.p < vbl.end && nv < 64) {
        cur_t vb, oidv;
        if (get_tlv(&vbl, &tag, &vb) < 0 || get_tlv(&vb, &tag, &oidv) < 0 || tag != 0x06 ||
            get_oid(oidv, oids[nv], &oidn[nv]) < 0)
            return -1;
        nv++;
    }
    long errstat = 0;
    if (pdu_tag == 0xa0) { /* GET: the system group */
        static const char descr[] = "fake\033[31m agent";
        for (int i = 0; i < nv; i++) {
            fentry_t e;
            memset(&e, 0, sizeof e);
            if (oidn[i] == 9 && oids[i][7] == 1) {
                e.type = 0x04, e.s = descr, e.slen = sizeof descr - 1;
            } else if (oidn[i] == 9 && oids[i][7] == 3) {
                e.type = kind == FAKE_TYPES ? 0x41 : 0x43; /* sysUpTime as Counter32: ignored */
                e.u = 12345;
            } else {
                e.type = 0x04, e.s = fake_names[kind], e.slen = strlen(fake_names[kind]);
            }
            put_varbind(&vbs, oids[i], oidn[i], &e, 0);
        }
    } else if (pdu_tag == 0xa5) { /* GETBULK */
        if (kind == FAKE_STALL) return -1;
        if (kind == FAKE_ERROR) errstat = 5; /* genErr */
        if (kind == FAKE_LOOP) {
            fentry_t e = {.type = 0x02, .u = 1};
            for (int i = 0; i < nv; i++) /* the same OID again: the agent loops */
                put_varbind(&vbs, oids[i], oidn[i], &e, 0);
        } else if (kind != FAKE_EMPTY && kind != FAKE_ERROR) {
            for (long r = 0; r < maxrep && r < 50; r++) {
                for (int i = 0; i < nv; i++) {
                    fentry_t e;
                    if (fake_next(kind, oids[i], oidn[i], &e) == 0) {
                        put_varbind(&vbs, e.oid, e.n, &e, 0);
                        memcpy(oids[i], e.oid, e.n * sizeof(uint32_t));
                        oidn[i] = e.n;
                    } else {
                        put_varbind(&vbs, oids[i], oidn[i], &e, 1);
                    }
                }
            }
        }
    } else {
        return -1;
    }
    put_uint(&body, 0x02, (uint64_t)reqid);
    put_uint(&body, 0x02, (uint64_t)errstat);
    put_uint(&body, 0x02, errstat ? 1 : 0);
    put_tlv(&body, 0x30, vbs.d, vbs.n);
    put_uint(&inner, 0x02, (uint64_t)version);
    put_tlv(&inner, 0x04, community.p, (size_t)(community.end - community.p));
    put_tlv(&inner, 0xa2, body.d, body.n);
    out->n = 0;
    put_tlv(out, 0x30, inner.d, inner.n);
    return vbs.overflow || body.overflow || inner.overflow || out->overflow ? -1 : 0;
}

static void *fake_main(void *arg)
{
    fake_agent_t *fa = arg;
    struct pollfd pfd[FAKE_COUNT];
    static uint8_t req[65536];
    static bytes_t resp;

    for (int k = 0; k < FAKE_COUNT; k++)
        pfd[k] = (struct pollfd){.fd = fa->fd[k], .events = POLLIN};
    while (!atomic_load(&fa->stop)) {
        if (poll(pfd, FAKE_COUNT, 50) <= 0) continue;
        for (int k = 0; k < FAKE_COUNT; k++) {
            if (!(pfd[k].revents & POLLIN)) continue;
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(fa->fd[k], req, sizeof req, 0, (struct sockaddr *)&from, &fl);
            if (n <= 0) continue;
            atomic_fetch_add(&fa->requests[k], 1);
            resp.overflow = 0;
            if (fake_answer(k, req, (size_t)n, &resp) == 0)
                sendto(fa->fd[k], resp.d, resp.n, 0, (struct sockaddr *)&from, fl);
        }
    }
    return NULL;
}

static void test_fake_agent(void)
{
    static fake_agent_t fa;
    char specs_buf[FAKE_COUNT][64], err[256];
    const char *specs[FAKE_COUNT];
    int started = 0;

    build_types_mib();
    atomic_store(&fa.stop, 0);
    for (int k = 0; k < FAKE_COUNT; k++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        fa.fd[k] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fa.fd[k] < 0 || bind(fa.fd[k], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fa.fd[k], (struct sockaddr *)&a, &al) != 0) {
            CHECK(0);
            goto out;
        }
        fa.port[k] = ntohs(a.sin_port);
        snprintf(specs_buf[k], sizeof specs_buf[k], "%s@127.0.0.1:%d", fake_names[k], fa.port[k]);
        specs[k] = specs_buf[k];
    }
    if (pthread_create(&fa.thread, NULL, fake_main, &fa) != 0) goto out;
    started = 1;

    snmp_poller_t *p = start_poller(specs, FAKE_COUNT, 300, -1, 10, err, sizeof err);
    CHECK(p != NULL);
    if (!p) goto out;
    snmp_snapshot_t *s[FAKE_COUNT];
    int ok = inbox_round(s, FAKE_COUNT) == 0;
    CHECK(ok);
    snmp_device_stats_t ds[FAKE_COUNT];
    for (int k = 0; k < FAKE_COUNT; k++)
        snmp_poller_get_device_stats(p, k, &ds[k]);
    snmp_poller_destroy(&p);
    if (!ok) goto out;

    for (int k = 0; k < FAKE_COUNT; k++)
        printf("  fake %-6s reachable=%d truncated=%d n_ifs=%d requests=%d bad_values=%" PRIu64
               " \"%s\"\n",
               fake_names[k], s[k]->reachable, s[k]->truncated, s[k]->n_ifs,
               atomic_load(&fa.requests[k]), ds[k].bad_values, s[k]->error);

    /* an agent that loops: the walk stops with an error, the device stays reachable */
    CHECK(s[FAKE_LOOP]->reachable && s[FAKE_LOOP]->truncated);
    CHECK(strstr(s[FAKE_LOOP]->error, "non-increasing OID") != NULL);
    CHECK_EQ(ds[FAKE_LOOP].walk_errors, 1);
    CHECK_STREQ(s[FAKE_LOOP]->sys_descr, "fake?[31m agent");
    CHECK_EQ(s[FAKE_LOOP]->sys_uptime_cs, 12345);

    /* a million interfaces: max_ifs kept, the walks end early */
    CHECK(s[FAKE_MANY]->reachable && s[FAKE_MANY]->truncated);
    CHECK_EQ(s[FAKE_MANY]->n_ifs, 10);
    CHECK(strstr(s[FAKE_MANY]->error, "more than 10 interfaces") != NULL);
    CHECK_EQ(ds[FAKE_MANY].ifs_capped, 1);
    CHECK_EQ(ds[FAKE_MANY].walk_errors, 0);
    CHECK_EQ(ds[FAKE_MANY].bad_values, 0);
    CHECK(atomic_load(&fa.requests[FAKE_MANY]) <= 8);
    if (s[FAKE_MANY]->n_ifs == 10) {
        const snmp_if_t *m = &s[FAKE_MANY]->ifs[9];
        CHECK_EQ(m->index, 10);
        CHECK_STREQ(m->name, "if10");
        CHECK_EQ(m->in_octets, 10); /* ifHCInOctets */
        CHECK_EQ(m->speed_bps, 10); /* ifSpeed (not saturated) */
    }

    /* wrong types, bad indexes, control characters, long UTF-8, an orphan ifXTable row */
    const snmp_snapshot_t *t = s[FAKE_TYPES];
    CHECK(t->reachable && !t->truncated);
    CHECK_EQ(t->n_ifs, 2);
    CHECK_EQ(t->sys_uptime_cs, 0);
    CHECK_STREQ(t->sys_name, "types");
    CHECK_EQ(ds[FAKE_TYPES].bad_values, 9);
    if (t->n_ifs == 2) {
        const snmp_if_t *a = &t->ifs[0], *b = &t->ifs[1];
        CHECK_EQ(a->index, 1);
        CHECK_STREQ(a->name, "port1");
        CHECK_STREQ(a->descr, "eth?ctl?");
        CHECK_STREQ(a->alias, "alias");
        CHECK_EQ(a->type, 6);
        CHECK_EQ(a->speed_bps, 1000000000ull); /* ifSpeed unusable: ifHighSpeed 1000 */
        CHECK_EQ(a->admin_status, 1);
        CHECK_EQ(a->in_octets, (1ull << 40) + 7);
        CHECK_EQ(a->in_ucast_pkts, 10);
        CHECK_EQ(a->in_errors, 0);
        CHECK_EQ(a->out_octets, 1);
        CHECK_EQ(a->has_hc, 0);
        CHECK_EQ(b->index, 2);
        CHECK_EQ(strlen(b->descr), 126); /* 63 x "é": cut on a character boundary */
        CHECK_EQ(strncmp(b->descr, utf8_long, 126), 0);
        CHECK_EQ(strlen(b->name), 62); /* empty ifName: ifDescr, cut to 63 bytes -> 62 */
        CHECK_EQ(b->type, 0);
        CHECK_EQ(b->speed_bps, 100000000);
        CHECK_EQ(b->admin_status, 0);
        CHECK_EQ(b->oper_status, 2);
        CHECK_EQ(b->in_octets, 0);
    }

    /* endless entries with a bad index: the walk cap ends it */
    CHECK(s[FAKE_JUNK]->reachable && s[FAKE_JUNK]->truncated);
    CHECK(strstr(s[FAKE_JUNK]->error, "walk cap") != NULL);
    CHECK_EQ(ds[FAKE_JUNK].bad_values, 10 + 64);

    CHECK(s[FAKE_EMPTY]->reachable && s[FAKE_EMPTY]->truncated);
    CHECK(strstr(s[FAKE_EMPTY]->error, "no varbinds") != NULL);
    CHECK(s[FAKE_ERROR]->reachable && s[FAKE_ERROR]->truncated);
    CHECK(strstr(s[FAKE_ERROR]->error, "agent error") != NULL);
    CHECK(!s[FAKE_STALL]->reachable && strstr(s[FAKE_STALL]->error, "ifTable walk: timeout"));
    CHECK_EQ(ds[FAKE_STALL].timeouts, 1);

    for (int k = 0; k < FAKE_COUNT; k++)
        snmp_snapshot_free(&s[k]);
out:
    atomic_store(&fa.stop, 1);
    if (started) pthread_join(fa.thread, NULL);
    for (int k = 0; k < FAKE_COUNT; k++)
        if (fa.fd[k] > 0) close(fa.fd[k]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_parse();
    test_delta();

    snprintf(tmpdir, sizeof tmpdir, "/tmp/zflow-snmp-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = '\0';
        CHECK(0);
        return check_report();
    }
    /* ZFLOW_SNMP_TEST_HOSTNS=1 forces the host-namespace fallback (to test the test) */
    const char *hostns = getenv("ZFLOW_SNMP_TEST_HOSTNS");
    if ((!hostns || strcmp(hostns, "1") != 0) && ns_setup() == 0) {
        printf("network namespace %s: lo, v0/v1 (veth), br0 (down)\n", ns_name);
    } else {
        printf("NOTE: no network namespace (not permitted?): using the host namespace; only "
               "structural checks on the interfaces, counters checked with >=\n");
        if (ns_created) run("ip netns del %s", ns_name);
        ns_created = 0;
    }

    test_fake_agent();

    if (run("command -v snmpd") != 0 || run("command -v snmpget") != 0) {
        printf("SKIP: snmpd or snmpget not installed: the real-agent part did not run\n");
        cleanup();
        int rc = check_report();
        return rc ? rc : 77;
    }
    snmpd_port = free_udp_port();
    write_snmpd_conf();
    if (snmpd_start() != 0) {
        CHECK(0);
    } else {
        int64_t t = now_ms();
        int n_ifs = test_real_agent();
        printf("real agent (v2c) part: %" PRId64 " ms\n", now_ms() - t);
        test_errors_and_v3(n_ifs);
    }
    cleanup();
    return check_report();
}
