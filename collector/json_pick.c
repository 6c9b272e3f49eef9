/* json_pick: see json_pick.h. yajl parses; this file only follows the key path. */
#include "json_pick.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define PATH_MAX_LEN 255

typedef struct {
    const char *const *paths;
    size_t path_len[JSON_PICK_MAX_PATHS];
    int n;
    json_pick_cb cb;
    void *ctx;
    int depth;                              /* open containers; deeper ones than MAX_DEPTH too */
    size_t prefix[JSON_PICK_MAX_DEPTH + 1]; /* path length of each open object */
    unsigned char live[JSON_PICK_MAX_DEPTH + 1]; /* an object a path may lead into */
    size_t cur; /* path length of the current member; > PATH_MAX_LEN: none can match */
    int stopped;
    char buf[PATH_MAX_LEN + 2];
} picker_t;

/* The container at the top is an object some path leads into. */
static int top_live(const picker_t *p)
{
    return p->depth >= 1 && p->depth <= JSON_PICK_MAX_DEPTH && p->live[p->depth];
}

/* The current member's path is one of the requested ones. */
static int matched(const picker_t *p)
{
    if (!top_live(p) || p->cur > PATH_MAX_LEN) return 0;
    for (int i = 0; i < p->n; i++)
        if (p->path_len[i] == p->cur && memcmp(p->paths[i], p->buf, p->cur) == 0) return 1;
    return 0;
}

static int report(picker_t *p, const json_pick_value_t *v)
{
    if (!matched(p)) return 1;
    for (int i = 0; i < p->n; i++) {
        if (p->path_len[i] != p->cur || memcmp(p->paths[i], p->buf, p->cur) != 0) continue;
        if (p->cb(p->ctx, i, v) != 0) {
            p->stopped = 1;
            return 0;
        }
    }
    return 1;
}

static int on_null(void *ctx)
{
    (void)ctx;
    return 1;
}

static int on_bool(void *ctx, int b)
{
    json_pick_value_t v = {.type = JSON_PICK_BOOL, .i = b != 0};
    return report(ctx, &v);
}

static int on_number(void *ctx, const char *s, size_t len)
{
    picker_t *p = ctx;
    if (!matched(p)) return 1; /* converted only when reported */
    char small[64], *text = small;
    if (len >= sizeof small && !(text = malloc(len + 1))) return 1; /* not reported */
    memcpy(text, s, len);
    text[len] = '\0';
    json_pick_value_t v = {.type = JSON_PICK_INT};
    char *end;
    errno = 0;
    if (!strpbrk(text, ".eE")) {
        long long i = strtoll(text, &end, 10);
        if (errno == 0 && *end == '\0')
            v.i = i;
        else
            v.type = JSON_PICK_DOUBLE;
    } else {
        v.type = JSON_PICK_DOUBLE;
    }
    if (v.type == JSON_PICK_DOUBLE) v.d = strtod(text, NULL);
    if (text != small) free(text);
    return report(p, &v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    json_pick_value_t v = {.type = JSON_PICK_STRING, .s = (const char *)s, .len = len};
    return report(ctx, &v);
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    picker_t *p = ctx;
    if (!top_live(p)) return 1;
    size_t base = p->prefix[p->depth], sep = base > 0;
    if (base + sep + len > PATH_MAX_LEN) {
        p->cur = PATH_MAX_LEN + 1;
        return 1;
    }
    if (sep) p->buf[base] = '.';
    memcpy(p->buf + base + sep, key, len);
    p->cur = base + sep + len;
    return 1;
}

/* A container opens: an object is live when it is the top-level one, or a live object's member
 * whose path is a proper prefix of a requested one. Arrays never are. */
static void open_container(picker_t *p, int is_map)
{
    int parent_live = top_live(p) && p->cur <= PATH_MAX_LEN, root = p->depth == 0;
    p->depth++;
    if (p->depth > JSON_PICK_MAX_DEPTH) return;
    int live = 0;
    size_t pre = root ? 0 : p->cur;
    if (is_map && root) {
        live = 1;
    } else if (is_map && parent_live) {
        for (int i = 0; i < p->n && !live; i++)
            live = p->path_len[i] > pre && p->paths[i][pre] == '.' &&
                   memcmp(p->paths[i], p->buf, pre) == 0;
    }
    p->live[p->depth] = (unsigned char)live;
    p->prefix[p->depth] = pre;
}

static int on_start_map(void *ctx)
{
    open_container(ctx, 1);
    return 1;
}

static int on_start_array(void *ctx)
{
    open_container(ctx, 0);
    return 1;
}

static int on_end(void *ctx)
{
    picker_t *p = ctx;
    p->depth--;
    p->cur = PATH_MAX_LEN + 1; /* until the next key of the enclosing object */
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

int json_pick(const char *text, size_t len, const char *const *paths, int n, json_pick_cb cb,
              void *ctx, char *err, size_t errlen)
{
    if (n < 0 || n > JSON_PICK_MAX_PATHS) {
        snprintf(err, errlen, "between 0 and %d paths", JSON_PICK_MAX_PATHS);
        return -1;
    }
    picker_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->paths = paths;
    p->n = n;
    p->cb = cb;
    p->ctx = ctx;
    p->cur = PATH_MAX_LEN + 1;
    for (int i = 0; i < n; i++)
        p->path_len[i] = strlen(paths[i]);
    int rc = -1;
    yajl_handle h = yajl_alloc(&callbacks, NULL, p);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok) st = yajl_complete_parse(h);
    if (st == yajl_status_ok) {
        rc = 0;
    } else if (p->stopped) {
        snprintf(err, errlen, "stopped");
    } else {
        unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
        snprintf(err, errlen, "%s", msg ? (const char *)msg : "invalid JSON");
        /* yajl's message may end in a newline: one line */
        err[strcspn(err, "\r\n")] = '\0';
        if (msg) yajl_free_error(h, msg);
    }
    yajl_free(h);
out:
    free(p);
    return rc;
}
