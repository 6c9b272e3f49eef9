/* syslog_parse: one syslog message (RFC 3164, RFC 5424, bare JSON line) parsed in place. */
#include "syslog_parse.h"

#include <string.h>
#include <time.h>

/* A window [p, end) over the untrusted message; every read checks p < end first. */
typedef struct text {
    const char *p;
    const char *end;
} text_t;

#define JSON_MAX_DEPTH 64

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Consumes `c` when it is the next byte; returns 1 when it did. */
static int text_eat(text_t *t, char c)
{
    if (t->p < t->end && *t->p == c) {
        t->p++;
        return 1;
    }
    return 0;
}

/* Takes the bytes up to the next SP (or the end) as a token. */
static text_t text_token(text_t *t)
{
    text_t tok = {t->p, t->p};
    while (tok.end < t->end && *tok.end != ' ')
        tok.end++;
    t->p = tok.end;
    return tok;
}

static size_t text_len(text_t t)
{
    return (size_t)(t.end - t.p);
}

static int text_is(text_t t, const char *s)
{
    size_t n = strlen(s);
    return text_len(t) == n && memcmp(t.p, s, n) == 0;
}

/* Copies a token into a fixed field, truncated and NUL-terminated; the NILVALUE "-" gives "". */
static void field_copy(char *dst, size_t cap, text_t tok, int nil_is_empty)
{
    size_t n = text_len(tok);
    if (nil_is_empty && text_is(tok, "-")) n = 0;
    if (n > cap - 1) n = cap - 1;
    memcpy(dst, tok.p, n);
    dst[n] = '\0';
}

