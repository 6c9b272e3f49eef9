/* snmp_poller: SNMP v2c/v3 polling of the system group and ifTable/ifXTable (RFC 2863, RFC 3416
 * GETBULK) with net-snmp; every net-snmp call runs on the poller thread. */
#include "snmp_poller.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_INTERVAL_S 60
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_RETRIES    1
#define DEFAULT_MAX_IFS    4096
#define MAX_INTERVAL_S     86400
#define MAX_TIMEOUT_MS     60000
#define MAX_RETRIES        10
#define MAX_MAX_IFS        65536
#define BULK_VARBINDS      100 /* varbinds asked for per GETBULK (columns x repetitions) */
#define BULK_MAX_REPS      25
#define WALK_SLACK         64 /* varbinds per column beyond max_ifs before the walk cap */
#define SPEC_MAX           512
#define IF_INDEX_MAX       2147483647u /* InterfaceIndex is 1..2147483647 */
#define NETSNMP_APP_NAME   "zflow-collector"

/* The fields of one interface that come from the agent, one per walked column. */
enum field {
    F_INDEX,
    F_DESCR,
    F_TYPE,
    F_SPEED,
    F_ADMIN,
    F_OPER,
    F_IN_OCTETS,
    F_IN_UCAST,
    F_IN_DISCARDS,
    F_IN_ERRORS,
    F_OUT_OCTETS,
    F_OUT_UCAST,
    F_OUT_DISCARDS,
    F_OUT_ERRORS,
    F_NAME,
    F_IN_MCAST,
    F_IN_BCAST,
    F_OUT_MCAST,
    F_OUT_BCAST,
    F_HC_IN_OCTETS,
    F_HC_IN_UCAST,
    F_HC_IN_MCAST,
    F_HC_IN_BCAST,
    F_HC_OUT_OCTETS,
    F_HC_OUT_UCAST,
    F_HC_OUT_MCAST,
    F_HC_OUT_BCAST,
    F_HIGH_SPEED,
    F_ALIAS,
    F_COUNT
};

typedef struct coldef {
    oid subid;       /* column number under the table entry */
    int field;       /* enum field */
    u_char asn_type; /* the only type accepted */
} coldef_t;

static const oid if_entry_oid[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};      /* ifEntry */
static const oid ifx_entry_oid[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1}; /* ifXEntry */
static const oid sys_descr_oid[] = {1, 3, 6, 1, 2, 1, 1, 1, 0};
static const oid sys_uptime_oid[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid sys_name_oid[] = {1, 3, 6, 1, 2, 1, 1, 5, 0};

static const coldef_t if_cols[] = {
    {1, F_INDEX, ASN_INTEGER},         {2, F_DESCR, ASN_OCTET_STR},
    {3, F_TYPE, ASN_INTEGER},          {5, F_SPEED, ASN_GAUGE},
    {7, F_ADMIN, ASN_INTEGER},         {8, F_OPER, ASN_INTEGER},
    {10, F_IN_OCTETS, ASN_COUNTER},    {11, F_IN_UCAST, ASN_COUNTER},
    {13, F_IN_DISCARDS, ASN_COUNTER},  {14, F_IN_ERRORS, ASN_COUNTER},
    {16, F_OUT_OCTETS, ASN_COUNTER},   {17, F_OUT_UCAST, ASN_COUNTER},
    {19, F_OUT_DISCARDS, ASN_COUNTER}, {20, F_OUT_ERRORS, ASN_COUNTER},
};

static const coldef_t ifx_cols[] = {
    {1, F_NAME, ASN_OCTET_STR},          {2, F_IN_MCAST, ASN_COUNTER},
    {3, F_IN_BCAST, ASN_COUNTER},        {4, F_OUT_MCAST, ASN_COUNTER},
    {5, F_OUT_BCAST, ASN_COUNTER},       {6, F_HC_IN_OCTETS, ASN_COUNTER64},
    {7, F_HC_IN_UCAST, ASN_COUNTER64},   {8, F_HC_IN_MCAST, ASN_COUNTER64},
    {9, F_HC_IN_BCAST, ASN_COUNTER64},   {10, F_HC_OUT_OCTETS, ASN_COUNTER64},
    {11, F_HC_OUT_UCAST, ASN_COUNTER64}, {12, F_HC_OUT_MCAST, ASN_COUNTER64},
    {13, F_HC_OUT_BCAST, ASN_COUNTER64}, {15, F_HIGH_SPEED, ASN_GAUGE},
    {18, F_ALIAS, ASN_OCTET_STR},
};

#define IF_NCOLS  (sizeof if_cols / sizeof if_cols[0])
#define IFX_NCOLS (sizeof ifx_cols / sizeof ifx_cols[0])
#define MAX_NCOLS IFX_NCOLS

/* One interface while a poll collects it: raw column values and which ones the agent gave. */
typedef struct row {
    uint32_t index;
    uint32_t have; /* bit per enum field */
    uint64_t v[F_COUNT];
    char descr[128], name[64], alias[128];
} row_t;

/* Walk state of one column. */
typedef struct column {
    const coldef_t *def;
    oid prefix[MAX_OID_LEN];
    size_t prefix_len;
    oid cur[MAX_OID_LEN]; /* last OID seen (starts at the column OID) */
    size_t cur_len;
    int done;
    uint32_t seen; /* varbinds taken from this column */
} column_t;

enum poll_result { POLL_OK, POLL_UNREACHABLE, POLL_TRUNCATED, POLL_STOPPED };

/* One poll of one device: its rows and the outcome, on the poller thread's stack. */
typedef struct poll_ctx {
    row_t *rows;
    int n_rows, cap_rows;
    int capped; /* an interface beyond max_ifs was seen */
    uint64_t bad_values;
    int v3;      /* the device speaks SNMPv3 */
    int timeout; /* the failure was a timeout */
    int auth;    /* the failure came from USM */
    char error[256];
} poll_ctx_t;

struct snmp_poller {
    snmp_device_t devices[SNMP_POLLER_MAX_DEVICES];
    int n_devices;
    int interval_s, timeout_ms, retries, max_ifs;
    snmp_snapshot_fn deliver;
    void *ctx;
    pthread_t thread;

    pthread_mutex_t mu;  /* guards everything below up to the thread-only part */
    pthread_cond_t wake; /* to the thread: stop or poll now */
    int stop;
    uint64_t requests; /* snmp_poller_poll_now() calls */
    snmp_poller_stats_t stats;
    snmp_device_stats_t dstats[SNMP_POLLER_MAX_DEVICES];

    /* poller thread only */
    void *sess[SNMP_POLLER_MAX_DEVICES]; /* net-snmp single-session handles, NULL = not open */
    int logged_reachable[SNMP_POLLER_MAX_DEVICES]; /* -1 nothing logged yet, 0 or 1 */
    int logged_truncated[SNMP_POLLER_MAX_DEVICES];
};

/* net-snmp has process-wide state: one poller at a time. */
static pthread_mutex_t instance_mu = PTHREAD_MUTEX_INITIALIZER;
static int instance_alive;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mono_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- device spec ------------------------------------------------------------------------ */

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static int copy_field(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_host_port(const char *s, snmp_device_t *out, char *err, size_t errlen)
{
    const char *host = s, *port = NULL;
    size_t hlen;
    int v6 = 0;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close) {
            set_err(err, errlen, "--snmp-device: IPv6 host lacks its closing ']'");
            return -1;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        v6 = 1;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0') {
            set_err(err, errlen, "--snmp-device: expected ':PORT' or nothing after ']'");
            return -1;
        }
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) {
            set_err(err, errlen, "--snmp-device: an IPv6 host needs brackets: [ADDR]:PORT");
            return -1;
        }
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon) port = colon + 1;
    }
    if (hlen == 0) {
        set_err(err, errlen, "--snmp-device: empty HOST after '@'");
        return -1;
    }
    if (copy_field(out->host, sizeof out->host, host, hlen) < 0) {
        set_err(err, errlen, "--snmp-device: HOST longer than %zu bytes", sizeof out->host - 1);
        return -1;
    }
    for (const char *c = out->host; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '-' || *c == '_' || (v6 && (*c == ':' || *c == '%'));
        if (!ok) {
            set_err(err, errlen, "--snmp-device: bad character '%c' in HOST \"%s\"", *c, out->host);
            return -1;
        }
    }
    if (v6 && !strchr(out->host, ':')) {
        set_err(err, errlen, "--snmp-device: \"[%s]\" is not an IPv6 address", out->host);
        return -1;
    }
    out->port = 161;
    if (port) {
        unsigned long p = 0;
        if (*port == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
            (p = strtoul(port, NULL, 10)) < 1 || p > 65535) {
            set_err(err, errlen, "--snmp-device: PORT must be 1..65535 (host %s)", out->host);
            return -1;
        }
        out->port = (uint16_t)p;
    }
    return 0;
}

