/* codec: packs and unpacks zflow Envelopes (proto/zflow.proto) with every check a reader of
 * untrusted bytes needs, and renders flows as JSON lines. */
#ifndef ZFLOW_CODEC_H
#define ZFLOW_CODEC_H

#include "zflow.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CODEC_SCHEMA_VERSION      1
#define CODEC_MAX_MESSAGE         (16u * 1024u * 1024u) /* hard cap on one encoded envelope */
#define CODEC_MAX_FLOWS_PER_BATCH 65536u
#define CODEC_MAX_STRING          1024u  /* any string field */
#define CODEC_MAX_COUNTERS        1024u  /* Stats.decode_error_counters */
#define CODEC_MAX_ACK_SEQS        65536u /* Ack.seqs */
/* Heap a decoded envelope may use: this much plus 4 bytes per wire byte (unknown fields and
 * tiny repeated messages cannot blow a small message up into a huge allocation). */
#define CODEC_UNPACK_BUDGET (32u * 1024u * 1024u)
/* Upper bound of codec_pack_batch_flow() for a flow that passes codec_check_flow(). */
#define CODEC_MAX_FLOW_ENCODED 8192u
/* Upper bound of codec_pack_batch_header(). */
#define CODEC_MAX_HEADER (64u + CODEC_MAX_STRING)
/* Upper bound of codec_flow_to_json_buf() for a flow that passes codec_check_flow(). */
#define CODEC_MAX_FLOW_JSON (4096u + 7u * 6u * CODEC_MAX_STRING)

/* Why an envelope was rejected; names from codec_error_name(). */
typedef enum codec_error {
    CODEC_OK = 0,
    CODEC_ERR_EMPTY,
    CODEC_ERR_TOO_BIG, /* more than CODEC_MAX_MESSAGE bytes, or over CODEC_UNPACK_BUDGET */
    CODEC_ERR_UNPACK,  /* not a valid protobuf Envelope */
    CODEC_ERR_VERSION, /* schema_version != CODEC_SCHEMA_VERSION */
    CODEC_ERR_NO_PROBE_ID,
    CODEC_ERR_NO_PAYLOAD,
    CODEC_ERR_RANGE, /* a field outside its allowed range (ip length, enum, ...) */
    CODEC_ERR_COUNT
} codec_error_t;

/* Short lower-case name of an error ("too_big", "range", ...); never NULL. */
const char *codec_error_name(codec_error_t err);

/* Packs *env into a new malloc'd buffer; returns it and sets *len, or NULL on failure
 * (including a result larger than CODEC_MAX_MESSAGE). The caller frees the buffer. */
uint8_t *codec_pack(const Zflow__Envelope *env, size_t *len);

/* A decoded envelope together with the memory it lives in: the envelope and everything it
 * points to are in one arena, freed at once by codec_msg_destroy(). */
typedef struct codec_msg codec_msg_t;

/* Unpacks and validates `len` bytes. On success returns CODEC_OK and sets *out to a new message
 * the caller destroys with codec_msg_destroy(); on failure *out is NULL. Validation: size cap
 * before unpacking, schema version, probe id present and <= CODEC_MAX_STRING, payload present,
 * flow fields in range (ip_version 4/6 with matching address sizes, ports <= 65535,
 * l4_proto <= 255, event/end_reason/tunnel_type known, MACs 0 or 6 bytes, strings capped,
 * batch size capped), seq >= 1 for flows/hello/stats, counters and ack seqs capped. The decoded
 * form is built in an arena under a heap budget (CODEC_UNPACK_BUDGET + 4 * len), else
 * CODEC_ERR_TOO_BIG. */
codec_error_t codec_unpack(const uint8_t *buf, size_t len, codec_msg_t **out);

/* The envelope of a message from codec_unpack() (NULL for NULL). It and every part of it stay
 * valid until the message is destroyed; never free them with protobuf-c's free_unpacked(). */
Zflow__Envelope *codec_msg_env(const codec_msg_t *msg);

/* Frees a message from codec_unpack() with everything in it; accepts NULL; sets *pmsg to NULL. */
void codec_msg_destroy(codec_msg_t **pmsg);

/* Validates one flow record (the per-flow part of codec_unpack). Besides the checks above:
 * event 1..4 (UNSPECIFIED is refused), end_reason NONE unless event is END, TCP flags, ToS,
 * TTLs and ICMP type/code <= 255, VLAN ids <= 4095, tunnel endpoints 0, 4 or 16 bytes. */
codec_error_t codec_check_flow(const Zflow__Flow *flow);

/* Fast batch building, byte-identical to zflow__envelope__pack() of the same envelope but
 * several times faster than the generic protobuf-c packer. An envelope carrying a FlowBatch is
 * codec_pack_batch_header() followed by the codec_pack_batch_flow() items it announced. */

/* Writes one flow as a FlowBatch.flows element (tag, length, Flow body). Returns the bytes
 * written, or -1 if `size` is below the flow's worst-case size (never the case for
 * size >= CODEC_MAX_FLOW_ENCODED and a flow that passed codec_check_flow()). */
int codec_pack_batch_flow(const Zflow__Flow *flow, uint8_t *buf, size_t size);

/* Writes the header fields 1-5 of *hdr (payload ignored) and the tag and length of a FlowBatch
 * payload of `batch_len` bytes. Returns the bytes written, or -1 if the probe id is longer than
 * CODEC_MAX_STRING or `size` may be too small (size >= CODEC_MAX_HEADER always suffices). */
int codec_pack_batch_header(const Zflow__Envelope *hdr, size_t batch_len, uint8_t *buf,
                            size_t size);

/* Writes one flow as a single JSON object line (with '\n') to `out`. Keys are exactly the
 * proto field names; enums as lower-case short names ("new", "l7", "update", "end";
 * "idle", "tcp_fin", "tcp_rst", "evicted", "shutdown", "probe_down", "probe_restart"; "none",
 * "gre", "vxlan", ...); addresses as text; MACs as aa:bb:..; strings JSON-escaped. Returns 0 or -1.
 */
int codec_flow_to_json(const Zflow__Flow *flow, FILE *out);

/* Same into a caller buffer; returns the length written (with the '\n', without NUL; a NUL is
 * added when there is room), or -1 if it did not fit (CODEC_MAX_FLOW_JSON always fits a flow
 * that passed codec_check_flow). */
int codec_flow_to_json_buf(const Zflow__Flow *flow, char *buf, size_t size);

/* Short names of the enums, as used in JSON. */
const char *codec_event_name(Zflow__FlowEvent ev);
const char *codec_end_reason_name(Zflow__EndReason r);
const char *codec_tunnel_name(Zflow__TunnelType t);

#endif
