/* check: the few assertion macros the unit tests use; a failed check is reported, counted,
 * and the test goes on. The program exits non-zero when any check failed. */
#ifndef ZFLOW_CHECK_H
#define ZFLOW_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (cond) {                                                                            \
            check_passed++;                                                                    \
        } else {                                                                               \
            check_failed++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                        \
        if (check_a_ == check_b_) {                                                            \
            check_passed++;                                                                    \
        } else {                                                                               \
            check_failed++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__,     \
                    __LINE__, #a, #b, check_a_, check_b_);                                     \
        }                                                                                      \
    } while (0)

#define CHECK_STREQ(a, b)                                                                      \
    do {                                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                                           \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                         \
            check_passed++;                                                                    \
        } else {                                                                               \
            check_failed++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_STREQ failed: %s == %s (\"%s\" != \"%s\")\n",        \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                \
                    check_b_ ? check_b_ : "(null)");                                           \
        }                                                                                      \
    } while (0)

/* Prints the closing line and returns the exit status for main(). */
static inline int check_report(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
