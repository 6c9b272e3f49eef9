/* sysinfo: the collector's host (load, memory, disk of a directory) and the collector process
 * (CPU time, resident memory) from /proc, getrusage() and statvfs(). */
#ifndef ZFLOW_SYSINFO_H
#define ZFLOW_SYSINFO_H

#include <stdint.h>

typedef struct sysinfo {
    double load_1, load_5, load_15;                           /* /proc/loadavg */
    int cores;                                                /* online CPUs */
    uint64_t mem_total, mem_available, swap_total, swap_free; /* bytes, /proc/meminfo */
    uint64_t disk_total, disk_free; /* bytes of the directory's file system (free: what an
                                       unprivileged user may still write) */
    double proc_cpu_s;              /* user + system CPU seconds of this process */
    uint64_t proc_rss;              /* resident bytes of this process */
    int ok_load, ok_mem, ok_disk;   /* 1 when that part could be read */
} sysinfo_t;

/* Reads everything; what cannot be read stays 0 with its ok_ flag 0. `dir` may be NULL (no
 * disk figures). Returns 0 when every part was read, -1 otherwise. */
int sysinfo_read(sysinfo_t *out, const char *dir);

#endif
