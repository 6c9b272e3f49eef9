/* fuzz_linktypes: the link types a fuzz input's first byte selects (shared with make_corpus). */
#ifndef ZFLOW_FUZZ_LINKTYPES_H
#define ZFLOW_FUZZ_LINKTYPES_H

/* pcap link types decode_packet() supports, in selector order; never reorder (corpus files
 * carry the index): EN10MB, NULL, LOOP, RAW, RAW (OpenBSD), LINKTYPE_RAW, IPV4, IPV6,
 * LINUX_SLL, LINUX_SLL2. */
#define FUZZ_LINKTYPE_COUNT 10

/* Link type for selector byte `sel` (taken modulo the table size). */
static inline int fuzz_linktype_at(unsigned sel)
{
    static const int table[FUZZ_LINKTYPE_COUNT] = {1, 0, 108, 12, 14, 101, 228, 229, 113, 276};
    return table[sel % FUZZ_LINKTYPE_COUNT];
}

/* Selector byte for a link type, or -1 when the decoder does not support it. */
static inline int fuzz_linktype_index(int linktype)
{
    for (unsigned i = 0; i < FUZZ_LINKTYPE_COUNT; i++)
        if (fuzz_linktype_at(i) == linktype) return (int)i;
    return -1;
}

#endif