static int auth_proto_by_name(const char *s)
{
    static const char *const names[] = {"-", "md5", "sha", "sha224", "sha256", "sha384", "sha512"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0) return i; /* the order of enum snmp_auth_proto */
    return -1;
}

static int priv_proto_by_name(const char *s)
{
    static const char *const names[] = {"-", "des", "aes"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0) return i; /* the order of enum snmp_priv_proto */
    return -1;
}

static int check_pass(const char *pass, const char *what, char *err, size_t errlen)
{
    size_t n = strlen(pass);
    if (n < 8) {
        set_err(err, errlen, "--snmp-device: %s must have at least 8 characters", what);
        return -1;
    }
    return 0;
}

/* "USER:AUTHPROTO:AUTHPASS:PRIVPROTO:PRIVPASS" of a v3 spec (the part between "v3:" and '@'). */
static int parse_v3(const char *s, size_t len, snmp_device_t *out, char *err, size_t errlen)
{
    char buf[SPEC_MAX];
    char *f[6];
    int n = 0;

    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        f[n++] = buf;
        for (char *c = buf; *c && n <= 5; c++) {
            if (*c == ':') {
                *c = '\0';
                f[n++] = c + 1;
            }
        }
    } else {
        buf[0] = '\0';
    }
    if (n != 5) {
        set_err(err, errlen,
                "--snmp-device: v3 needs v3:USER:AUTHPROTO:AUTHPASS:PRIVPROTO:PRIVPASS@HOST[:PORT] "
                "(5 fields after \"v3:\"; no ':' inside a field)");
        goto fail;
    }
    if (f[0][0] == '\0' || copy_field(out->user, sizeof out->user, f[0], strlen(f[0])) < 0) {
        set_err(err, errlen, "--snmp-device: v3 USER must have 1..%zu bytes", sizeof out->user - 1);
        goto fail;
    }
    out->auth_proto = auth_proto_by_name(f[1]);
    if (out->auth_proto < 0) {
        set_err(err, errlen,
                "--snmp-device: unknown AUTHPROTO \"%.16s\" (md5, sha, sha224, sha256, sha384, "
                "sha512 or -)",
                f[1]);
        goto fail;
    }
    out->priv_proto = priv_proto_by_name(f[3]);
    if (out->priv_proto < 0) {
        set_err(err, errlen, "--snmp-device: unknown PRIVPROTO \"%.16s\" (des, aes or -)", f[3]);
        goto fail;
    }
    if (out->auth_proto == SNMP_AUTH_NONE) {
        if ((f[2][0] && strcmp(f[2], "-") != 0) || out->priv_proto != SNMP_PRIV_NONE) {
            set_err(err, errlen,
                    "--snmp-device: AUTHPROTO \"-\" (noAuthNoPriv) takes \"-\" for AUTHPASS, "
                    "PRIVPROTO and PRIVPASS");
            goto fail;
        }
    } else {
        if (check_pass(f[2], "AUTHPASS", err, errlen) < 0) goto fail;
        if (copy_field(out->auth_pass, sizeof out->auth_pass, f[2], strlen(f[2])) < 0) {
            set_err(err, errlen, "--snmp-device: AUTHPASS longer than %zu bytes",
                    sizeof out->auth_pass - 1);
            goto fail;
        }
    }
    if (out->priv_proto == SNMP_PRIV_NONE) {
        if (f[4][0] && strcmp(f[4], "-") != 0) {
            set_err(err, errlen, "--snmp-device: PRIVPROTO \"-\" takes \"-\" for PRIVPASS");
            goto fail;
        }
    } else {
        if (check_pass(f[4], "PRIVPASS", err, errlen) < 0) goto fail;
        if (copy_field(out->priv_pass, sizeof out->priv_pass, f[4], strlen(f[4])) < 0) {
            set_err(err, errlen, "--snmp-device: PRIVPASS longer than %zu bytes",
                    sizeof out->priv_pass - 1);
            goto fail;
        }
    }
    explicit_bzero(buf, sizeof buf);
    return 0;

fail:
    explicit_bzero(buf, sizeof buf);
    return -1;
}

