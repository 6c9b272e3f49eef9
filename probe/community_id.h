/* community_id: Community ID v1 flow hashes (the Corelight spec used by Zeek and Suricata). */
#ifndef ZFLOW_COMMUNITY_ID_H
#define ZFLOW_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#define COMMUNITY_ID_LEN 32 /* "1:", 28 base64 characters and a NUL, rounded up */

/* ICMP/ICMPv6 "port" mapping of the spec: sets *sport and *dport from type and code and returns
 * 1 when the message is one-way (no counterpart type), 0 when it has a counterpart. */
int community_id_icmp_ports(int ip_version, uint8_t type, uint8_t code, uint16_t *sport,
                            uint16_t *dport);

/* Computes the Community ID v1 of a 5-tuple into out (>= COMMUNITY_ID_LEN bytes).
 * Addresses are 4 (ip_version 4) or 16 bytes, network order. For ICMP/ICMPv6 pass the ports
 * from community_id_icmp_ports() and its one_way result; for protocols without ports pass 0.
 * Returns 0, or -1 when ip_version is not 4 or 6. */
int community_id_v1(uint16_t seed, int ip_version, const uint8_t *src, const uint8_t *dst,
                    uint8_t proto, uint16_t sport, uint16_t dport, int one_way, char *out);

#endif