/* Reads exactly n decimal digits from p (n bytes must be readable); -1 on a non-digit. */
static int digits_n(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Validates a calendar date and time of day; leap second 60 is allowed. */
static int civil_valid(int y, int mo, int d, int h, int mi, int s)
{
    return mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59 &&
           s <= 60;
}

/* Reads ".frac" (any number of digits, microseconds kept) when present. */
static void parse_frac(text_t *t, int32_t *us)
{
    int32_t v = 0;
    int n = 0;
    *us = 0;
    if (!(t->p + 1 < t->end && t->p[0] == '.' && is_digit((unsigned char)t->p[1]))) return;
    t->p++;
    while (t->p < t->end && is_digit((unsigned char)*t->p)) {
        if (n < 6) {
            v = v * 10 + (*t->p - '0');
            n++;
        }
        t->p++;
    }
    while (n++ < 6)
        v *= 10;
    *us = v;
}

/* Parses a whole token as an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm]; no
 * zone is taken as UTC). Returns 0 with the UTC epoch time, or -1. */
static int parse_rfc3339(text_t tok, int64_t *s_out, int32_t *us_out)
{
    const char *p = tok.p;
    int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
    text_t rest;

    if (text_len(tok) < 19) return -1;
    if (digits_n(p, 4, &y) || p[4] != '-' || digits_n(p + 5, 2, &mo) || p[7] != '-' ||
        digits_n(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') || digits_n(p + 11, 2, &h) ||
        p[13] != ':' || digits_n(p + 14, 2, &mi) || p[16] != ':' || digits_n(p + 17, 2, &s))
        return -1;
    if (!civil_valid(y, mo, d, h, mi, s)) return -1;
    rest.p = p + 19;
    rest.end = tok.end;
    parse_frac(&rest, us_out);
    if (rest.p < rest.end) {
        if ((*rest.p == 'Z' || *rest.p == 'z') && text_len(rest) == 1) {
            rest.p++;
        } else if ((*rest.p == '+' || *rest.p == '-') && text_len(rest) == 6) {
            sign = *rest.p == '-' ? -1 : 1;
            if (digits_n(rest.p + 1, 2, &oh) || rest.p[3] != ':' || digits_n(rest.p + 4, 2, &om) ||
                oh > 23 || om > 59)
                return -1;
            rest.p += 6;
        } else {
            return -1;
        }
    }
    *s_out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s -
             (int64_t)sign * (oh * 3600 + om * 60);
    return 0;
}

/* Month number 1..12 of an English three-letter abbreviation, or 0. */
static int month_of(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(p, names + 3 * i, 3) == 0) return i + 1;
    return 0;
}

/* The year (now's, the one before or after) that puts month/day/time closest to now. */
static int64_t closest_year_time(int64_t now_s, int mo, int d, int h, int mi, int s, int *year)
{
    struct tm tm;
    time_t now = (time_t)now_s;
    int64_t best = 0, best_diff = -1;

    if (!gmtime_r(&now, &tm)) tm.tm_year = 70;
    for (int y = tm.tm_year + 1900 - 1; y <= tm.tm_year + 1900 + 1; y++) {
        if (!civil_valid(y, mo, d, h, mi, s)) continue;
        int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
        int64_t diff = t > now_s ? t - now_s : now_s - t;
        if (best_diff < 0 || diff < best_diff) {
            best = t;
            best_diff = diff;
            *year = y;
        }
    }
    return best_diff < 0 ? -1 : best;
}

/* Parses an RFC 3164 timestamp "Mmm dd hh:mm:ss" (day space-padded or not, optional ".frac",
 * optional "yyyy " before the time) followed by SP or the end. Returns 0 and fills out's
 * timestamp fields, or -1 with t unchanged. */
static int parse_bsd_time(text_t *t, int64_t now_s, syslog_msg_t *out)
{
    text_t c = *t;
    int mo, d, h, mi, s, y = 0, year = 0;
    int32_t us;
    int64_t when;

    if (text_len(c) < 14 || !(mo = month_of(c.p)) || c.p[3] != ' ') return -1;
    c.p += 4;
    if (c.p[0] == ' ') c.p++; /* "Nov  7" */
    if (is_digit((unsigned char)c.p[0]) && is_digit((unsigned char)c.p[1])) {
        d = (c.p[0] - '0') * 10 + (c.p[1] - '0');
        c.p += 2;
    } else if (is_digit((unsigned char)c.p[0])) {
        d = c.p[0] - '0';
        c.p += 1;
    } else {
        return -1;
    }
    if (!text_eat(&c, ' ')) return -1;
    if (text_len(c) >= 5 && digits_n(c.p, 4, &y) == 0 && c.p[4] == ' ') c.p += 5; /* "yyyy " */
    if (text_len(c) < 8 || digits_n(c.p, 2, &h) || c.p[2] != ':' || digits_n(c.p + 3, 2, &mi) ||
        c.p[5] != ':' || digits_n(c.p + 6, 2, &s))
        return -1;
    c.p += 8;
    parse_frac(&c, &us);
    if (c.p < c.end && *c.p != ' ') return -1;
    if (y) {
        if (!civil_valid(y, mo, d, h, mi, s)) return -1;
        when = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    } else {
        when = closest_year_time(now_s, mo, d, h, mi, s, &year);
        if (when < 0) return -1; /* e.g. Feb 30 */
    }
    field_copy(out->timestamp, sizeof out->timestamp, (text_t){t->p, c.p}, 0);
    out->ts_s = when;
    out->ts_us = us;
    *t = c;
    return 0;
}

/* Parses an RFC 3339 timestamp token followed by SP or the end; 0 or -1 (t unchanged). */
static int parse_iso_time(text_t *t, syslog_msg_t *out)
{
    text_t c = *t, tok = text_token(&c);
    int64_t s;
    int32_t us;

    if (parse_rfc3339(tok, &s, &us) != 0) return -1;
    field_copy(out->timestamp, sizeof out->timestamp, tok, 0);
    out->ts_s = s;
    out->ts_us = us;
    *t = c;
    return 0;
}

/* Skips one SD-ELEMENT "[SD-ID *(SP PARAM)]", honouring quoted values with \" \\ \] escapes.
 * Returns 0 with t past it, or -1 (t unchanged) when it is malformed. */
static int skip_sd_element(text_t *t)
{
    const char *p = t->p, *id;
    int in_quote = 0;

    if (p >= t->end || *p != '[') return -1;
    id = ++p;
    while (p < t->end && *p != ' ' && *p != ']' && *p != '=' && *p != '"')
        p++;
    if (p == id) return -1; /* SD-ID is required */
    for (;;) {
        if (p >= t->end) return -1;
        char ch = *p++;
        if (in_quote) {
            if (ch == '\\') {
                if (p >= t->end) return -1;
                p++;
            } else if (ch == '"') {
                in_quote = 0;
            }
        } else if (ch == '"') {
            in_quote = 1;
        } else if (ch == ']') {
            break;
        }
    }
    t->p = p;
    return 0;
}

/* Skips RFC 5424 structured data: one or more SD-ELEMENTs. 0, or -1 (t unchanged). */
static int skip_sd(text_t *t)
{
    text_t c = *t;
    if (skip_sd_element(&c) != 0) return -1;
    while (c.p < c.end && *c.p == '[')
        if (skip_sd_element(&c) != 0) return -1;
    *t = c;
    return 0;
}

/* Points out->msg at the rest of t, without a leading UTF-8 BOM. */
static void set_msg(text_t t, syslog_msg_t *out)
{
    if (text_len(t) >= 3 && memcmp(t.p, "\xEF\xBB\xBF", 3) == 0) t.p += 3;
    out->msg = t.p;
    out->msg_len = text_len(t);
}

/* RFC 5424 after "VERSION SP": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG].
 * Lenient (strict = 0): missing trailing fields stay empty and text that is not structured
 * data starts the MSG. Strict (a line without PRI): a valid timestamp, every header field and
 * SD are required. 0 or -1. */
static int parse_5424(text_t *t, syslog_msg_t *out, int strict)
{
    char *fields[4] = {out->hostname, out->app_name, out->procid, out->msgid};
    size_t caps[4] = {sizeof out->hostname, sizeof out->app_name, sizeof out->procid,
                      sizeof out->msgid};
    text_t tok = text_token(t);

    if (text_is(tok, "-") && !strict) {
        out->timestamp[0] = '\0';
    } else if (text_len(tok) >= 5 && digits_n(tok.p, 4, &(int){0}) == 0 && tok.p[4] == '-') {
        field_copy(out->timestamp, sizeof out->timestamp, tok, 0);
        if (parse_rfc3339(tok, &out->ts_s, &out->ts_us) != 0) {
            if (strict) return -1;
            out->ts_s = 0;
            out->ts_us = 0;
        }
    } else {
        return -1;
    }
    out->format = SYSLOG_FMT_RFC5424;
    for (int i = 0; i < 4; i++) {
        if (!text_eat(t, ' ')) return strict ? -1 : 0;
        field_copy(fields[i], caps[i], text_token(t), 1);
    }
    if (!text_eat(t, ' ')) return strict ? -1 : 0;
    if (t->p < t->end && *t->p == '-' && (t->p + 1 == t->end || t->p[1] == ' ')) {
        t->p++;
    } else {
        text_t sd = *t;
        if (skip_sd(&sd) == 0 && (sd.p == sd.end || *sd.p == ' ')) {
            out->sd = t->p;
            out->sd_len = (size_t)(sd.p - t->p);
            *t = sd;
        } else if (strict) {
            return -1;
        } else {
            set_msg(*t, out); /* no structured data: the rest is the message */
            return 0;
        }
    }
    if (text_eat(t, ' ')) set_msg(*t, out);
    return 0;
}

/* RFC 3164 TAG: name up to SP '[' ':' , optional "[PID]", optional ':' (required when
 * need_colon), then one optional SP. 0 with t past it, or -1 (t unchanged). */
static int parse_tag(text_t *t, syslog_msg_t *out, int need_colon)
{
    const char *p = t->p, *end = t->end;
    text_t name = {p, p}, pid = {p, p};
    int colon;

    while (p < end && *p != ' ' && *p != '[' && *p != ':')
        p++;
    name.end = p;
    if (name.end == name.p) return -1;
    if (p < end && *p == '[') {
        pid.p = pid.end = ++p;
        while (p < end && *p != ']' && *p != ' ')
            p++;
        if (p >= end || *p != ']') return -1;
        pid.end = p++;
    }
    colon = p < end && *p == ':';
    if (colon) p++;
    if (need_colon && !colon) return -1;
    if (p < end && *p != ' ') return -1;
    field_copy(out->app_name, sizeof out->app_name, name, 0);
    field_copy(out->procid, sizeof out->procid, pid, 0);
    if (p < end) p++; /* the SP */
    t->p = p;
    return 0;
}

/* A token that is a TAG rather than a HOSTNAME: it has a "[PID]" or ends with ':'. */
static int looks_like_tag(text_t tok)
{
    return text_len(tok) > 0 && (memchr(tok.p, '[', text_len(tok)) || tok.end[-1] == ':');
}

/* RFC 3164 after the PRI (or a bare line that starts with a timestamp): [TIMESTAMP SP
 * [HOSTNAME SP]] [TAG] MSG. Never fails: without a timestamp and a "tag:" it is all MSG. */
static void parse_3164(text_t *t, int64_t now_s, syslog_msg_t *out)
{
    out->format = SYSLOG_FMT_RFC3164;
    if (parse_bsd_time(t, now_s, out) == 0 || parse_iso_time(t, out) == 0) {
        if (!text_eat(t, ' ')) return;
        text_t peek = *t, tok = text_token(&peek);
        if (!looks_like_tag(tok)) {
            field_copy(out->hostname, sizeof out->hostname, tok, 0);
            *t = peek;
            if (!text_eat(t, ' ')) return;
        }
        parse_tag(t, out, 0);
    } else {
        parse_tag(t, out, 1);
    }
    set_msg(*t, out);
}

/* "<PRI>": 1..3 digits, value 0..191. 0 with t past it, or -1. */
static int parse_pri(text_t *t, int *pri)
{
    const char *p = t->p;
    int v = 0, n = 0;

    if (p >= t->end || *p != '<') return -1;
    p++;
    while (p < t->end && is_digit((unsigned char)*p) && n < 3) {
        v = v * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n == 0 || p >= t->end || *p != '>' || v > 191) return -1;
    t->p = p + 1;
    *pri = v;
    return 0;
}

/* RFC 5424 "VERSION SP": 1..3 digits, the first non-zero. 0 with t past it, or -1. */
static int parse_version(text_t *t)
{
    const char *p = t->p;
    int n = 0;

    if (p >= t->end || *p < '1' || *p > '9') return -1;
    while (p < t->end && is_digit((unsigned char)*p) && n < 4) {
        p++;
        n++;
    }
    if (n > 3 || p >= t->end || *p != ' ') return -1;
    t->p = p + 1;
    return 0;
}

int syslog_eve_time(const char *s, size_t len, syslog_eve_time_t *out)
{
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    int y, mo, d, h, mi, sec;
    size_t p = 19, k = 0;
    int64_t frac = 0;

    /* "YYYY-MM-DDTHH:MM:SS", not followed by a digit */
    if (!s || !out || len < 19 || digits_n(s, 4, &y) || s[4] != '-' || digits_n(s + 5, 2, &mo) ||
        s[7] != '-' || digits_n(s + 8, 2, &d) || s[10] != 'T' || digits_n(s + 11, 2, &h) ||
        s[13] != ':' || digits_n(s + 14, 2, &mi) || s[16] != ':' || digits_n(s + 17, 2, &sec) ||
        (len > 19 && is_digit((unsigned char)s[19])))
        return -1;
    /* no calendar check, and suricata.lua's days_from_civil arithmetic to the letter: the
     * general parser takes "2011-45-99T99:99:99" arithmetically too */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400, yoe = yy - era * 400;
    int64_t doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec;
    if (p < len && s[p] == '.') {
        p++;
        while (p + k < len && is_digit((unsigned char)s[p + k]))
            k++;
        if (k > 15) return -1; /* past what v / 10^k reproduces exactly: the general form */
        for (size_t i = 0; i < k; i++)
            frac = frac * 10 + (s[p + i] - '0');
        p += k;
    }
    /* the zone: exactly "+HHMM" or "+HH:MM" after the fraction */
    int64_t off = -1;
    const char *z = s + p;
    size_t zl = len - p;
    if (zl >= 3 && (z[0] == '+' || z[0] == '-') && is_digit((unsigned char)z[1]) &&
        is_digit((unsigned char)z[2])) {
        if (zl == 5 && is_digit((unsigned char)z[3]) && is_digit((unsigned char)z[4]))
            off =
                (z[1] - '0') * 36000 + (z[2] - '0') * 3600 + (z[3] - '0') * 600 + (z[4] - '0') * 60;
        else if (zl == 6 && z[3] == ':' && is_digit((unsigned char)z[4]) &&
                 is_digit((unsigned char)z[5]))
            off =
                (z[1] - '0') * 36000 + (z[2] - '0') * 3600 + (z[4] - '0') * 600 + (z[5] - '0') * 60;
    }
    out->is_float = k > 0;
    out->secs = t;
    out->value = 0;
    if (out->is_float) {
        /* frac < 10^15 < 2^53 and 10^k are exact doubles: one correctly rounded division */
        double v = (double)t + (double)frac / pow10[k];
        if (off >= 0) v = z[0] == '+' ? v - (double)off : v + (double)off;
        out->value = v;
    }
    if (off >= 0) out->secs = z[0] == '+' ? t - off : t + off;
    return 0;
}

/* Skips JSON whitespace. */
static const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string starting at the opening quote; returns the byte after it, or NULL. */
static const char *json_string(const char *p, const char *end)
{
    p++;
    while (p < end) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"') return p;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (p >= end) return NULL;
            c = (unsigned char)*p++;
            if (c == 'u') {
                if (end - p < 4) return NULL;
                for (int i = 0; i < 4; i++)
                    if (!is_hex((unsigned char)p[i])) return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return NULL;
            }
        }
    }
    return NULL;
}