int snmp_device_parse(const char *spec, snmp_device_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        set_err(err, errlen, "--snmp-device: empty device spec");
        goto fail;
    }
    size_t len = strlen(spec);
    if (len >= SPEC_MAX) {
        set_err(err, errlen, "--snmp-device: spec longer than %d bytes", SPEC_MAX - 1);
        goto fail;
    }
    if (has_ctl(spec)) {
        set_err(err, errlen, "--snmp-device: control character in the spec");
        goto fail;
    }
    const char *at = strrchr(spec, '@');
    if (!at) {
        set_err(err, errlen,
                "--snmp-device: missing '@HOST' (expected [v2c:]COMMUNITY@HOST[:PORT] or "
                "v3:USER:AUTHPROTO:AUTHPASS:PRIVPROTO:PRIVPASS@HOST[:PORT])");
        goto fail;
    }
    if (parse_host_port(at + 1, out, err, errlen) < 0) goto fail;

    size_t clen = (size_t)(at - spec);
    if (strncmp(spec, "v3:", 3) == 0) {
        out->version = SNMP_DEVICE_V3;
        if (parse_v3(spec + 3, clen - 3, out, err, errlen) < 0) goto fail;
    } else if (strncmp(spec, "v1:", 3) == 0) {
        set_err(err, errlen,
                "--snmp-device: SNMPv1 is not supported (write \"v2c:v1:...\" for a community "
                "that starts with \"v1:\")");
        goto fail;
    } else {
        const char *c = spec;
        out->version = SNMP_DEVICE_V2C;
        if (strncmp(spec, "v2c:", 4) == 0) c += 4;
        size_t n = (size_t)(at - c);
        if (at < c || n == 0) {
            set_err(err, errlen, "--snmp-device: empty COMMUNITY before '@'");
            goto fail;
        }
        if (copy_field(out->community, sizeof out->community, c, n) < 0) {
            set_err(err, errlen, "--snmp-device: COMMUNITY longer than %zu bytes",
                    sizeof out->community - 1);
            goto fail;
        }
    }

    const char *lb = strchr(out->host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    if (out->version == SNMP_DEVICE_V3)
        snprintf(out->name, sizeof out->name, "%s@%s%s%s:%u", out->user, lb, out->host, rb,
                 (unsigned)out->port);
    else
        snprintf(out->name, sizeof out->name, "%s%s%s:%u", lb, out->host, rb, (unsigned)out->port);
    return 0;

fail:
    explicit_bzero(out, sizeof *out);
    return -1;
}

/* ---- snapshots and deltas --------------------------------------------------------------- */

void snmp_snapshot_free(snmp_snapshot_t **snap)
{
    if (!snap || !*snap) return;
    free((*snap)->ifs);
    free(*snap);
    *snap = NULL;
}

/* cur - prev for a counter of `bits` bits that wrapped at most once; -1 when it went back. */
static int counter_delta(uint64_t prev, uint64_t cur, int bits, uint64_t *out)
{
    if (cur >= prev) {
        *out = cur - prev;
        return 0;
    }
    if (bits == 32 && prev <= UINT32_MAX && cur <= UINT32_MAX) {
        *out = (uint64_t)UINT32_MAX + 1 - prev + cur;
        return 0;
    }
    return -1;
}

int snmp_if_delta(const snmp_if_t *prev, uint64_t prev_uptime_cs, const snmp_if_t *cur,
                  uint64_t cur_uptime_cs, snmp_if_t *delta)
{
    *delta = *cur;
    int hc = prev->has_hc && cur->has_hc ? 64 : 32;
    struct {
        uint64_t p, c, *d;
        int bits;
    } f[] = {
        {prev->in_octets, cur->in_octets, &delta->in_octets, hc},
        {prev->out_octets, cur->out_octets, &delta->out_octets, hc},
        {prev->in_ucast_pkts, cur->in_ucast_pkts, &delta->in_ucast_pkts, hc},
        {prev->out_ucast_pkts, cur->out_ucast_pkts, &delta->out_ucast_pkts, hc},
        {prev->in_mcast_pkts, cur->in_mcast_pkts, &delta->in_mcast_pkts, hc},
        {prev->out_mcast_pkts, cur->out_mcast_pkts, &delta->out_mcast_pkts, hc},
        {prev->in_bcast_pkts, cur->in_bcast_pkts, &delta->in_bcast_pkts, hc},
        {prev->out_bcast_pkts, cur->out_bcast_pkts, &delta->out_bcast_pkts, hc},
        {prev->in_errors, cur->in_errors, &delta->in_errors, 32},
        {prev->out_errors, cur->out_errors, &delta->out_errors, 32},
        {prev->in_discards, cur->in_discards, &delta->in_discards, 32},
        {prev->out_discards, cur->out_discards, &delta->out_discards, 32},
    };
    size_t n = sizeof f / sizeof f[0];

    if (prev->index != cur->index || cur_uptime_cs < prev_uptime_cs) goto fail;
    for (size_t i = 0; i < n; i++)
        if (counter_delta(f[i].p, f[i].c, f[i].bits, f[i].d) < 0) goto fail;
    return 0;

fail:
    for (size_t i = 0; i < n; i++)
        *f[i].d = 0;
    return -1;
}

/* ---- values from the agent (untrusted) ------------------------------------------------- */

/* Copies an agent string: trailing NULs dropped, control bytes as '?', cut at a UTF-8 boundary
 * when it does not fit. */
static void copy_display(char *dst, size_t cap, const u_char *s, size_t len)
{
    while (len > 0 && s[len - 1] == '\0')
        len--;
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n < len) {
        while (n > 0 && (s[n] & 0xc0) == 0x80) /* s[n] continues the character before */
            n--;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    dst[n] = '\0';
}

static int is_exception(u_char type)
{
    return type == SNMP_NOSUCHOBJECT || type == SNMP_NOSUCHINSTANCE || type == SNMP_ENDOFMIBVIEW;
}

/* The unsigned value of an INTEGER, Counter32, Gauge32, TimeTicks or Counter64 varbind. */
static int vb_uint(const netsnmp_variable_list *vb, uint64_t *out)
{
    switch (vb->type) {
    case ASN_INTEGER:
        if (!vb->val.integer || vb->val_len != sizeof(long) || *vb->val.integer < 0) return -1;
        *out = (uint64_t)*vb->val.integer;
        return 0;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
        if (!vb->val.integer || vb->val_len != sizeof(long)) return -1;
        *out = (uint64_t)(unsigned long)*vb->val.integer & 0xffffffffu;
        return 0;
    case ASN_COUNTER64:
        if (!vb->val.counter64 || vb->val_len != sizeof(struct counter64)) return -1;
        *out = ((uint64_t)(vb->val.counter64->high & 0xffffffffu) << 32) |
               (vb->val.counter64->low & 0xffffffffu);
        return 0;
    default:
        return -1;
    }
}

