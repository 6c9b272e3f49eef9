/* netset: a set of IPv4/IPv6 CIDR networks (--local-networks), built once, read by any thread. */
#ifndef ZFLOW_NETSET_H
#define ZFLOW_NETSET_H

#include <stddef.h>
#include <stdint.h>

#define NETSET_MAX 256

typedef struct netset_net {
    uint8_t addr[16];
    uint8_t ip_version;
    uint8_t prefix;
    char text[64];                 /* as given, normalised */
} netset_net_t;

typedef struct netset {
    netset_net_t nets[NETSET_MAX];
    int n;
} netset_t;

/* Parses a comma separated list of CIDRs (e.g. "10.0.0.0/8,fd00::/8"); appends to *set.
 * Returns 0, or -1 with one line in err naming the bad entry. */
int netset_parse(netset_t *set, const char *list, char *err, size_t errlen);

/* Index of the first network containing the address, or -1. */
int netset_find(const netset_t *set, int ip_version, const uint8_t *addr);

#endif
