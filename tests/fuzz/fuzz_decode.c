/* fuzz_decode: libFuzzer target for decode_packet(); input byte 0 selects the link type. */
#include "decode.h"
#include "fuzz_linktypes.h"

#include <stdint.h>
#include <stdlib.h>

/* libFuzzer entry point: decodes data[1..] as one frame; aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static decode_stats_t stats;
    const uint8_t *frame, *end;
    uint64_t before = 0, after = 0;
    decode_result_t r;
    packet_t pkt;

    if (size < 1 || size - 1 > UINT32_MAX) return 0;
    frame = data + 1;
    end = data + size;
    for (int i = 0; i < DR_COUNT; i++)
        before += stats.reasons[i];
    r = decode_packet(fuzz_linktype_at(data[0]), frame, (uint32_t)(size - 1), (uint32_t)(size - 1),
                      &pkt, &stats);
    for (int i = 0; i < DR_COUNT; i++)
        after += stats.reasons[i];

    /* exactly one counter per failure, none on success */
    if (after - before != (r == DECODE_OK ? 0u : 1u)) abort();
    if (r != DECODE_OK) {
        if (pkt.ip_version != 0) abort();
        return 0;
    }
    if (pkt.ip_version != 4 && pkt.ip_version != 6) abort();
    if (!pkt.l3 || pkt.l3 < frame || pkt.l3_len > (size_t)(end - pkt.l3)) abort();
    if (pkt.payload && (pkt.payload < frame || pkt.payload_len > (size_t)(end - pkt.payload)))
        abort();
    if (!pkt.payload && pkt.payload_len != 0) abort();
    if (pkt.l3_len > pkt.ip_len) abort();
    return 0;
}