static int row_find(const poll_ctx_t *pc, uint32_t index, int *pos)
{
    int lo = 0, hi = pc->n_rows;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (pc->rows[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return lo < pc->n_rows && pc->rows[lo].index == index;
}

/* Inserts a row for `index` at `pos` (from row_find). -1 on allocation failure. */
static int row_insert(poll_ctx_t *pc, int pos, uint32_t index, int max_ifs)
{
    if (pc->n_rows == pc->cap_rows) {
        int ncap = pc->cap_rows ? pc->cap_rows * 2 : 16;
        if (ncap > max_ifs) ncap = max_ifs;
        row_t *n = realloc(pc->rows, (size_t)ncap * sizeof *n);
        if (!n) return -1;
        pc->rows = n;
        pc->cap_rows = ncap;
    }
    memmove(&pc->rows[pos + 1], &pc->rows[pos], (size_t)(pc->n_rows - pos) * sizeof *pc->rows);
    memset(&pc->rows[pos], 0, sizeof *pc->rows);
    pc->rows[pos].index = index;
    pc->n_rows++;
    return 0;
}

/* Stores one column value into its row. */
static void row_store(poll_ctx_t *pc, row_t *r, const coldef_t *def,
                      const netsnmp_variable_list *vb)
{
    uint64_t u = 0;

    if (vb->type != def->asn_type) {
        pc->bad_values++;
        return;
    }
    switch (def->field) {
    case F_DESCR:
    case F_NAME:
    case F_ALIAS: {
        char *dst = def->field == F_DESCR ? r->descr : def->field == F_NAME ? r->name : r->alias;
        size_t cap = def->field == F_DESCR  ? sizeof r->descr
                     : def->field == F_NAME ? sizeof r->name
                                            : sizeof r->alias;
        if (vb->val_len > 0 && !vb->val.string) {
            pc->bad_values++;
            return;
        }
        copy_display(dst, cap, vb->val.string, vb->val_len);
        break;
    }
    default:
        if (vb_uint(vb, &u) < 0) {
            pc->bad_values++;
            return;
        }
        if ((def->field == F_ADMIN && (u < 1 || u > 3)) ||
            (def->field == F_OPER && (u < 1 || u > 7)) || (def->field == F_TYPE && u > INT32_MAX) ||
            (def->field == F_INDEX && u != r->index)) {
            pc->bad_values++;
            return;
        }
        r->v[def->field] = u;
        break;
    }
    r->have |= 1u << def->field;
}

/* ---- requests --------------------------------------------------------------------------- */

static int stop_requested(snmp_poller_t *self)
{
    pthread_mutex_lock(&self->mu);
    int s = self->stop;
    pthread_mutex_unlock(&self->mu);
    return s;
}

static int is_usm_error(int liberr)
{
    return (liberr <= SNMPERR_BAD_ENG_ID && liberr >= SNMPERR_BAD_SEC_LEVEL) ||
           liberr == SNMPERR_UNKNOWN_SEC_MODEL ||
           (liberr <= SNMPERR_UNKNOWN_ENG_ID && liberr >= SNMPERR_USM_DECRYPTIONERROR);
}

/* Fills pc->error from a net-snmp error code (and its text, when there is one). */
static void set_failure(snmp_poller_t *self, poll_ctx_t *pc, const char *what, int liberr,
                        const char *text)
{
    if (liberr == SNMPERR_TIMEOUT) {
        pc->timeout = 1;
        snprintf(pc->error, sizeof pc->error, "%s: timeout, no answer within %d ms x %d tries (%s)",
                 what, self->timeout_ms, self->retries + 1,
                 pc->v3 ? "unreachable, or a wrong privacy password"
                        : "unreachable, or a wrong community");
        return;
    }
    pc->auth = is_usm_error(liberr);
    snprintf(pc->error, sizeof pc->error, "%s: %s%s", what,
             text && *text ? text : snmp_api_errstring(liberr),
             pc->auth ? " (check the v3 user, protocols and passwords)" : "");
}

/* Sends `pdu` (always consumed) and waits for the answer. POLL_OK with *resp set (the caller
 * frees it), or POLL_UNREACHABLE with pc->error set. */
static int request(snmp_poller_t *self, void *sess, poll_ctx_t *pc, const char *what,
                   netsnmp_pdu *pdu, netsnmp_pdu **resp)
{
    *resp = NULL;
    int st = snmp_sess_synch_response(sess, pdu, resp);
    if (st == STAT_SUCCESS && *resp) return POLL_OK;
    if (*resp) {
        snmp_free_pdu(*resp);
        *resp = NULL;
    }
    int liberr = 0, syserr = 0;
    char *text = NULL;
    if (st == STAT_TIMEOUT) {
        liberr = SNMPERR_TIMEOUT;
    } else {
        snmp_sess_error(sess, &syserr, &liberr, &text);
        if (liberr == 0) liberr = SNMPERR_GENERR;
    }
    set_failure(self, pc, what, liberr, text);
    free(text);
    return POLL_UNREACHABLE;
}

static int oid_in_subtree(const oid *name, size_t len, const oid *prefix, size_t plen)
{
    return len > plen && netsnmp_oid_equals(name, plen, prefix, plen) == 0;
}

/* Walks the columns of one table (ifTable creates rows, ifXTable only fills existing ones)
 * with GETBULK requests that carry every column still going. */
static int walk_table(snmp_poller_t *self, void *sess, poll_ctx_t *pc, const char *what,
                      const oid *entry, size_t entry_len, const coldef_t *defs, size_t ncols,
                      int creates_rows)
{
    column_t cols[MAX_NCOLS];
    column_t *active[MAX_NCOLS];
    uint32_t budget = (uint32_t)self->max_ifs + WALK_SLACK;
    long reps_cap = BULK_MAX_REPS;
    netsnmp_pdu *resp = NULL;
    int rc = POLL_OK;

    for (size_t i = 0; i < ncols; i++) {
        column_t *c = &cols[i];
        memset(c, 0, sizeof *c);
        c->def = &defs[i];
        memcpy(c->prefix, entry, entry_len * sizeof(oid));
        c->prefix[entry_len] = defs[i].subid;
        c->prefix_len = entry_len + 1;
        memcpy(c->cur, c->prefix, c->prefix_len * sizeof(oid));
        c->cur_len = c->prefix_len;
    }

    for (;;) {
        size_t nactive = 0;
        for (size_t i = 0; i < ncols; i++)
            if (!cols[i].done) active[nactive++] = &cols[i];
        if (nactive == 0) break;
        if (stop_requested(self)) {
            rc = POLL_STOPPED;
            goto done;
        }
        long reps = BULK_VARBINDS / (long)nactive;
        if (reps > reps_cap) reps = reps_cap;
        if (reps < 1) reps = 1;
        netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
        if (!pdu) {
            snprintf(pc->error, sizeof pc->error, "%s: out of memory", what);
            rc = POLL_TRUNCATED;
            goto done;
        }
        pdu->non_repeaters = 0;
        pdu->max_repetitions = reps;
        for (size_t i = 0; i < nactive; i++)
            snmp_add_null_var(pdu, active[i]->cur, active[i]->cur_len);
        rc = request(self, sess, pc, what, pdu, &resp);
        if (rc != POLL_OK) goto done;
        if (resp->errstat == SNMP_ERR_TOOBIG && reps_cap > 1) {
            reps_cap = reps / 2 > 1 ? reps / 2 : 1; /* RFC 3416 says truncate; some agents don't */
            snmp_free_pdu(resp);
            resp = NULL;
            continue;
        }
        if (resp->errstat != SNMP_ERR_NOERROR) {
            snprintf(pc->error, sizeof pc->error, "%s: agent error %s at varbind %ld", what,
                     snmp_errstring((int)resp->errstat), resp->errindex);
            rc = POLL_TRUNCATED;
            goto done;
        }

        size_t k = 0;
        for (netsnmp_variable_list *vb = resp->variables; vb; vb = vb->next_variable, k++) {
            column_t *c = active[k % nactive];
            if (c->done) continue;        /* a later repetition of a column that has ended */
            if (is_exception(vb->type)) { /* endOfMibView */
                c->done = 1;
                continue;
            }
            if (vb->name_length > MAX_OID_LEN ||
                snmp_oid_compare(vb->name, vb->name_length, c->cur, c->cur_len) <= 0) {
                snprintf(pc->error, sizeof pc->error,
                         "%s: agent returned a non-increasing OID in column %lu (agent loop)", what,
                         (unsigned long)c->def->subid);
                rc = POLL_TRUNCATED;
                goto done;
            }
            if (!oid_in_subtree(vb->name, vb->name_length, c->prefix, c->prefix_len)) {
                c->done = 1; /* past the column: its end */
                continue;
            }
            memcpy(c->cur, vb->name, vb->name_length * sizeof(oid));
            c->cur_len = vb->name_length;
            if (++c->seen > budget) {
                snprintf(pc->error, sizeof pc->error,
                         "%s: column %lu has more than %" PRIu32 " entries (walk cap)", what,
                         (unsigned long)c->def->subid, budget);
                rc = POLL_TRUNCATED;
                goto done;
            }
            if (vb->name_length != c->prefix_len + 1 || vb->name[c->prefix_len] < 1 ||
                vb->name[c->prefix_len] > IF_INDEX_MAX) {
                pc->bad_values++; /* not a single InterfaceIndex sub-identifier */
                continue;
            }
            uint32_t index = (uint32_t)vb->name[c->prefix_len];
            int pos;
            if (!row_find(pc, index, &pos)) {
                int full = pc->n_rows >= self->max_ifs;
                if (!creates_rows || full) {
                    /* indexes only grow within a column: nothing after the last row can match */
                    int beyond = pc->n_rows == 0 || index > pc->rows[pc->n_rows - 1].index;
                    if (full && (creates_rows || beyond))
                        pc->capped = 1; /* an interface dropped by the max_ifs cap */
                    else
                        pc->bad_values++; /* an ifXTable row without an ifTable row */
                    if (beyond) c->done = 1;
                    continue;
                }
                if (row_insert(pc, pos, index, self->max_ifs) < 0) {
                    snprintf(pc->error, sizeof pc->error, "%s: out of memory", what);
                    rc = POLL_TRUNCATED;
                    goto done;
                }
            }
            row_store(pc, &pc->rows[pos], c->def, vb);
        }
        if (k == 0) {
            snprintf(pc->error, sizeof pc->error, "%s: agent answered GETBULK with no varbinds",
                     what);
            rc = POLL_TRUNCATED;
            goto done;
        }
        snmp_free_pdu(resp);
        resp = NULL;
    }

done:
    if (resp) snmp_free_pdu(resp);
    return rc;
}

/* GET of sysDescr.0, sysUpTime.0 and sysName.0; values the agent lacks stay empty. */
static int get_system(snmp_poller_t *self, void *sess, poll_ctx_t *pc, snmp_snapshot_t *snap)
{
    netsnmp_pdu *resp = NULL;
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    if (!pdu) {
        snprintf(pc->error, sizeof pc->error, "system group: out of memory");
        return POLL_UNREACHABLE;
    }
    snmp_add_null_var(pdu, sys_descr_oid, OID_LENGTH(sys_descr_oid));
    snmp_add_null_var(pdu, sys_uptime_oid, OID_LENGTH(sys_uptime_oid));
    snmp_add_null_var(pdu, sys_name_oid, OID_LENGTH(sys_name_oid));
    int rc = request(self, sess, pc, "system group", pdu, &resp);
    if (rc != POLL_OK) return rc;
    if (resp->errstat == SNMP_ERR_NOERROR) {
        for (netsnmp_variable_list *vb = resp->variables; vb; vb = vb->next_variable) {
            uint64_t u;
            int is_str = vb->type == ASN_OCTET_STR && (vb->val_len == 0 || vb->val.string);
            if (is_exception(vb->type)) continue;
            if (netsnmp_oid_equals(vb->name, vb->name_length, sys_descr_oid,
                                   OID_LENGTH(sys_descr_oid)) == 0 &&
                is_str)
                copy_display(snap->sys_descr, sizeof snap->sys_descr, vb->val.string, vb->val_len);
            else if (netsnmp_oid_equals(vb->name, vb->name_length, sys_name_oid,
                                        OID_LENGTH(sys_name_oid)) == 0 &&
                     is_str)
                copy_display(snap->sys_name, sizeof snap->sys_name, vb->val.string, vb->val_len);
            else if (netsnmp_oid_equals(vb->name, vb->name_length, sys_uptime_oid,
                                        OID_LENGTH(sys_uptime_oid)) == 0 &&
                     vb->type == ASN_TIMETICKS && vb_uint(vb, &u) == 0)
                snap->sys_uptime_cs = u;
            else
                pc->bad_values++;
        }
    }
    snmp_free_pdu(resp);
    return POLL_OK;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void auth_oid(int proto, oid **o, size_t *len)
{
    switch (proto) {
    case SNMP_AUTH_MD5:
        *o = usmHMACMD5AuthProtocol, *len = OID_LENGTH(usmHMACMD5AuthProtocol);
        break;
    case SNMP_AUTH_SHA224:
        *o = usmHMAC128SHA224AuthProtocol, *len = OID_LENGTH(usmHMAC128SHA224AuthProtocol);
        break;
    case SNMP_AUTH_SHA256:
        *o = usmHMAC192SHA256AuthProtocol, *len = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
        break;
    case SNMP_AUTH_SHA384:
        *o = usmHMAC256SHA384AuthProtocol, *len = OID_LENGTH(usmHMAC256SHA384AuthProtocol);
        break;
    case SNMP_AUTH_SHA512:
        *o = usmHMAC384SHA512AuthProtocol, *len = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
        break;
    default:
        *o = usmHMACSHA1AuthProtocol, *len = OID_LENGTH(usmHMACSHA1AuthProtocol);
        break;
    }
}

/* Opens the net-snmp session of device i (v3: discovers the agent's engine ID). NULL with
 * pc->error set on failure. */
static void *session_open(snmp_poller_t *self, int i, poll_ctx_t *pc)
{
    const snmp_device_t *d = &self->devices[i];
    netsnmp_session s;
    char peer[sizeof d->host + 16];
    void *h = NULL;

    snmp_sess_init(&s);
    snprintf(peer, sizeof peer, strchr(d->host, ':') ? "udp6:[%s]:%u" : "udp:%s:%u", d->host,
             (unsigned)d->port);
    s.peername = peer;
    s.timeout = (long)self->timeout_ms * 1000L;
    s.retries = self->retries;
    if (d->version == SNMP_DEVICE_V2C) {
        s.version = SNMP_VERSION_2c;
        s.community = (u_char *)d->community;
        s.community_len = strlen(d->community);
    } else {
        s.version = SNMP_VERSION_3;
        s.securityName = (char *)d->user;
        s.securityNameLen = strlen(d->user);
        s.securityModel = SNMP_SEC_MODEL_USM;
        s.securityLevel = d->auth_proto == SNMP_AUTH_NONE   ? SNMP_SEC_LEVEL_NOAUTH
                          : d->priv_proto == SNMP_PRIV_NONE ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                                            : SNMP_SEC_LEVEL_AUTHPRIV;
        if (d->auth_proto != SNMP_AUTH_NONE) {
            auth_oid(d->auth_proto, &s.securityAuthProto, &s.securityAuthProtoLen);
            s.securityAuthKeyLen = USM_AUTH_KU_LEN;
            if (generate_Ku(s.securityAuthProto, (u_int)s.securityAuthProtoLen,
                            (const u_char *)d->auth_pass, strlen(d->auth_pass), s.securityAuthKey,
                            &s.securityAuthKeyLen) != SNMPERR_SUCCESS) {
                snprintf(pc->error, sizeof pc->error, "cannot derive the v3 authentication key");
                goto out;
            }
        }
        if (d->priv_proto != SNMP_PRIV_NONE) {
            if (d->priv_proto == SNMP_PRIV_DES) {
                s.securityPrivProto = usmDESPrivProtocol;
                s.securityPrivProtoLen = OID_LENGTH(usmDESPrivProtocol);
            } else {
                s.securityPrivProto = usmAESPrivProtocol;
                s.securityPrivProtoLen = OID_LENGTH(usmAESPrivProtocol);
            }
            s.securityPrivKeyLen = USM_PRIV_KU_LEN;
            if (generate_Ku(s.securityAuthProto, (u_int)s.securityAuthProtoLen,
                            (const u_char *)d->priv_pass, strlen(d->priv_pass), s.securityPrivKey,
                            &s.securityPrivKeyLen) != SNMPERR_SUCCESS) {
                snprintf(pc->error, sizeof pc->error, "cannot derive the v3 privacy key");
                goto out;
            }
        }
    }
    h = snmp_sess_open(&s);
    if (!h) {
        int liberr = 0, syserr = 0;
        char *text = NULL;
        snmp_error(&s, &syserr, &liberr, &text);
        set_failure(self, pc, d->version == SNMP_DEVICE_V3 ? "v3 engine discovery" : "open",
                    liberr ? liberr : SNMPERR_GENERR, text);
        free(text);
    }

out:
    explicit_bzero(s.securityAuthKey, sizeof s.securityAuthKey);
    explicit_bzero(s.securityPrivKey, sizeof s.securityPrivKey);
    return h;
}

/* ---- one poll, one round ----------------------------------------------------------------- */

static void finish_if(const row_t *r, snmp_if_t *o)
{
    const uint64_t *v = r->v;
#define HAVE(f)      ((r->have >> (f)) & 1u)
#define PICK(hc, lo) (HAVE(hc) ? v[hc] : HAVE(lo) ? v[lo] : 0)
    memset(o, 0, sizeof *o);
    o->index = r->index;
    memcpy(o->descr, r->descr, sizeof o->descr);
    memcpy(o->alias, r->alias, sizeof o->alias);
    if (HAVE(F_NAME) && r->name[0])
        memcpy(o->name, r->name, sizeof o->name);
    else
        copy_display(o->name, sizeof o->name, (const u_char *)r->descr, strlen(r->descr));
    o->type = (uint32_t)v[F_TYPE];
    if (HAVE(F_SPEED) && v[F_SPEED] != UINT32_MAX)
        o->speed_bps = v[F_SPEED];
    else if (HAVE(F_HIGH_SPEED))
        o->speed_bps = v[F_HIGH_SPEED] * 1000000u;
    else
        o->speed_bps = v[F_SPEED];
    o->admin_status = (int)v[F_ADMIN];
    o->oper_status = (int)v[F_OPER];
    o->in_octets = PICK(F_HC_IN_OCTETS, F_IN_OCTETS);
    o->out_octets = PICK(F_HC_OUT_OCTETS, F_OUT_OCTETS);
    o->in_ucast_pkts = PICK(F_HC_IN_UCAST, F_IN_UCAST);
    o->out_ucast_pkts = PICK(F_HC_OUT_UCAST, F_OUT_UCAST);
    o->in_mcast_pkts = PICK(F_HC_IN_MCAST, F_IN_MCAST);
    o->out_mcast_pkts = PICK(F_HC_OUT_MCAST, F_OUT_MCAST);
    o->in_bcast_pkts = PICK(F_HC_IN_BCAST, F_IN_BCAST);
    o->out_bcast_pkts = PICK(F_HC_OUT_BCAST, F_OUT_BCAST);
    o->in_errors = v[F_IN_ERRORS];
    o->out_errors = v[F_OUT_ERRORS];
    o->in_discards = v[F_IN_DISCARDS];
    o->out_discards = v[F_OUT_DISCARDS];
    o->has_hc = HAVE(F_HC_IN_OCTETS) && HAVE(F_HC_OUT_OCTETS) && HAVE(F_HC_IN_UCAST) &&
                HAVE(F_HC_OUT_UCAST);
#undef PICK
#undef HAVE
}

/* Polls device i into *snap. POLL_STOPPED when destroy interrupted it. */
static int poll_device(snmp_poller_t *self, int i, snmp_snapshot_t *snap, poll_ctx_t *pc)
{
    int rc;

    if (stop_requested(self)) return POLL_STOPPED;
    if (!self->sess[i]) {
        self->sess[i] = session_open(self, i, pc);
        if (!self->sess[i]) return POLL_UNREACHABLE;
    }
    rc = get_system(self, self->sess[i], pc, snap);
    if (rc == POLL_OK)
        rc = walk_table(self, self->sess[i], pc, "ifTable walk", if_entry_oid,
                        OID_LENGTH(if_entry_oid), if_cols, IF_NCOLS, 1);
    if (rc == POLL_OK)
        rc = walk_table(self, self->sess[i], pc, "ifXTable walk", ifx_entry_oid,
                        OID_LENGTH(ifx_entry_oid), ifx_cols, IFX_NCOLS, 0);
    if (rc == POLL_OK && pc->capped) {
        snprintf(pc->error, sizeof pc->error, "more than %d interfaces: only the first %d kept",
                 self->max_ifs, self->max_ifs);
        rc = POLL_TRUNCATED;
    }
    if (rc == POLL_UNREACHABLE) {
        /* v3: rediscover the engine (the agent may have been replaced) on the next poll */
        snmp_sess_close(self->sess[i]);
        self->sess[i] = NULL;
    }
    return rc;
}

static void log_state(snmp_poller_t *self, int i, const snmp_snapshot_t *snap)
{
    const char *name = self->devices[i].name;
    int was = self->logged_reachable[i];

    if (!snap->reachable && was != 0)
        fprintf(stderr, "snmp_poller: %s: unreachable: %s\n", name, snap->error);
    else if (snap->reachable && was != 1)
        fprintf(stderr, "snmp_poller: %s: %s (sysName \"%s\", %d interfaces)\n", name,
                was == 0 ? "reachable again" : "reachable", snap->sys_name, snap->n_ifs);
    self->logged_reachable[i] = snap->reachable;
    if (snap->reachable) {
        if (snap->truncated && !self->logged_truncated[i])
            fprintf(stderr, "snmp_poller: %s: incomplete interface list: %s\n", name, snap->error);
        else if (!snap->truncated && self->logged_truncated[i])
            fprintf(stderr, "snmp_poller: %s: interface list complete again\n", name);
        self->logged_truncated[i] = snap->truncated;
    }
}

/* Polls device i and delivers its snapshot. -1 when stopped (nothing delivered). */
static int poll_and_deliver(snmp_poller_t *self, int i)
{
    poll_ctx_t pc;
    snmp_snapshot_t *snap = calloc(1, sizeof *snap);
    int rc;

    memset(&pc, 0, sizeof pc);
    pc.v3 = self->devices[i].version == SNMP_DEVICE_V3;
    if (!snap) {
        fprintf(stderr, "snmp_poller: %s: out of memory for a snapshot\n", self->devices[i].name);
        return 0;
    }
    snprintf(snap->device, sizeof snap->device, "%s", self->devices[i].name);
    snprintf(snap->host, sizeof snap->host, "%s", self->devices[i].host);
    snap->device_index = i;
    snap->polled_at_ms = wall_ms();

    rc = poll_device(self, i, snap, &pc);
    if (rc == POLL_STOPPED) {
        free(pc.rows);
        free(snap);
        return -1;
    }
    snap->reachable = rc != POLL_UNREACHABLE;
    snap->truncated = rc == POLL_TRUNCATED;
    snprintf(snap->error, sizeof snap->error, "%s", rc == POLL_OK ? "" : pc.error);
    if (snap->reachable && pc.n_rows > 0) {
        snap->ifs = calloc((size_t)pc.n_rows, sizeof *snap->ifs);
        if (snap->ifs) {
            for (int r = 0; r < pc.n_rows; r++)
                finish_if(&pc.rows[r], &snap->ifs[r]);
            snap->n_ifs = pc.n_rows;
        } else {
            snap->truncated = 1;
            snprintf(snap->error, sizeof snap->error, "out of memory for %d interfaces", pc.n_rows);
        }
    }
    free(pc.rows);
    log_state(self, i, snap);

    pthread_mutex_lock(&self->mu);
    snmp_device_stats_t *ds = &self->dstats[i];
    ds->polls++;
    if (snap->reachable)
        ds->successes++;
    else
        ds->failures++;
    ds->timeouts += !snap->reachable && pc.timeout;
    ds->auth_failures += !snap->reachable && pc.auth;
    ds->walk_errors += snap->truncated && !pc.capped;
    ds->ifs_capped += pc.capped;
    ds->bad_values += pc.bad_values;
    ds->reachable = snap->reachable;
    ds->n_ifs = snap->n_ifs;
    ds->last_poll_ms = snap->polled_at_ms;
    if (snap->error[0]) snprintf(ds->last_error, sizeof ds->last_error, "%s", snap->error);
    self->stats.snapshots++;
    pthread_mutex_unlock(&self->mu);

    self->deliver(self->ctx, snap);
    return 0;
}

/* ---- the thread --------------------------------------------------------------------------- */

static int netsnmp_log_cb(int major, int minor, void *serverarg, void *clientarg)
{
    const struct snmp_log_message *m = serverarg;
    if (!m || !m->msg) return 0;
    size_t n = strlen(m->msg);
    while (n > 0 && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
        n--;
    if (n > 0) fprintf(stderr, "snmp_poller: net-snmp: %.*s\n", (int)n, m->msg);
    return 0;
}

static char mibs_none[] = "mibs :";

/* Sets net-snmp up as a client that reads no configuration, no MIB and no persistent state,
 * and never touches SIGALRM. */
static void netsnmp_start(void)
{
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
    /* net-snmp's certificate code creates <persistent dir>/cert_indexes at init even with
     * persistence off, and looks for certificates under the configuration dirs: "/dev/null"
     * makes both look nowhere and create nothing. */
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR, "/dev/null");
    netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_CONFIGURATION_DIR, "/dev/null");
    netsnmp_set_mib_directory("");
    netsnmp_config_remember(mibs_none); /* like "mibs :" in snmp.conf: load no MIB module */
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_WARNING);
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, netsnmp_log_cb, NULL);
    init_snmp(NETSNMP_APP_NAME);
}

