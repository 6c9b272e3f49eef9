/* alert: one alert raised by a user script, as stored in <data-dir>/alerts.db. */
#ifndef ZFLOW_ALERT_H
#define ZFLOW_ALERT_H

#include <stdint.h>

/* Severities follow ntopng's numbering. */
enum alert_severity {
    ALERT_SEVERITY_DEBUG = 1,
    ALERT_SEVERITY_INFO = 2,
    ALERT_SEVERITY_NOTICE = 3,
    ALERT_SEVERITY_WARNING = 4,
    ALERT_SEVERITY_ERROR = 5,
    ALERT_SEVERITY_CRITICAL = 6,
    ALERT_SEVERITY_EMERGENCY = 7,
};

/* How an alert lives: a one-shot alert is stored once; an engaged alert is stored when it is
 * triggered and updated (released_at) when released. */
enum alert_kind {
    ALERT_ONESHOT = 0,
    ALERT_ENGAGED = 1,
};

/* Strings are borrowed for the duration of the call that takes the alert. */
typedef struct alert {
    int64_t tstamp;            /* seconds since the epoch */
    const char *entity;        /* "flow", "interface", "network", "system", "snmp_interface",
                                  "host", "syslog" */
    const char *entity_value;  /* e.g. flow "1:abc=" community id / "10.0.0.0/8" / "eth0" */
    const char *probe_id;      /* "" for local entities */
    const char *interface;     /* interface name, "" when not applicable */
    const char *alert_type;    /* the alert's key, e.g. "blacklisted_host" */
    int severity;              /* enum alert_severity */
    int score;
    const char *script_key;    /* the script that raised it */
    const char *subdir;        /* the script's subdir ("flow", "interface", ...) */
    const char *message;       /* human-readable one line */
    const char *json;          /* extra details as a JSON object text, "{}" when none */
    int kind;                  /* enum alert_kind */
} alert_t;

#endif
