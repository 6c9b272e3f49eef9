/* make_corpus: writes each packet of the given captures as a fuzz input (selector byte +
 * frame) named by its content hash, so duplicates collapse. */
#include "fuzz_linktypes.h"

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a 64 over the selector byte and the frame. */
static uint64_t hash_input(uint8_t sel, const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ sel) * 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Writes one input file; 0 or -1. */
static int write_input(const char *dir, uint8_t sel, const uint8_t *p, size_t n)
{
    char path[4096];
    FILE *f;
    int rc;

    snprintf(path, sizeof path, "%s/%016llx", dir, (unsigned long long)hash_input(sel, p, n));
    f = fopen(path, "wb");
    if (!f) return -1;
    rc = fwrite(&sel, 1, 1, f) == 1 && fwrite(p, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    unsigned long max, written = 0, skipped_files = 0;
    int failed = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: %s OUTDIR MAX_PER_CAPTURE(0=all) CAPTURE...\n", argv[0]);
        return 2;
    }
    max = strtoul(argv[2], NULL, 10);
    for (int i = 3; i < argc; i++) {
        pcap_t *pc = pcap_open_offline(argv[i], err);
        struct pcap_pkthdr *h;
        const u_char *data;
        unsigned long n = 0;
        int sel;

        if (!pc) {
            fprintf(stderr, "make_corpus: %s\n", err);
            failed = 1;
            continue;
        }
        sel = fuzz_linktype_index(pcap_datalink(pc));
        if (sel < 0) {
            skipped_files++; /* link type the decoder does not take */
            pcap_close(pc);
            continue;
        }
        while ((max == 0 || n < max) && pcap_next_ex(pc, &h, &data) == 1) {
            if (write_input(argv[1], (uint8_t)sel, data, h->caplen) != 0) {
                fprintf(stderr, "make_corpus: cannot write into %s\n", argv[1]);
                pcap_close(pc);
                return 1;
            }
            n++;
        }
        written += n;
        pcap_close(pc);
    }
    printf("make_corpus: %lu packets written (duplicates collapse), %lu captures skipped\n",
           written, skipped_files);
    return failed;
}