/* A JSON number; returns the byte after it, or NULL. */
static const char *json_number(const char *p, const char *end)
{
    if (p < end && *p == '-') p++;
    if (p >= end || !is_digit((unsigned char)*p)) return NULL;
    if (*p == '0')
        p++;
    else
        while (p < end && is_digit((unsigned char)*p))
            p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit((unsigned char)*p)) return NULL;
        while (p < end && is_digit((unsigned char)*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit((unsigned char)*p)) return NULL;
        while (p < end && is_digit((unsigned char)*p))
            p++;
    }
    return p;
}

/* A scalar JSON value (string, number, true, false, null); the byte after it, or NULL. */
static const char *json_scalar(const char *p, const char *end)
{
    static const char *const words[] = {"true", "false", "null"};
    if (*p == '"') return json_string(p, end);
    if (*p == '-' || is_digit((unsigned char)*p)) return json_number(p, end);
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0) return p + n;
    }
    return NULL;
}

int syslog_json_valid(const char *buf, size_t len)
{
    char stack[JSON_MAX_DEPTH];
    int depth = 0;
    const char *p, *end;

    if (!buf) return 0;
    p = buf;
    end = buf + len;
    for (;;) {
        /* a value is expected at p */
        p = json_ws(p, end);
        if (p >= end) return 0;
        if (*p == '{' || *p == '[') {
            if (depth == JSON_MAX_DEPTH) return 0;
            stack[depth++] = *p == '{' ? '}' : ']';
            p = json_ws(p + 1, end);
            if (p < end && *p == stack[depth - 1]) {
                p++;
                depth--;
            } else if (stack[depth - 1] == '}') {
                goto key;
            } else {
                continue;
            }
        } else if (!(p = json_scalar(p, end))) {
            return 0;
        }
        /* after a value: close containers, or a comma for the next member */
        for (;;) {
            p = json_ws(p, end);
            if (depth == 0) return p == end;
            if (p >= end) return 0;
            if (*p == stack[depth - 1]) {
                p++;
                depth--;
                continue;
            }
            if (*p != ',') return 0;
            p = json_ws(p + 1, end);
            break;
        }
        if (stack[depth - 1] == ']') continue;
    key:
        if (p >= end || *p != '"' || !(p = json_string(p, end))) return 0;
        p = json_ws(p, end);
        if (p >= end || *p != ':') return 0;
        p++;
    }
}

