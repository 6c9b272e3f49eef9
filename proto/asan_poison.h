/* asan_poison: marks memory an allocator of the project holds but has not handed out (or got
 * back), so AddressSanitizer reports a use of it; no-ops in builds without ASan. */
#ifndef ZFLOW_ASAN_POISON_H
#define ZFLOW_ASAN_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#define ZFLOW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZFLOW_ASAN 1
#endif
#endif

#ifdef ZFLOW_ASAN
#include <sanitizer/asan_interface.h>
#define ZFLOW_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ZFLOW_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ZFLOW_POISON(p, n)   ((void)(p), (void)(n))
#define ZFLOW_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
