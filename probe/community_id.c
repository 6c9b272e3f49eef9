/* community_id: Community ID v1 flow hashes (https://github.com/corelight/community-id-spec). */
#include "community_id.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

enum { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17, PROTO_ICMPV6 = 58, PROTO_SCTP = 132 };

/* Counterpart of an ICMP type for request/response pairs, or -1 for one-way messages. */
static int icmp4_counterpart(uint8_t type)
{
    switch (type) {
    case 8: return 0;   /* echo request -> reply */
    case 0: return 8;
    case 13: return 14; /* timestamp */
    case 14: return 13;
    case 15: return 16; /* information */
    case 16: return 15;
    case 10: return 9;  /* router solicitation / advertisement */
    case 9: return 10;
    case 17: return 18; /* address mask */
    case 18: return 17;
    default: return -1;
    }
}

static int icmp6_counterpart(uint8_t type)
{
    switch (type) {
    case 128: return 129; /* echo */
    case 129: return 128;
    case 133: return 134; /* router solicitation / advertisement */
    case 134: return 133;
    case 135: return 136; /* neighbour solicitation / advertisement */
    case 136: return 135;
    case 130: return 131; /* multicast listener query / report */
    case 131: return 130;
    case 139: return 140; /* node information query / response */
    case 140: return 139;
    case 144: return 145; /* home agent address discovery */
    case 145: return 144;
    default: return -1;
    }
}

int community_id_icmp_ports(int ip_version, uint8_t type, uint8_t code, uint16_t *sport,
                            uint16_t *dport)
{
    int peer = ip_version == 6 ? icmp6_counterpart(type) : icmp4_counterpart(type);
    *sport = type;
    if (peer < 0) {
        *dport = code;
        return 1;
    }
    *dport = (uint16_t)peer;
    return 0;
}

int community_id_v1(uint16_t seed, int ip_version, const uint8_t *src, const uint8_t *dst,
                    uint8_t proto, uint16_t sport, uint16_t dport, int one_way, char *out)
{
    size_t alen;
    if (ip_version == 4)
        alen = 4;
    else if (ip_version == 6)
        alen = 16;
    else
        return -1;

    /* Order the endpoints unless the tuple is one-way. */
    if (!one_way) {
        int c = memcmp(src, dst, alen);
        if (c > 0 || (c == 0 && sport > dport)) {
            const uint8_t *t = src;
            src = dst;
            dst = t;
            uint16_t tp = sport;
            sport = dport;
            dport = tp;
        }
    }

    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, src, alen);
    n += alen;
    memcpy(buf + n, dst, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP || proto == PROTO_ICMP ||
        proto == PROTO_ICMPV6) {
        buf[n++] = (uint8_t)(sport >> 8);
        buf[n++] = (uint8_t)sport;
        buf[n++] = (uint8_t)(dport >> 8);
        buf[n++] = (uint8_t)dport;
    }

    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, n, buf);
    sha1_digest(&ctx, sizeof digest, digest);

    out[0] = '1';
    out[1] = ':';
    size_t enc = BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE); /* 28, with padding */
    base64_encode_raw(out + 2, sizeof digest, digest);
    out[2 + enc] = '\0';
    return 0;
}
