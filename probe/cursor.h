/* cursor: bounds-checked reader over untrusted bytes; byte-by-byte assembly, never past end. */
#ifndef ZFLOW_CURSOR_H
#define ZFLOW_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A window [p, end) over borrowed bytes; the cursor owns nothing. */
typedef struct cursor {
    const uint8_t *p;
    const uint8_t *end;
} cursor_t;

/* Points the cursor at `len` bytes from `data`; a NULL `data` gives an empty window. */
static inline void cursor_init(cursor_t *c, const uint8_t *data, size_t len)
{
    static const uint8_t empty[1];
    if (!data) {
        data = empty; /* no arithmetic on NULL, even by 0 */
        len = 0;
    }
    c->p = data;
    c->end = data + len;
}

/* Bytes left between the position and the end. */
static inline size_t cursor_left(const cursor_t *c)
{
    return (size_t)(c->end - c->p);
}

/* Current position (valid to read only cursor_left() bytes from it). */
static inline const uint8_t *cursor_ptr(const cursor_t *c)
{
    return c->p;
}

/* Reads one byte; 0 on success, -1 (cursor unchanged, *out = 0) when none is left. */
static inline int cursor_u8(cursor_t *c, uint8_t *out)
{
    if (cursor_left(c) < 1) {
        *out = 0;
        return -1;
    }
    *out = c->p[0];
    c->p += 1;
    return 0;
}

/* Reads a big-endian 16-bit value; 0 or -1 as cursor_u8(). */
static inline int cursor_be16(cursor_t *c, uint16_t *out)
{
    if (cursor_left(c) < 2) {
        *out = 0;
        return -1;
    }
    *out = (uint16_t)((unsigned)c->p[0] << 8 | (unsigned)c->p[1]);
    c->p += 2;
    return 0;
}

/* Reads a big-endian 24-bit value into the low bits of *out; 0 or -1. */
static inline int cursor_be24(cursor_t *c, uint32_t *out)
{
    if (cursor_left(c) < 3) {
        *out = 0;
        return -1;
    }
    *out = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2];
    c->p += 3;
    return 0;
}

/* Reads a big-endian 32-bit value; 0 or -1. */
static inline int cursor_be32(cursor_t *c, uint32_t *out)
{
    if (cursor_left(c) < 4) {
        *out = 0;
        return -1;
    }
    *out = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 |
           (uint32_t)c->p[3];
    c->p += 4;
    return 0;
}

/* Reads a little-endian 16-bit value; 0 or -1. */
static inline int cursor_le16(cursor_t *c, uint16_t *out)
{
    if (cursor_left(c) < 2) {
        *out = 0;
        return -1;
    }
    *out = (uint16_t)((unsigned)c->p[1] << 8 | (unsigned)c->p[0]);
    c->p += 2;
    return 0;
}

/* Reads a little-endian 32-bit value; 0 or -1. */
static inline int cursor_le32(cursor_t *c, uint32_t *out)
{
    if (cursor_left(c) < 4) {
        *out = 0;
        return -1;
    }
    *out = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 |
           (uint32_t)c->p[0];
    c->p += 4;
    return 0;
}

/* Advances by n bytes; 0, or -1 (cursor unchanged) when fewer than n are left. */
static inline int cursor_skip(cursor_t *c, size_t n)
{
    if (cursor_left(c) < n) return -1;
    c->p += n;
    return 0;
}

/* Copies n bytes to dst and advances; 0, or -1 (nothing copied, cursor unchanged). */
static inline int cursor_bytes(cursor_t *c, void *dst, size_t n)
{
    if (cursor_left(c) < n) return -1;
    if (n) memcpy(dst, c->p, n);
    c->p += n;
    return 0;
}

/* Reads the byte at the position without advancing; 0 or -1 (*out = 0). */
static inline int cursor_peek_u8(const cursor_t *c, uint8_t *out)
{
    if (cursor_left(c) < 1) {
        *out = 0;
        return -1;
    }
    *out = c->p[0];
    return 0;
}

/* Reads a big-endian 16-bit value `off` bytes ahead without advancing; 0 or -1 (*out = 0). */
static inline int cursor_peek_be16(const cursor_t *c, size_t off, uint16_t *out)
{
    if (cursor_left(c) < 2 || cursor_left(c) - 2 < off) {
        *out = 0;
        return -1;
    }
    *out = (uint16_t)((unsigned)c->p[off] << 8 | (unsigned)c->p[off + 1]);
    return 0;
}

/* Restricts the end to p + len when that is shorter. Returns true when all `len` declared
 * bytes are present (the window is exactly len), false when fewer were left (unchanged). */
static inline bool cursor_narrow(cursor_t *c, size_t len)
{
    if (cursor_left(c) < len) return false;
    c->end = c->p + len;
    return true;
}

/* Splits off the next `len` bytes (or fewer, when fewer are left) into *sub and advances
 * past them. Returns true when all `len` bytes were present. */
static inline bool cursor_take(cursor_t *c, size_t len, cursor_t *sub)
{
    size_t n = cursor_left(c) < len ? cursor_left(c) : len;
    sub->p = c->p;
    sub->end = c->p + n;
    c->p += n;
    return n == len;
}

#endif