long syslog_sd_param(const char *sd, size_t sd_len, const char *id, const char *name, char *out,
                     size_t cap)
{
    text_t t = {sd, sd ? sd + sd_len : sd};
    size_t name_len = name ? strlen(name) : 0;

    if (out && cap) out[0] = '\0';
    if (!sd || !name) return -1;
    while (t.p < t.end && *t.p == '[') {
        text_t elem = t, sdid;
        if (skip_sd_element(&elem) != 0) return -1; /* validates the element's quoting */
        t.p++;
        sdid.p = t.p;
        while (t.p < t.end && *t.p != ' ' && *t.p != ']')
            t.p++;
        sdid.end = t.p;
        int wanted = !id || text_is(sdid, id);
        /* SD-PARAMs: SP NAME="VALUE" */
        while (t.p < t.end && *t.p == ' ') {
            text_t pname;
            t.p++;
            pname.p = t.p;
            while (t.p < t.end && *t.p != '=' && *t.p != ']' && *t.p != ' ')
                t.p++;
            pname.end = t.p;
            if (!text_eat(&t, '=') || !text_eat(&t, '"')) return -1;
            int match =
                wanted && text_len(pname) == name_len && memcmp(pname.p, name, name_len) == 0;
            long n = 0;
            while (t.p < t.end && *t.p != '"') {
                char c = *t.p++;
                if (c == '\\' && t.p < t.end && (*t.p == '"' || *t.p == '\\' || *t.p == ']'))
                    c = *t.p++;
                if (match && out && (size_t)n + 1 < cap) {
                    out[n] = c;
                    out[n + 1] = '\0';
                }
                n++;
            }
            if (!text_eat(&t, '"')) return -1;
            if (match) return n;
        }
        t.p = elem.p; /* the next element */
    }
    return -1;
}