/* net-snmp is initialised once per process and never shut down: its snmp_shutdown() does not
 * free the MIB tables a later init_snmp() replaces, so a second poller in the same process
 * would leak them. Its global state stays reachable until the process exits. */
static pthread_once_t netsnmp_once = PTHREAD_ONCE_INIT;

static void *poller_main(void *arg)
{
    snmp_poller_t *self = arg;
    struct timespec next, now;
    uint64_t served = 0;

    pthread_once(&netsnmp_once, netsnmp_start);
    mono_now(&next); /* the first round runs right away */
    for (;;) {
        pthread_mutex_lock(&self->mu);
        for (;;) {
            mono_now(&now);
            if (self->stop || self->requests != served || !ts_before(&now, &next)) break;
            pthread_cond_timedwait(&self->wake, &self->mu, &next);
        }
        int stop = self->stop;
        served = self->requests;
        if (!stop) self->stats.rounds++;
        pthread_mutex_unlock(&self->mu);
        if (stop) break;

        int stopped = 0;
        for (int i = 0; i < self->n_devices && !stopped; i++)
            stopped = poll_and_deliver(self, i) < 0;
        if (stopped) break;

        mono_now(&now);
        if (!ts_before(&now, &next)) { /* timed round (or a late one): schedule the next */
            next.tv_sec += self->interval_s;
            if (!ts_before(&now, &next)) {
                next = now;
                next.tv_sec += self->interval_s;
                pthread_mutex_lock(&self->mu);
                self->stats.rounds_late++;
                pthread_mutex_unlock(&self->mu);
            }
        }
    }

    for (int i = 0; i < self->n_devices; i++) {
        if (self->sess[i]) {
            snmp_sess_close(self->sess[i]);
            self->sess[i] = NULL;
        }
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------------------------- */

static int clamp_or_default(int v, int def, int lo, int hi)
{
    if (v == 0) return def;
    return v < lo ? lo : v > hi ? hi : v;
}

snmp_poller_t *snmp_poller_new(const snmp_poller_config_t *cfg, char *err, size_t errlen)
{
    snmp_poller_t *self = NULL;
    int claimed = 0, mu_ok = 0, cv_ok = 0;

    if (!cfg || !cfg->deliver || cfg->n_devices < 1 || cfg->n_devices > SNMP_POLLER_MAX_DEVICES) {
        set_err(err, errlen, "snmp_poller: need a deliver callback and 1..%d devices",
                SNMP_POLLER_MAX_DEVICES);
        goto fail;
    }
    self = calloc(1, sizeof *self);
    if (!self) {
        set_err(err, errlen, "snmp_poller: out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg->n_devices; i++) {
        char e[256];
        if (snmp_device_parse(cfg->devices[i], &self->devices[i], e, sizeof e) < 0) {
            set_err(err, errlen, "%s (device %d)", e, i + 1);
            goto fail;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(self->devices[i].name, self->devices[j].name) == 0) {
                set_err(err, errlen, "--snmp-device: device %d repeats device %d (%s)", i + 1,
                        j + 1, self->devices[i].name);
                goto fail;
            }
        }
        snprintf(self->dstats[i].device, sizeof self->dstats[i].device, "%s",
                 self->devices[i].name);
        self->dstats[i].reachable = -1;
        self->logged_reachable[i] = -1;
    }
    self->n_devices = cfg->n_devices;
    self->stats.n_devices = cfg->n_devices;
    self->interval_s = clamp_or_default(cfg->interval_s, DEFAULT_INTERVAL_S, 1, MAX_INTERVAL_S);
    self->timeout_ms = clamp_or_default(cfg->timeout_ms, DEFAULT_TIMEOUT_MS, 10, MAX_TIMEOUT_MS);
    self->retries =
        cfg->retries < 0 ? 0 : clamp_or_default(cfg->retries, DEFAULT_RETRIES, 0, MAX_RETRIES);
    self->max_ifs = clamp_or_default(cfg->max_ifs, DEFAULT_MAX_IFS, 1, MAX_MAX_IFS);
    self->deliver = cfg->deliver;
    self->ctx = cfg->ctx;

    pthread_mutex_lock(&instance_mu);
    claimed = !instance_alive;
    instance_alive = 1;
    pthread_mutex_unlock(&instance_mu);
    if (!claimed) {
        set_err(err, errlen,
                "snmp_poller: another SNMP poller runs in this process (net-snmp has global "
                "state; one poller polls every device)");
        goto fail;
    }

    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        set_err(err, errlen, "snmp_poller: pthread_condattr_init failed");
        goto fail;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    mu_ok = pthread_mutex_init(&self->mu, NULL) == 0;
    cv_ok = mu_ok && pthread_cond_init(&self->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok) {
        set_err(err, errlen, "snmp_poller: cannot create the mutex/condition");
        goto fail;
    }

    /* The thread starts with every signal blocked: signals go to the collector's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, poller_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, errlen, "snmp_poller: cannot start the thread: %s", strerror(rc));
        goto fail;
    }
    return self;

fail:
    if (self) {
        if (cv_ok) pthread_cond_destroy(&self->wake);
        if (mu_ok) pthread_mutex_destroy(&self->mu);
        explicit_bzero(self->devices, sizeof self->devices);
        free(self);
    }
    if (claimed) {
        pthread_mutex_lock(&instance_mu);
        instance_alive = 0;
        pthread_mutex_unlock(&instance_mu);
    }
    return NULL;
}

void snmp_poller_destroy(snmp_poller_t **selfp)
{
    if (!selfp || !*selfp) return;
    snmp_poller_t *self = *selfp;
    pthread_mutex_lock(&self->mu);
    self->stop = 1;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->mu);
    explicit_bzero(self->devices, sizeof self->devices);
    free(self);
    *selfp = NULL;

    pthread_mutex_lock(&instance_mu);
    instance_alive = 0;
    pthread_mutex_unlock(&instance_mu);
}

int snmp_poller_poll_now(snmp_poller_t *self)
{
    if (!self) return -1;
    pthread_mutex_lock(&self->mu);
    self->requests++;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->mu);
    return 0;
}

void snmp_poller_get_stats(snmp_poller_t *self, snmp_poller_stats_t *out)
{
    if (!self) {
        memset(out, 0, sizeof *out);
        return;
    }
    pthread_mutex_lock(&self->mu);
    *out = self->stats;
    pthread_mutex_unlock(&self->mu);
}

int snmp_poller_get_device_stats(snmp_poller_t *self, int device, snmp_device_stats_t *out)
{
    if (!self || device < 0 || device >= self->n_devices) return -1;
    pthread_mutex_lock(&self->mu);
    *out = self->dstats[device];
    pthread_mutex_unlock(&self->mu);
    return 0;
}
