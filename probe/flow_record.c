/* flow_record: a cached flow as a wire Flow message (zflow.Flow). */
#include "flow_record.h"

#include <string.h>

enum { PROTO_ICMP = 1, PROTO_ICMPV6 = 58 };

void flow_record_fill(flow_record_t *r, const flow_t *f, enum flow_event ev,
                      enum end_reason reason, l7_t *l7, const char *interface)
{
    Zflow__Flow *m = &r->msg;
    zflow__flow__init(m);
    const flow_key_t *k = &f->key;
    size_t alen = k->ip_version == 6 ? 16 : 4;
    int icmp = k->l4_proto == PROTO_ICMP || k->l4_proto == PROTO_ICMPV6;

    m->flow_id = f->id;
    m->event = (Zflow__FlowEvent)ev;
    m->end_reason = (Zflow__EndReason)reason;
    m->first_seen_ns = f->first_ns;
    m->last_seen_ns = f->last_ns;
    m->ip_version = k->ip_version;
    m->client_ip.data = (uint8_t *)k->cli_ip;
    m->client_ip.len = alen;
    m->server_ip.data = (uint8_t *)k->srv_ip;
    m->server_ip.len = alen;
    m->client_port = icmp ? 0 : k->cli_port;
    m->server_port = icmp ? 0 : k->srv_port;
    m->l4_proto = k->l4_proto;
    m->c2s_bytes = f->bytes[0];
    m->s2c_bytes = f->bytes[1];
    m->c2s_packets = f->packets[0];
    m->s2c_packets = f->packets[1];
    m->c2s_tcp_flags = f->tcp_flags[0];
    m->s2c_tcp_flags = f->tcp_flags[1];
    m->c2s_tos = f->tos[0];
    m->s2c_tos = f->tos[1];
    m->min_ttl = f->min_ttl <= f->max_ttl ? f->min_ttl : 0;
    m->max_ttl = f->max_ttl;
    if (icmp) {
        m->icmp_type = f->icmp_type;
        m->icmp_code = f->icmp_code;
    }
    m->vlan_outer = k->vlan;
    m->client_rtt_us = f->cli_rtt_us;
    m->server_rtt_us = f->srv_rtt_us;
    m->c2s_retransmissions = f->retrans[0];
    m->s2c_retransmissions = f->retrans[1];
    m->interface = (char *)(interface ? interface : "");

    const flow_extra_t *x = f->extra;
    if (x) {
        m->vlan_inner = x->vlan_inner;
        if (x->has_macs) {
            m->client_mac.data = (uint8_t *)x->cli_mac;
            m->client_mac.len = 6;
            m->server_mac.data = (uint8_t *)x->srv_mac;
            m->server_mac.len = 6;
        }
        if (x->tunnel_type) {
            size_t olen = x->outer_ip_version == 6 ? 16 : 4;
            m->tunnel_type = (Zflow__TunnelType)x->tunnel_type;
            m->tunnel_id = x->tunnel_id;
            if (x->outer_ip_version) {
                m->tunnel_outer_src.data = (uint8_t *)x->outer_src_ip;
                m->tunnel_outer_src.len = olen;
                m->tunnel_outer_dst.data = (uint8_t *)x->outer_dst_ip;
                m->tunnel_outer_dst.len = olen;
            }
        }
    }

    const flow_l7_t *d = f->l7;
    if (d && d->detected && l7) {
        m->l7_master_id = d->master_id;
        m->l7_app_id = d->app_id;
        m->l7_master_name = (char *)l7_proto_id_name(l7, d->master_id);
        m->l7_app_name = (char *)l7_proto_id_name(l7, d->app_id);
        m->l7_proto_name =
            (char *)l7_full_name(l7, d->master_id, d->app_id, r->proto_name, sizeof r->proto_name);
        m->l7_category_id = d->category_id;
        m->l7_category = (char *)l7_category_name(l7, d->category_id);
        m->l7_risk = d->risk;
        m->l7_risk_score = d->risk_score;
        m->server_name = (char *)d->server_name;
    } else if (l7 && f->l7_done) {
        m->l7_master_name = m->l7_app_name = m->l7_proto_name = (char *)"Unknown";
        m->l7_category = (char *)"Unspecified";
    }

    if (d && d->community_id[0])
        m->community_id = (char *)d->community_id;
    else if (flow_community_id(f, r->community_id) == 0)
        m->community_id = r->community_id;
}

int flow_community_id(const flow_t *f, char *out)
{
    const flow_key_t *k = &f->key;
    uint16_t sport = k->cli_port, dport = k->srv_port;
    int one_way = 0;
    if (k->l4_proto == PROTO_ICMP || k->l4_proto == PROTO_ICMPV6)
        one_way = community_id_icmp_ports(k->ip_version, f->icmp_type, f->icmp_code, &sport,
                                          &dport);
    return community_id_v1(0, k->ip_version, k->cli_ip, k->srv_ip, k->l4_proto, sport, dport,
                           one_way, out);
}
