/* codec: packs and unpacks zflow Envelopes (proto/zflow.proto) with every check a reader of
 * untrusted bytes needs, and renders flows as JSON lines. */
#ifndef ZFLOW_CODEC_H
#define ZFLOW_CODEC_H

#include "zflow.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CODEC_SCHEMA_VERSION 1
#define CODEC_MAX_MESSAGE (16u * 1024u * 1024u) /* hard cap on one encoded envelope */
#define CODEC_MAX_FLOWS_PER_BATCH 65536u
#define CODEC_MAX_STRING 1024u                  /* any string field */

/* Why an envelope was rejected; names from codec_error_name(). */
typedef enum codec_error {
    CODEC_OK = 0,
    CODEC_ERR_EMPTY,
    CODEC_ERR_TOO_BIG,
    CODEC_ERR_UNPACK,        /* not a valid protobuf Envelope */
    CODEC_ERR_VERSION,       /* schema_version != CODEC_SCHEMA_VERSION */
    CODEC_ERR_NO_PROBE_ID,
    CODEC_ERR_NO_PAYLOAD,
    CODEC_ERR_RANGE,         /* a field outside its allowed range (ip length, enum, ...) */
    CODEC_ERR_COUNT
} codec_error_t;

const char *codec_error_name(codec_error_t err);

/* Packs *env into a new malloc'd buffer; returns it and sets *len, or NULL on failure
 * (including a result larger than CODEC_MAX_MESSAGE). The caller frees the buffer. */
uint8_t *codec_pack(const Zflow__Envelope *env, size_t *len);

/* Unpacks and validates `len` bytes. On success returns CODEC_OK and sets *out to a message
 * the caller frees with codec_free(); on failure *out is NULL. Validation: size cap before
 * unpacking, schema version, probe id present and <= CODEC_MAX_STRING, payload present,
 * flow fields in range (ip_version 4/6 with matching address sizes, ports <= 65535,
 * l4_proto <= 255, event/end_reason/tunnel_type known, MACs 0 or 6 bytes, strings capped,
 * batch size capped). */
codec_error_t codec_unpack(const uint8_t *buf, size_t len, Zflow__Envelope **out);

/* Validates one flow record (the per-flow part of codec_unpack). */
codec_error_t codec_check_flow(const Zflow__Flow *flow);

void codec_free(Zflow__Envelope *env);

/* Writes one flow as a single JSON object line (with '\n') to `out`. Keys are exactly the
 * proto field names; enums as lower-case short names ("new", "l7", "update", "end";
 * "idle", "tcp_fin", "tcp_rst", "evicted", "shutdown"; "none", "gre", "vxlan", ...);
 * addresses as text; MACs as aa:bb:..; strings JSON-escaped. Returns 0 or -1. */
int codec_flow_to_json(const Zflow__Flow *flow, FILE *out);

/* Same into a caller buffer; returns the length written (without NUL), or -1 if it did not fit. */
int codec_flow_to_json_buf(const Zflow__Flow *flow, char *buf, size_t size);

/* Short names of the enums, as used in JSON. */
const char *codec_event_name(Zflow__FlowEvent ev);
const char *codec_end_reason_name(Zflow__EndReason r);
const char *codec_tunnel_name(Zflow__TunnelType t);

#endif
