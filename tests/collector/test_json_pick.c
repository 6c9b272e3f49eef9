/* test_json_pick: json_pick() (collector/json_pick.c): values at key paths of nested objects,
 * what is not addressable (array members, null, too deep), invalid and truncated JSON, the
 * callback stopping the parse, and the stats events of $ZFLOW_SHARED_DIR/eve/curated.eve.json
 * against the values Suricata wrote. */
#include "check.h"
#include "json_pick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 16

typedef struct {
    int n;
    int index[MAX_SEEN];
    json_pick_value_t v[MAX_SEEN];
    char str[MAX_SEEN][64];
    int stop_after; /* 0: never */
} seen_t;

static int collect(void *ctx, int index, const json_pick_value_t *v)
{
    seen_t *s = ctx;
    if (s->n < MAX_SEEN) {
        s->index[s->n] = index;
        s->v[s->n] = *v;
        if (v->type == JSON_PICK_STRING)
            snprintf(s->str[s->n], sizeof s->str[0], "%.*s", (int)v->len, v->s);
        s->n++;
    }
    return s->stop_after && s->n >= s->stop_after;
}

static int pick(const char *text, const char *const *paths, int n, seen_t *s, char *err)
{
    memset(s, 0, sizeof *s);
    return json_pick(text, strlen(text), paths, n, collect, s, err, 160);
}

/* The value seen for path index i: its position in s, or -1 (fails a check when absent). */
static int find(const seen_t *s, int i)
{
    for (int k = 0; k < s->n; k++)
        if (s->index[k] == i) return k;
    return -1;
}

static void test_values(void)
{
    static const char *const paths[] = {"a", "b.c", "b.d.e", "b.s", "b.t",     "neg",   "big",
                                        "f", "nil", "arr.x", "x.y", "b.d.e.z", "dot.k", "b.d"};
    const char *text =
        "{\"a\": 1, \"b\": {\"c\": 2.5, \"d\": {\"e\": -7}, \"s\": \"q\\\"\\u00e9\\n\","
        " \"t\": true}, \"neg\": -9223372036854775808, \"big\": 123456789012345678901,"
        " \"f\": 1e3, \"nil\": null, \"arr\": [{\"x\": 5}], \"x\": [1, 2],"
        " \"dot.k\": 4, \"dot\": {\"k\": 3}}";
    seen_t s;
    char err[160];
    int k;
    CHECK_EQ(pick(text, paths, 14, &s, err), 0);
    CHECK((k = find(&s, 0)) >= 0 && s.v[k].type == JSON_PICK_INT && s.v[k].i == 1);
    CHECK((k = find(&s, 1)) >= 0 && s.v[k].type == JSON_PICK_DOUBLE && s.v[k].d == 2.5);
    CHECK((k = find(&s, 2)) >= 0 && s.v[k].type == JSON_PICK_INT && s.v[k].i == -7);
    CHECK((k = find(&s, 3)) >= 0 && s.v[k].type == JSON_PICK_STRING);
    if (k >= 0) CHECK_STREQ(s.str[k], "q\"\xc3\xa9\n"); /* unescaped, UTF-8 */
    CHECK((k = find(&s, 4)) >= 0 && s.v[k].type == JSON_PICK_BOOL && s.v[k].i == 1);
    CHECK((k = find(&s, 5)) >= 0 && s.v[k].type == JSON_PICK_INT && s.v[k].i == INT64_MIN);
    CHECK((k = find(&s, 6)) >= 0 && s.v[k].type == JSON_PICK_DOUBLE && s.v[k].d > 1.2e20);
    CHECK((k = find(&s, 7)) >= 0 && s.v[k].type == JSON_PICK_DOUBLE && s.v[k].d == 1000.0);
    CHECK_EQ(find(&s, 8), -1);  /* null: not reported */
    CHECK_EQ(find(&s, 9), -1);  /* a member of an array's object: not addressable */
    CHECK_EQ(find(&s, 10), -1); /* an array: not a scalar */
    CHECK_EQ(find(&s, 11), -1); /* below a scalar */
    CHECK_EQ(find(&s, 13), -1); /* an object: not a scalar */
    /* "dot.k" names both the member "dot.k" and dot's member k: both are reported */
    int dots = 0;
    for (int i = 0; i < s.n; i++)
        dots += s.index[i] == 12;
    CHECK_EQ(dots, 2);
    CHECK_EQ(s.n, 10);

    /* no path: a validity check */
    CHECK_EQ(pick(text, paths, 0, &s, err), 0);
    CHECK_EQ(s.n, 0);
    /* a duplicate member is reported each time */
    static const char *const one[] = {"k"};
    CHECK_EQ(pick("{\"k\":1,\"k\":2}", one, 1, &s, err), 0);
    CHECK_EQ(s.n, 2);
    /* the same key deeper down, or in a sibling, is another path */
    static const char *const flow[] = {"stats.flow.active"};
    CHECK_EQ(pick("{\"stats\":{\"app\":{\"flow\":{\"active\":1}},\"flow\":{\"active\":2},"
                  "\"flows\":{\"active\":3}},\"flow\":{\"active\":4}}",
                  flow, 1, &s, err),
             0);
    CHECK(s.n == 1 && s.v[0].i == 2);
    /* a top-level scalar or array: valid, nothing to pick */
    CHECK_EQ(pick("[{\"k\":1}]", one, 1, &s, err), 0);
    CHECK_EQ(s.n, 0);
    CHECK_EQ(pick("42", one, 1, &s, err), 0);
    CHECK_EQ(s.n, 0);
}

