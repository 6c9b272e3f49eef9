/* netset: a set of IPv4/IPv6 CIDR networks (--local-networks), built once, read by any thread. */
#include "netset.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int netset_add(netset_t *set, const char *item, char *err, size_t errlen)
{
    char buf[128];
    if (strlen(item) >= sizeof buf)
        goto bad;
    snprintf(buf, sizeof buf, "%s", item);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        prefix = strtol(slash + 1, &end, 10);
        if (!end || *end || end == slash + 1)
            goto bad;
    }
    netset_net_t n;
    memset(&n, 0, sizeof n);
    if (inet_pton(AF_INET, buf, n.addr) == 1) {
        n.ip_version = 4;
        if (prefix < 0)
            prefix = 32;
        if (prefix > 32)
            goto bad;
    } else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
        n.ip_version = 6;
        if (prefix < 0)
            prefix = 128;
        if (prefix > 128)
            goto bad;
    } else {
        goto bad;
    }
    n.prefix = (uint8_t)prefix;
    /* clear host bits so lookups compare whole bytes */
    int bits = (n.ip_version == 4 ? 32 : 128) - n.prefix;
    for (int i = (n.ip_version == 4 ? 3 : 15); bits > 0 && i >= 0; i--, bits -= 8)
        n.addr[i] &= bits >= 8 ? 0 : (uint8_t)(0xff << bits);
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(n.ip_version == 4 ? AF_INET : AF_INET6, n.addr, addr, sizeof addr);
    snprintf(n.text, sizeof n.text, "%s/%u", addr, n.prefix);
    if (set->n >= NETSET_MAX) {
        snprintf(err, errlen, "too many networks (at most %d)", NETSET_MAX);
        return -1;
    }
    set->nets[set->n++] = n;
    return 0;
bad:
    snprintf(err, errlen, "invalid network \"%s\" (expected ADDRESS[/PREFIX])", item);
    return -1;
}

int netset_parse(netset_t *set, const char *list, char *err, size_t errlen)
{
    char *copy = strdup(list);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if ((rc = netset_add(set, tok, err, errlen)) != 0)
            break;
    }
    free(copy);
    return rc;
}

int netset_find(const netset_t *set, int ip_version, const uint8_t *addr)
{
    for (int i = 0; i < set->n; i++) {
        const netset_net_t *n = &set->nets[i];
        if (n->ip_version != ip_version)
            continue;
        int full = n->prefix / 8, rest = n->prefix % 8;
        if (memcmp(n->addr, addr, (size_t)full) != 0)
            continue;
        if (rest && ((addr[full] ^ n->addr[full]) & (uint8_t)(0xff << (8 - rest))))
            continue;
        return i;
    }
    return -1;
}
