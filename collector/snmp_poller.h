/* snmp_poller: polls SNMP agents (v2c, v3 USM) for the system group and ifTable/ifXTable
 * (RFC 2863, numeric OIDs) from one thread that owns every net-snmp call and socket. */
#ifndef ZFLOW_SNMP_POLLER_H
#define ZFLOW_SNMP_POLLER_H

#include <stddef.h>
#include <stdint.h>

/* --snmp-device syntax (one device per option, at most SNMP_POLLER_MAX_DEVICES):
 *
 *   [v2c:]COMMUNITY@HOST[:PORT]
 *   v3:USER:AUTHPROTO:AUTHPASS:PRIVPROTO:PRIVPASS@HOST[:PORT]
 *
 *   HOST       IPv4 address, host name, or IPv6 address in brackets ("[::1]:1161").
 *   PORT       1..65535, default 161 (UDP).
 *   COMMUNITY  1..127 bytes; split at the last '@'. A community that itself starts with "v2c:"
 *              or "v3:" needs the explicit "v2c:" prefix ("v2c:v3:abc@host" = community "v3:abc").
 *   USER       1..63 bytes, no ':'.
 *   AUTHPROTO  md5 | sha | sha224 | sha256 | sha384 | sha512 | "-" (noAuthNoPriv).
 *   PRIVPROTO  des | aes (AES-128) | "-" (authNoPriv). Needs an AUTHPROTO.
 *   AUTHPASS, PRIVPASS  8..127 bytes, no ':' (use "-" where the protocol is "-").
 *
 * Examples: "public@192.0.2.1", "v2c:public@[2001:db8::1]:1161",
 *           "v3:ops:sha:authpass1:aes:privpass1@router1", "v3:ops:-:-:-:-@127.0.0.1:11161".
 * SNMPv1 is not supported (no GETBULK). Secrets given on a command line are visible in ps. */

#define SNMP_POLLER_MAX_DEVICES 64
#define SNMP_DEVICE_NAME_MAX    208 /* USER@[HOST]:PORT with the longest USER and HOST */

enum snmp_version { SNMP_DEVICE_V2C = 2, SNMP_DEVICE_V3 = 3 };
enum snmp_auth_proto {
    SNMP_AUTH_NONE,
    SNMP_AUTH_MD5,
    SNMP_AUTH_SHA,
    SNMP_AUTH_SHA224,
    SNMP_AUTH_SHA256,
    SNMP_AUTH_SHA384,
    SNMP_AUTH_SHA512
};
enum snmp_priv_proto { SNMP_PRIV_NONE, SNMP_PRIV_DES, SNMP_PRIV_AES };

/* One parsed --snmp-device. Holds secrets: wipe it (explicit_bzero) when done. */
typedef struct snmp_device {
    int version; /* enum snmp_version */
    char community[128];
    char user[64];
    int auth_proto; /* enum snmp_auth_proto */
    int priv_proto; /* enum snmp_priv_proto */
    char auth_pass[128], priv_pass[128];
    char host[128]; /* without the brackets of an IPv6 address */
    uint16_t port;
    char name[SNMP_DEVICE_NAME_MAX]; /* secret-free display name: "HOST:PORT" (v2c),
                                        "USER@HOST:PORT" (v3) */
} snmp_device_t;

/* Parses one device spec (syntax above) into *out. 0, or -1 with one line in err saying what
 * is wrong (the line never contains the community or a password). */
int snmp_device_parse(const char *spec, snmp_device_t *out, char *err, size_t errlen);

typedef struct snmp_if { /* one row of ifTable, augmented by ifXTable */
    uint32_t index;      /* ifIndex */
    char name[64];       /* ifName, else ifDescr */
    char descr[128];     /* ifDescr */
    char alias[128];     /* ifAlias */
    uint32_t type;       /* IANAifType: 6 ethernetCsmacd, 24 softwareLoopback, ... */
    uint64_t speed_bps;  /* ifSpeed; ifHighSpeed * 1e6 when ifSpeed saturates or is absent */
    int admin_status, oper_status;  /* 1 up, 2 down, 3 testing, ...; 0 not reported */
    uint64_t in_octets, out_octets; /* ifHCIn/OutOctets, else 32-bit ifIn/OutOctets */
    uint64_t in_ucast_pkts, out_ucast_pkts, in_mcast_pkts, out_mcast_pkts, in_bcast_pkts,
        out_bcast_pkts; /* HC when available, else the 32-bit columns */
    uint64_t in_errors, out_errors, in_discards, out_discards; /* always 32-bit counters */
    int has_hc; /* ifHCIn/OutOctets and ifHCIn/OutUcastPkts were available (64-bit counters) */
} snmp_if_t;