/* Clears everything but the PRI; sd and msg point at `base` with length 0. */
static void msg_reset(syslog_msg_t *out, const char *base)
{
    out->format = SYSLOG_FMT_UNKNOWN;
    out->ts_s = 0;
    out->ts_us = 0;
    out->timestamp[0] = out->hostname[0] = out->app_name[0] = '\0';
    out->procid[0] = out->msgid[0] = '\0';
    out->sd = out->msg = base;
    out->sd_len = out->msg_len = 0;
}

int syslog_parse_at(const char *buf, size_t len, int64_t now_s, syslog_msg_t *out)
{
    text_t t, c;
    int pri;

    if (!out) return -1;
    out->pri = out->facility = out->severity = -1;
    msg_reset(out, buf ? buf : "");
    if (!buf) return -1;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == '\0'))
        len--;
    t.p = buf;
    t.end = buf + len;
    if (len == 0) return -1;

    if (*t.p == '<') {
        if (parse_pri(&t, &pri) != 0) return -1;
        out->pri = pri;
        out->facility = pri >> 3;
        out->severity = pri & 7;
        c = t;
        if (parse_version(&c) == 0 && parse_5424(&c, out, 0) == 0) return 0;
        msg_reset(out, buf);
        parse_3164(&t, now_s, out);
        return 0;
    }

    /* no PRI: a JSON object, or a line that starts with a timestamp */
    c = t;
    if (text_len(c) >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0) c.p += 3;
    c.p = json_ws(c.p, c.end);
    if (c.p < c.end && *c.p == '{') {
        if (!syslog_json_valid(c.p, text_len(c))) return -1;
        out->format = SYSLOG_FMT_JSON;
        out->msg = c.p;
        out->msg_len = text_len(c);
        return 0;
    }
    c = t;
    if (parse_5424(&c, out, 1) == 0) return 0; /* RFC 5424 header without PRI and VERSION */
    msg_reset(out, buf);
    c = t;
    if (parse_bsd_time(&c, now_s, out) != 0 && parse_iso_time(&c, out) != 0) return -1;
    parse_3164(&t, now_s, out);
    return 0;
}

int syslog_parse(const char *buf, size_t len, syslog_msg_t *out)
{
    return syslog_parse_at(buf, len, (int64_t)time(NULL), out);
}
