/* test_cursor: every cursor reader at, just inside and just past the end of its window. */
#include "check.h"
#include "cursor.h"

#include <stdlib.h>

/* A heap copy of exactly n bytes, so ASan sees any read past the window. */
static uint8_t *exact(const uint8_t *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p && n) memcpy(p, src, n);
    return p;
}

static void test_init_left(void)
{
    static const uint8_t b[] = {1, 2, 3};
    cursor_t c;
    uint8_t v;

    cursor_init(&c, b, sizeof b);
    CHECK_EQ(cursor_left(&c), 3);
    CHECK(cursor_ptr(&c) == b);

    cursor_init(&c, NULL, 0);
    CHECK_EQ(cursor_left(&c), 0);
    CHECK_EQ(cursor_u8(&c, &v), -1);
    CHECK_EQ(cursor_skip(&c, 0), 0);
    CHECK_EQ(cursor_skip(&c, 1), -1);

    cursor_init(&c, NULL, 100); /* NULL is empty whatever the length says */
    CHECK_EQ(cursor_left(&c), 0);
}

static void test_readers(void)
{
    static const uint8_t b[] = {0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x01};
    uint8_t *m = exact(b, sizeof b);
    cursor_t c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;

    cursor_init(&c, m, sizeof b);
    CHECK_EQ(cursor_u8(&c, &u8), 0);
    CHECK_EQ(u8, 0x12);
    CHECK_EQ(cursor_be16(&c, &u16), 0);
    CHECK_EQ(u16, 0x3456);
    CHECK_EQ(cursor_be24(&c, &u32), 0);
    CHECK_EQ(u32, 0x789ABC);
    CHECK_EQ(cursor_left(&c), 3);
    CHECK_EQ(cursor_be32(&c, &u32), -1); /* 3 left: fails, nothing moves */
    CHECK_EQ(u32, 0);
    CHECK_EQ(cursor_left(&c), 3);
    CHECK_EQ(cursor_be24(&c, &u32), 0);
    CHECK_EQ(u32, 0xDEF001);
    CHECK_EQ(cursor_left(&c), 0);
    CHECK_EQ(cursor_u8(&c, &u8), -1);
    CHECK_EQ(cursor_be16(&c, &u16), -1);
    CHECK_EQ(cursor_be24(&c, &u32), -1);
    CHECK_EQ(cursor_le16(&c, &u16), -1);
    CHECK_EQ(cursor_le32(&c, &u32), -1);
    CHECK_EQ(cursor_peek_u8(&c, &u8), -1);

    cursor_init(&c, m, sizeof b);
    CHECK_EQ(cursor_be32(&c, &u32), 0);
    CHECK_EQ(u32, 0x12345678);
    CHECK_EQ(cursor_le32(&c, &u32), 0);
    CHECK_EQ(u32, 0xF0DEBC9A);
    cursor_init(&c, m, sizeof b);
    CHECK_EQ(cursor_le16(&c, &u16), 0);
    CHECK_EQ(u16, 0x3412);

    /* odd start: no alignment assumptions */
    cursor_init(&c, m + 1, sizeof b - 1);
    CHECK_EQ(cursor_be32(&c, &u32), 0);
    CHECK_EQ(u32, 0x3456789A);
    CHECK_EQ(cursor_le32(&c, &u32), 0);
    CHECK_EQ(u32, 0x01F0DEBC);
    free(m);
}

static void test_skip_bytes_peek(void)
{
    static const uint8_t b[] = {0xAA, 0xBB, 0xCC, 0xDD};
    uint8_t *m = exact(b, sizeof b);
    uint8_t out[8] = {0};
    uint8_t u8;
    uint16_t u16;
    cursor_t c;

    cursor_init(&c, m, sizeof b);
    CHECK_EQ(cursor_peek_u8(&c, &u8), 0);
    CHECK_EQ(u8, 0xAA);
    CHECK_EQ(cursor_left(&c), 4);
    CHECK_EQ(cursor_peek_be16(&c, 0, &u16), 0);
    CHECK_EQ(u16, 0xAABB);
    CHECK_EQ(cursor_peek_be16(&c, 2, &u16), 0);
    CHECK_EQ(u16, 0xCCDD);
    CHECK_EQ(cursor_peek_be16(&c, 3, &u16), -1);
    CHECK_EQ(cursor_peek_be16(&c, (size_t)-1, &u16), -1); /* no wrap-around */
    CHECK_EQ(cursor_skip(&c, 5), -1);
    CHECK_EQ(cursor_left(&c), 4);
    CHECK_EQ(cursor_skip(&c, (size_t)-1), -1);
    CHECK_EQ(cursor_bytes(&c, out, 5), -1);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(cursor_skip(&c, 1), 0);
    CHECK_EQ(cursor_bytes(&c, out, 3), 0);
    CHECK_EQ(out[0], 0xBB);
    CHECK_EQ(out[2], 0xDD);
    CHECK_EQ(cursor_left(&c), 0);
    CHECK_EQ(cursor_bytes(&c, out, 0), 0);
    CHECK_EQ(cursor_skip(&c, 0), 0);
    free(m);
}

static void test_narrow_take(void)
{
    static const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8};
    cursor_t c, sub;
    uint8_t v;

    cursor_init(&c, b, sizeof b);
    CHECK(cursor_narrow(&c, 5));
    CHECK_EQ(cursor_left(&c), 5);
    CHECK(!cursor_narrow(&c, 6)); /* declared longer than what is there: unchanged */
    CHECK_EQ(cursor_left(&c), 5);
    CHECK(cursor_narrow(&c, 0));
    CHECK_EQ(cursor_left(&c), 0);
    CHECK_EQ(cursor_u8(&c, &v), -1);

    cursor_init(&c, b, sizeof b);
    CHECK(cursor_take(&c, 3, &sub));
    CHECK_EQ(cursor_left(&sub), 3);
    CHECK_EQ(cursor_left(&c), 5);
    CHECK_EQ(cursor_u8(&sub, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(cursor_u8(&c, &v), 0);
    CHECK_EQ(v, 4);
    CHECK(!cursor_take(&c, 10, &sub));
    CHECK_EQ(cursor_left(&sub), 4);
    CHECK_EQ(cursor_left(&c), 0);
}

/* Every reader on every window length 0..8 over an exact-size heap buffer. */
static void test_every_length(void)
{
    static const uint8_t b[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    size_t n;

    for (n = 0; n <= sizeof b; n++) {
        uint8_t *m = exact(b, n);
        cursor_t c;
        uint8_t u8, out[8];
        uint16_t u16;
        uint32_t u32;

        cursor_init(&c, m, n);
        CHECK_EQ(cursor_u8(&c, &u8), n >= 1 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_be16(&c, &u16), n >= 2 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_le16(&c, &u16), n >= 2 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_be24(&c, &u32), n >= 3 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_be32(&c, &u32), n >= 4 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_le32(&c, &u32), n >= 4 ? 0 : -1);
        cursor_init(&c, m, n);
        CHECK_EQ(cursor_bytes(&c, out, 8), n >= 8 ? 0 : -1);
        CHECK_EQ(cursor_left(&c), n >= 8 ? 0 : n);
        free(m);
    }
}

int main(void)
{
    test_init_left();
    test_readers();
    test_skip_bytes_peek();
    test_narrow_take();
    test_every_length();
    return check_report();
}