typedef struct snmp_snapshot {         /* one poll of one device */
    char device[SNMP_DEVICE_NAME_MAX]; /* snmp_device_t.name: secret-free */
    char host[128];
    int device_index;     /* position in snmp_poller_config_t.devices */
    int reachable;        /* 0: timeout, authentication failure, send/open error */
    int truncated;        /* reachable but the interface list may be incomplete: agent error,
                             bad OID order, or more than max_ifs interfaces (see error) */
    char error[256];      /* why not reachable or truncated; "" otherwise */
    int64_t polled_at_ms; /* wall clock, start of the poll */
    char sys_name[128];
    char sys_descr[256];
    uint64_t sys_uptime_cs; /* sysUpTime, hundredths of a second */
    int n_ifs;
    snmp_if_t *ifs; /* owned by the snapshot, sorted by index */
} snmp_snapshot_t;

/* Called on the poller thread once per device and round, reachable or not. Takes ownership:
 * the receiver frees the snapshot with snmp_snapshot_free(). Must not block for long and must
 * not call snmp_poller_destroy(). */
typedef void (*snmp_snapshot_fn)(void *ctx, snmp_snapshot_t *snap);

/* Frees a snapshot and its interfaces; accepts NULL and sets *snap to NULL. */
void snmp_snapshot_free(snmp_snapshot_t **snap);

/* Counter increases from `prev` (same interface, earlier poll, agent uptime prev_uptime_cs) to
 * `cur`: fills the counter fields of *delta, the other fields are copied from cur. A 32-bit
 * counter that wrapped once is corrected (the HC-when-available fields are 64-bit when both
 * rows have has_hc). Returns 0, or -1 with the counters zeroed when there is no valid
 * baseline: another ifIndex, the agent restarted (uptime went back), or a counter went back. */
int snmp_if_delta(const snmp_if_t *prev, uint64_t prev_uptime_cs, const snmp_if_t *cur,
                  uint64_t cur_uptime_cs, snmp_if_t *delta);

typedef struct snmp_poller_config {
    const char *devices[SNMP_POLLER_MAX_DEVICES]; /* specs, copied by snmp_poller_new() */
    int n_devices;
    int interval_s; /* between round starts; 0 = 60 */
    int timeout_ms; /* per request; 0 = 1000 */
    int retries;    /* per request; 0 = 1, -1 = none */
    int max_ifs;    /* interfaces kept per device; 0 = 4096 */
    snmp_snapshot_fn deliver;
    void *ctx;
} snmp_poller_config_t;

typedef struct snmp_poller snmp_poller_t;

typedef struct snmp_poller_stats {
    uint64_t rounds;      /* polling rounds run */
    uint64_t rounds_late; /* rounds that overran the interval (the next one started late) */
    uint64_t snapshots;   /* delivered */
    int n_devices;
} snmp_poller_stats_t;

typedef struct snmp_device_stats {
    char device[SNMP_DEVICE_NAME_MAX]; /* display name */
    uint64_t polls;
    uint64_t successes;     /* reachable (truncated or not) */
    uint64_t failures;      /* not reachable */
    uint64_t timeouts;      /* failures that were timeouts (v2c: also a wrong community) */
    uint64_t auth_failures; /* failures from USM (unknown user, wrong password, ...) */
    uint64_t walk_errors;   /* walks stopped by an agent error, bad OID order or the walk cap */
    uint64_t ifs_capped;    /* polls that found more than max_ifs interfaces */
    uint64_t bad_values;    /* values ignored: wrong ASN type, bad index, row not in ifTable */
    int reachable;          /* last poll; -1 before the first */
    int n_ifs;              /* last poll */
    int64_t last_poll_ms;   /* wall clock; 0 before the first */
    char last_error[256];   /* last failure or truncation, kept after recovery */
} snmp_device_stats_t;

/* Parses and validates every device spec (no duplicate names) and starts the polling thread,
 * which polls all devices at once, then every interval_s. Only one poller may exist per
 * process (net-snmp has global state). NULL + one line in err on failure. */
snmp_poller_t *snmp_poller_new(const snmp_poller_config_t *cfg, char *err, size_t errlen);

/* Stops the thread (waiting for at most the request in flight: timeout_ms * (retries + 1)),
 * closes the sessions, shuts net-snmp down and frees the poller. Accepts NULL; sets *self to
 * NULL. */
void snmp_poller_destroy(snmp_poller_t **self);

/* Asks the thread for one round right away (after the one in progress, if any). Never blocks;
 * 0, or -1 when self is NULL. */
int snmp_poller_poll_now(snmp_poller_t *self);

/* Copies the poller's counters. Thread-safe. */
void snmp_poller_get_stats(snmp_poller_t *self, snmp_poller_stats_t *out);

/* Copies the counters of device `device` (0..n_devices-1). Thread-safe; 0, or -1 when out of
 * range. */
int snmp_poller_get_device_stats(snmp_poller_t *self, int device, snmp_device_stats_t *out);

#endif