static void test_bad(void)
{
    static const char *const paths[] = {"a.b", "c"};
    static const char *const bad[] = {
        "",           "{",    "{\"a\":",     "{\"a\":{\"b\":1}",    "{\"a\" 1}", "{a:1}",
        "{\"a\":1,}", "[1,]", "{\"c\":tru}", "{\"c\":1} {\"c\":2}", "\x01\xff",  "{\"c\":\"\xff\"}",
        "{\"c\":01}", "nul",
    };
    seen_t s;
    char err[160];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        CHECK_EQ(pick(bad[i], paths, 2, &s, err), -1);
        CHECK(err[0] != '\0' && !strchr(err, '\n'));
    }
    /* every proper prefix of a valid document is invalid; none crashes */
    const char *doc = "{\"a\":{\"b\":[1,{\"c\":\"x\\u0041\"}],\"d\":-1.5e-3},\"c\":false}";
    size_t len = strlen(doc);
    for (size_t n = 0; n < len; n++) {
        memset(&s, 0, sizeof s);
        CHECK_EQ(json_pick(doc, n, paths, 2, collect, &s, err, sizeof err), -1);
    }
    CHECK_EQ(pick(doc, paths, 2, &s, err), 0);
    CHECK(s.n == 1 && s.v[0].type == JSON_PICK_BOOL && s.v[0].i == 0);
    /* too many paths */
    const char *many[JSON_PICK_MAX_PATHS + 1];
    for (int i = 0; i <= JSON_PICK_MAX_PATHS; i++)
        many[i] = "c";
    CHECK_EQ(pick("{}", many, JSON_PICK_MAX_PATHS + 1, &s, err), -1);
    CHECK_EQ(pick("{\"c\":1}", many, JSON_PICK_MAX_PATHS, &s, err), 0);
    CHECK_EQ(s.n, MAX_SEEN); /* 32 reports, 16 kept */
    /* the callback stops the parse */
    memset(&s, 0, sizeof s);
    s.stop_after = 1;
    CHECK_EQ(json_pick("{\"c\":1,\"c\":2}", 13, paths, 2, collect, &s, err, sizeof err), -1);
    CHECK_STREQ(err, "stopped");
    CHECK_EQ(s.n, 1);
}

/* Nesting deeper than JSON_PICK_MAX_DEPTH: valid, the deep member is not reported, the ones
 * after it are. A key path longer than the limit is not reported either. */
static void test_deep(void)
{
    enum { DEPTH = 200 };
    char *text = malloc(DEPTH * 6 + 64), *p = text;
    char path[DEPTH * 2 + 2], *q = path;
    for (int i = 0; i < DEPTH; i++) {
        p += sprintf(p, "{\"k\":");
        q += sprintf(q, i ? ".k" : "k");
    }
    p += sprintf(p, "1");
    for (int i = 0; i < DEPTH; i++)
        *p++ = '}';
    *p = '\0';
    /* the outermost object gets a second member after the deep one */
    text[strlen(text) - 1] = '\0';
    strcat(text, ",\"z\":2}");
    const char *paths[] = {path, "z"};
    seen_t s;
    char err[160];
    CHECK_EQ(pick(text, paths, 2, &s, err), 0);
    CHECK(s.n == 1 && s.index[0] == 1 && s.v[0].i == 2);
    free(text);
}

/* The stats events of the curated Eve file: the totals suricata.lua reads. */
static void test_eve_stats(void)
{
    const char *dir = getenv("ZFLOW_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/eve/curated.eve.json", dir ? dir : "../shared");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    static const char *const paths[] = {"event_type", "stats.decoder.pkts",
                                        "stats.capture.kernel_packets", "stats.flow.active",
                                        "stats.uptime"};
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    int lines = 0, stats = 0, pkts_495056 = 0, kernel_522 = 0, uptime_160 = 0;
    while (fgets(line, (int)cap, f)) {
        if (line[0] != '{') continue;
        lines++;
        seen_t s;
        char err[160];
        int rc = pick(line, paths, 5, &s, err);
        if (rc != 0) fprintf(stderr, "line %d: %s\n", lines, err);
        CHECK_EQ(rc, 0); /* every line is valid JSON */
        int k = find(&s, 0);
        CHECK(k >= 0 && s.v[k].type == JSON_PICK_STRING);
        if (k < 0 || strcmp(s.str[k], "stats") != 0) continue;
        stats++;
        for (int i = 0; i < s.n; i++) {
            pkts_495056 += s.index[i] == 1 && s.v[i].i == 495056;
            kernel_522 += s.index[i] == 2 && s.v[i].i == 522;
            uptime_160 += s.index[i] == 4 && s.v[i].i == 160;
        }
    }
    fclose(f);
    free(line);
    CHECK_EQ(lines, 208);
    CHECK_EQ(stats, 4);
    CHECK_EQ(pkts_495056, 1);
    CHECK_EQ(kernel_522, 1);
    CHECK_EQ(uptime_160, 1);
}

int main(void)
{
    test_values();
    test_bad();
    test_deep();
    test_eve_stats();
    return check_report();
}
