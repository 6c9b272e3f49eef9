/* sysinfo: host and process figures for the system scripts. */
#include "sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int read_loadavg(sysinfo_t *o)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    int n = fscanf(f, "%lf %lf %lf", &o->load_1, &o->load_5, &o->load_15);
    fclose(f);
    return n == 3 ? 0 : -1;
}

static int read_meminfo(sysinfo_t *o)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char key[64];
        unsigned long long kb;
        if (sscanf(line, "%63[^:]: %llu", key, &kb) != 2) continue;
        uint64_t b = (uint64_t)kb * 1024;
        if (strcmp(key, "MemTotal") == 0) {
            o->mem_total = b;
            found |= 1;
        } else if (strcmp(key, "MemAvailable") == 0) {
            o->mem_available = b;
            found |= 2;
        } else if (strcmp(key, "SwapTotal") == 0) {
            o->swap_total = b;
        } else if (strcmp(key, "SwapFree") == 0) {
            o->swap_free = b;
        }
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

static uint64_t read_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

int sysinfo_read(sysinfo_t *o, const char *dir)
{
    memset(o, 0, sizeof *o);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->cores = cores > 0 ? (int)cores : 1;
    o->ok_load = read_loadavg(o) == 0;
    o->ok_mem = read_meminfo(o) == 0;
    struct statvfs vfs;
    if (dir && statvfs(dir, &vfs) == 0) {
        o->disk_total = (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
        o->disk_free = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        o->ok_disk = 1;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        o->proc_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    o->proc_rss = read_rss();
    return o->ok_load && o->ok_mem && o->ok_disk ? 0 : -1;
}
