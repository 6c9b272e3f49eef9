/* json_pick: the scalar values at a few key paths of a JSON text, read in one streaming pass
 * (yajl), without building the document. For large events of which a script needs a handful of
 * numbers, e.g. Suricata's "stats" (15-40 KB, ~1,000 counters; six are read). */
#ifndef ZFLOW_JSON_PICK_H
#define ZFLOW_JSON_PICK_H

#include <stddef.h>
#include <stdint.h>

#define JSON_PICK_MAX_PATHS 32 /* paths per call */
#define JSON_PICK_MAX_DEPTH 32 /* object nesting followed; deeper members cannot be picked */

typedef enum {
    JSON_PICK_INT,    /* an integral number that fits int64_t */
    JSON_PICK_DOUBLE, /* any other number */
    JSON_PICK_STRING, /* unescaped, not NUL-terminated */
    JSON_PICK_BOOL,
} json_pick_type_t;

typedef struct {
    json_pick_type_t type;
    int64_t i;     /* JSON_PICK_INT, JSON_PICK_BOOL (0/1) */
    double d;      /* JSON_PICK_DOUBLE */
    const char *s; /* JSON_PICK_STRING: valid during the callback only */
    size_t len;
} json_pick_value_t;

/* Called for each scalar found at paths[index]. Returns 0 to go on, non-zero to stop (then
 * json_pick() returns -1 with "stopped" in err). */
typedef int (*json_pick_cb)(void *ctx, int index, const json_pick_value_t *v);

/* Parses the whole text (an invalid one is an error even after the values were found) and calls
 * cb for every scalar whose key path is one of paths[0..n): member names joined with '.', from
 * the top-level object ("stats.decoder.pkts"). Members of arrays are not addressable; null is not
 * reported; a member that occurs twice is reported twice. 0 when the text is valid JSON, -1 with
 * a one-line reason in err otherwise (or when n is out of range). */
int json_pick(const char *text, size_t len, const char *const *paths, int n, json_pick_cb cb,
              void *ctx, char *err, size_t errlen);

#endif
