/* syslog_parse: a pure parser for one syslog message: RFC 3164, RFC 5424 and bare JSON lines. */
#ifndef ZFLOW_SYSLOG_PARSE_H
#define ZFLOW_SYSLOG_PARSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum syslog_format {
    SYSLOG_FMT_UNKNOWN = 0,
    SYSLOG_FMT_RFC3164,
    SYSLOG_FMT_RFC5424,
    SYSLOG_FMT_JSON
} syslog_format_t;

/* One parsed message. The fixed fields are NUL-terminated copies (truncated when longer, "-"
 * gives ""); `sd` and `msg` point into the parsed buffer and live as long as it does. */
typedef struct syslog_msg {
    syslog_format_t format;
    int pri, facility, severity; /* -1 when there is no PRI */
    int64_t ts_s;                /* parsed timestamp (UTC epoch), 0 when absent/unparseable */
    int32_t ts_us;               /* microseconds of ts_s */
    char timestamp[64];          /* as sent */
    char hostname[256], app_name[64], procid[129], msgid[33];
    const char *sd; /* RFC 5424 structured data, raw text ("-" -> len 0) */
    size_t sd_len;
    const char *msg; /* the message body (UTF-8 BOM removed), never NULL */
    size_t msg_len;
} syslog_msg_t;

/* Parses one message (without its framing; trailing CR/LF/NUL are ignored). Returns 0, or -1
 * when the bytes are not a syslog message at all: no valid PRI, no leading timestamp and no
 * valid JSON object. Never reads outside buf[0..len); allocates nothing. An RFC 3164 timestamp
 * has no year nor zone: it is taken as UTC, in the year that puts it nearest to the current
 * time. */
int syslog_parse(const char *buf, size_t len, syslog_msg_t *out);

/* As syslog_parse(), with the current time (UTC epoch seconds) passed in: it only serves to
 * pick the year of an RFC 3164 timestamp. */
int syslog_parse_at(const char *buf, size_t len, int64_t now_s, syslog_msg_t *out);

/* A Suricata Eve timestamp read by syslog_eve_time(). */
typedef struct syslog_eve_time {
    int64_t secs; /* whole seconds since the epoch, UTC */
    int is_float; /* 1: a fraction was given; value holds secs + fraction */
    double value; /* valid when is_float */
} syslog_eve_time_t;

/* Reads a timestamp in the fixed layout Suricata writes in Eve: "YYYY-MM-DDTHH:MM:SS", an
 * optional ".FRACTION" and a zone "+HHMM", "+HH:MM" (or "-") ending the text; any other
 * ending ("Z", none, anything) is UTC. The value is computed exactly as suricata.lua's
 * general parser does: integer seconds (the zone's offset applied to them), or, with a
 * fraction, the double (double)secs + 0.FRACTION (correctly rounded) minus the offset. Returns
 * 0, or -1 when s[0..len) has another layout (a digit after the seconds included). */
int syslog_eve_time(const char *s, size_t len, syslog_eve_time_t *out);

/* Returns 1 when buf[0..len) is exactly one valid JSON value (surrounding whitespace allowed,
 * nesting at most 64 deep), else 0. */
int syslog_json_valid(const char *buf, size_t len);

/* Looks up PARAM-NAME `name` in the SD-ELEMENT `id` (NULL: the first element that has it) of
 * RFC 5424 structured data (syslog_msg_t.sd) and copies its value, unescaped (\" \\ \]) and
 * NUL-terminated, into out[0..cap) (truncated when longer). Returns the full unescaped length,
 * or -1 when absent or the structured data is malformed. */
long syslog_sd_param(const char *sd, size_t sd_len, const char *id, const char *name, char *out,
                     size_t cap);

#endif
