"""Per-capture rules of the golden test: which reference is authoritative, and every exception
with its reason. compare.py (its docstring) says what each check means.

Keys of a rule (rule(name, ...)):
  refs        references compared, in order: "tshark" (reference/<f>.conv.txt), "ndpi"
              (ndpi-results/<f>.out), "zeek" (zeek-baselines/conn/<f>.conn.log or zeek_log).
              Every listed reference must match; one left out has its reason in `why`.
  why         why these references (and not the others) are authoritative for this capture.
  l2          (lo, hi): bytes of L2 + encapsulation per frame, i.e. tshark frame.len minus
              the innermost IP length, over the capture's IP frames (ICMP errors left out).
              Derived once with
                tshark -r F -T fields -E occurrence=l -e frame.len -e ip.len -e ipv6.plen
              lo is never below the plain L2 header: a frame whose IP length field claims more
              than the wire carried must not give more IP bytes than the wire had.
              None: no byte check against tshark (reason in bytes_why).
  l3 / l3_why compare tshark conv,ip/ipv6 (default True).
  l4 / l4_why compare the L4 tables (default True).
  ignore      {ref: [(pattern, reason)]}: reference conversations that are not flows for us
              by definition (tunnel outer pairs...). Patterns: "udp port 4789",
              "ip A <-> B", "ip A" (any pair with A), "tcp A:p <-> B:q", "icmpv6 A <-> B",
              "59 *" (a protocol, any key). A pattern that matches nothing fails the test.
  ignore_ours {ref: [(pattern, reason)]}: our flows the reference cannot list.
  fix         {ref: [(pattern, {endpoint: packets}, reason)]}: the reference's packets per
              endpoint replaced by the value our definition requires (fragments counted one
              by one, ...). Derived with tshark from the frames named in the reason.
  expect      {summary field | "flow_count": value}: exact structural expectations.
  stderr_contains  [text]: must appear on the probe's stderr.
  l7          True: a second run with nDPI on must give identical end events.
"""

RULES = {}


def rule(name, refs=("tshark",), why="plain capture: tshark's conversations are the flows",
         l2=(14, 14), **kw):
    kw.update(refs=list(refs), why=why, l2=l2)
    kw.setdefault("bytes_why", "")
    RULES[name] = kw


# ---- reasons used more than once ----------------------------------------------------------

OUTER = ("tunnel outer pair: tshark counts every IP layer of a tunnelled packet, we decapsulate "
         "and account only the innermost IP (the outer conversation is not a flow)")
OUTER_UDP = ("tunnel outer UDP conversation: tshark lists it next to the inner one; we "
             "decapsulate and account only the inner flow")
NDPI_OK = "nDPI's expected flows (inner flows for tunnels) cross-check the packet counts"
PADDED = ("Ethernet frames below 60 bytes carry padding: frame - IP bytes is 14..20 per frame "
          "(14 + up to 6 padding bytes after a 40-byte IPv4/TCP packet)")
FRAG_TSHARK = ("tshark counts a fragmented datagram once in conv,udp/tcp (the reassembling "
               "frame) and IPv6 fragments once in conv,ipv6, while every fragment is a packet "
               "of the first fragment's flow for us (conv,ip counts IPv4 fragments one by one "
               "and agrees with us)")
FRAG_NDPI = "ndpiReader skips non-first fragments: it counts a fragmented datagram once"

ETH = (14, 14)

# ---- nDPI captures -------------------------------------------------------------------------

rule("ndpi__1kxun.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(14, 20), bytes_why=PADDED,
     l7=True)
rule("ndpi__443-firefox.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__6in4tunnel.pcap", refs=("tshark", "ndpi"),
     why="6in4: tshark lists the inner IPv6 conversations; nDPI's inner flows cross-check",
     l2=(34, 34),  # 14 Ethernet + 20 outer IPv4
     ignore={"tshark": [("ip 174.3.73.24 <-> 184.105.255.26", OUTER)]})
rule("ndpi__KakaoTalk_talk.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(16, 16))
rule("ndpi__badpackets.pcap", refs=("tshark",),
     why="93 first fragments of DNS answers whose IP total length (1500) exceeds the frame: "
         "tshark counts each frame; ndpi-results/ndpi__badpackets.pcap.out is EMPTY (0 bytes: "
         "ndpiReader printed no flow), so nDPI cannot be compared",
     l2=ETH)  # IP length field > wire length: IP bytes must stay <= frame - 14
rule("ndpi__bjnp.pcap", refs=("tshark", "ndpi"), why=NDPI_OK,
     l2=(2, 2))  # DLT_RAW; every frame has 2 bytes after the IP packet
rule("ndpi__dns.pcap", refs=("tshark", "ndpi"), why=NDPI_OK,
     l2=(14, 30))  # 2 frames with VLAN tags + trailer (30), 3 plain
rule("ndpi__dns_fragmented.pcap", refs=("tshark", "ndpi"),
     why="fragmented DNS (IPv4 and IPv6): both references count a fragmented datagram once; "
         "corrected per conversation below (every fragment is a packet for us)",
     l7=True,
     fix={"tshark": [
         ("udp 172.217.40.76:56680 <-> 193.24.227.238:53",
          {"172.217.40.76:56680": 1, "193.24.227.238:53": 2}, FRAG_TSHARK + ": answer in 2 fragments"),
         ("udp 173.194.169.104:59464 <-> 193.24.227.238:53",
          {"173.194.169.104:59464": 1, "193.24.227.238:53": 2}, FRAG_TSHARK + ": answer in 2 fragments"),
         ("udp 194.247.5.6:51791 <-> 193.24.227.238:53",
          {"194.247.5.6:51791": 1, "193.24.227.238:53": 2}, FRAG_TSHARK + ": answer in 2 fragments"),
         ("udp 74.125.47.136:59330 <-> 193.24.227.238:53",
          {"74.125.47.136:59330": 1, "193.24.227.238:53": 2}, FRAG_TSHARK + ": answer in 2 fragments"),
         ("udp [2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729 <-> [2001:470:765b::a25:53]:53",
          {"[2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729": 2, "[2001:470:765b::a25:53]:53": 2},
          FRAG_TSHARK + ": answer in 2 IPv6 fragments"),
         ("udp [2a00:1450:4013:c03::10a]:46433 <-> [2001:470:765b::a25:53]:53",
          {"[2a00:1450:4013:c03::10a]:46433": 1, "[2001:470:765b::a25:53]:53": 2},
          FRAG_TSHARK + ": answer in 2 IPv6 fragments (frames 5, 6)"),
         ("udp [2a00:1450:4013:c06::105]:63369 <-> [2001:470:765b::a25:53]:53",
          {"[2a00:1450:4013:c06::105]:63369": 1, "[2001:470:765b::a25:53]:53": 2},
          FRAG_TSHARK + ": answer in 2 IPv6 fragments"),
         ("ip 2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb <-> 2001:470:765b::a25:53",
          {"2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb": 6, "2001:470:765b::a25:53": 6},
          FRAG_TSHARK + ": conv,ipv6 has 5 answers from the server, one of them in 2 fragments"),
         ("ip 2a00:1450:4013:c03::10a <-> 2001:470:765b::a25:53",
          {"2a00:1450:4013:c03::10a": 1, "2001:470:765b::a25:53": 2}, FRAG_TSHARK),
         ("ip 2a00:1450:4013:c06::105 <-> 2001:470:765b::a25:53",
          {"2a00:1450:4013:c06::105": 1, "2001:470:765b::a25:53": 2}, FRAG_TSHARK),
     ], "ndpi": [
         ("udp 172.217.40.76:56680 <-> 193.24.227.238:53",
          {"172.217.40.76:56680": 1, "193.24.227.238:53": 2}, FRAG_NDPI),
         ("udp 173.194.169.104:59464 <-> 193.24.227.238:53",
          {"173.194.169.104:59464": 1, "193.24.227.238:53": 2}, FRAG_NDPI),
         ("udp 194.247.5.6:51791 <-> 193.24.227.238:53",
          {"194.247.5.6:51791": 1, "193.24.227.238:53": 2}, FRAG_NDPI),
         ("udp 74.125.47.136:59330 <-> 193.24.227.238:53",
          {"74.125.47.136:59330": 1, "193.24.227.238:53": 2}, FRAG_NDPI),
         ("udp [2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729 <-> [2001:470:765b::a25:53]:53",
          {"[2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729": 2, "[2001:470:765b::a25:53]:53": 2},
          FRAG_NDPI),
         ("udp [2a00:1450:4013:c03::10a]:46433 <-> [2001:470:765b::a25:53]:53",
          {"[2a00:1450:4013:c03::10a]:46433": 1, "[2001:470:765b::a25:53]:53": 2}, FRAG_NDPI),
         ("udp [2a00:1450:4013:c06::105]:63369 <-> [2001:470:765b::a25:53]:53",
          {"[2a00:1450:4013:c06::105]:63369": 1, "[2001:470:765b::a25:53]:53": 2}, FRAG_NDPI),
     ]})
rule("ndpi__http_ipv6.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__icmp-tunnel.pcap", refs=("tshark", "ndpi"),
     why="ICMP only: tshark conv,ip and nDPI's ICMP flow", l2=(14, 20), bytes_why=PADDED)
rule("ndpi__ip_fragmented_garbage.pcap", refs=("tshark",),
     why="1252 garbage IPv4 fragments in 4 datagrams (id 0xa0 reused): 4 first fragments "
         "(frames 1, 314, 627, 940) carrying 16 bytes of TCP header, 1248 later fragments. "
         "conv,ip counts all 1252. nDPI is not used: it counts only the 4 first fragments "
         "(ndpiReader skips non-first fragments)",
     l2=(14, 18),
     fix={"tshark": [
         (pat, {src: 313, dst: 0},
          "tshark's conv,tcp has 1 frame for 2 of the 4 datagrams (TCP found in the "
          "reassembled payload); for us the 313 fragments of each datagram are packets of "
          "the flow keyed by its first fragment's ports (derive_fragments.py)")
         for pat, src, dst in [
             ("tcp 10.0.0.2:16417 <-> 10.128.0.2:16419", "10.0.0.2:16417", "10.128.0.2:16419"),
             ("tcp 10.0.0.2:18730 <-> 10.128.0.2:20304", "10.0.0.2:18730", "10.128.0.2:20304"),
             ("tcp 10.0.0.2:24102 <-> 10.128.0.2:10792", "10.0.0.2:24102", "10.128.0.2:10792"),
             ("tcp 10.0.0.2:9253 <-> 10.128.0.2:24102", "10.0.0.2:9253", "10.128.0.2:24102")]]})
rule("ndpi__ipv6_in_gtp.pcap", refs=("tshark", "ndpi"),
     why="GTP-U: tshark lists the inner IPv6 ESP packets at L3; nDPI's inner flow cross-checks",
     l2=(58, 58),  # 14 + 20 + 8 + 16 (GTP with extension)
     ignore={"tshark": [("udp port 2152", OUTER_UDP),
                        ("ip 10.238.254.75 <-> 10.238.80.26", OUTER),
                        ("ip 10.238.254.77 <-> 10.238.36.92", OUTER)]})
rule("ndpi__malformed_dns.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__nano.pcapng", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__nats.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(4, 4))  # BSD loopback
rule("ndpi__netflowv9.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__quic.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l7=True)
rule("ndpi__sflow.pcap", refs=("tshark", "ndpi"), why=NDPI_OK,
     l2=(14, 154))  # 8 frames 14, one VLAN-tagged frame with a 136-byte trailer
rule("ndpi__snmp.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(14, 18))  # some 802.1Q
rule("ndpi__ssh.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__synscan.pcap", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(14, 20),
     bytes_why=PADDED)
rule("ndpi__syslog.pcap", refs=("tshark", "ndpi"),
     why=NDPI_OK + "; 6 syslog packets arrive over 6in4 (outer pairs excluded)",
     l2=(14, 70),  # plain, 802.1Q, 6in4 (34) and one 70
     ignore={"tshark": [("ip 193.24.227.10 <-> 216.66.86.114", OUTER + " (6in4)"),
                        ("ip 193.24.227.12 <-> 216.66.80.30", OUTER + " (6in4)")]})
rule("ndpi__tcp_scan.pcapng", refs=("tshark", "ndpi"), why=NDPI_OK, l2=(14, 20),
     bytes_why=PADDED)
rule("ndpi__teredo.pcap", refs=("tshark",),
     why="Teredo on port 3544: tshark decodes it and lists the inner IPv6 pairs (conv,ipv6). "
         "nDPI is not used: this ndpiReader does not decapsulate Teredo (it lists the 5 outer "
         "UDP conversations as protocol Teredo, no inner flow)",
     l2=(42, 63),  # 14 + 20 + 8 (+ origin indication 8 / authentication 13..21)
     ignore={"tshark": [("udp port 3544", OUTER_UDP),
                        ("ip 194.136.28.76", OUTER + " (Teredo server)")]})
rule("ndpi__tls_ech.pcapng", refs=("tshark", "ndpi"), why=NDPI_OK)
rule("ndpi__vxlan.pcap", refs=("tshark", "ndpi"),
     why="VXLAN: tshark lists the inner conversations next to the outer ones; nDPI's inner "
         "flows cross-check",
     l2=(68, 68),  # 14 + 4 (802.1Q) + 20 + 8 + 8 + 14
     l7=True,
     ignore={"tshark": [("udp port 4789", OUTER_UDP),
                        ("ip 192.168.22.4 <-> 192.168.22.5", OUTER)]})
rule("ndpi__wireguard.pcap", refs=("tshark", "ndpi"), why=NDPI_OK)

# ---- tcpdump / tcpreplay -------------------------------------------------------------------

rule("tcpdump__802.1ad_QinQ.pcap", why="2 ARP frames in 802.1ad: no IP, no flow",
     expect={"flow_count": 0, "not_ip": 2})
rule("tcpdump__bigtcp-ipv4.pcap",
     why="one 80 KB BIG TCP packet (IPv4 total length 0): IP bytes from the capture")
rule("tcpdump__pppoes.pcap", why="2 PPPoE LCP frames: no IP, no flow",
     expect={"flow_count": 0, "not_ip": 2})
rule("tcpdump__tcp-handshake-nano.pcap", l2=(16, 16))
rule("tcpdump__timestamp_invalid_nano.pcap", l2=(16, 16))
rule("tcpdump__various_gre.pcap",
     why="GRE variants; tshark counts each IP layer of a GRE packet in conv,ip",
     l2=(18, 54),  # 802.1Q + outer IP + GRE (with key, seq, ERSPAN...)
     expect={"not_ip": 70},  # 63 STP + 5 LOOP + CDP + DTP, no IP
     fix={"tshark": [
         ("ip 10.172.64.6 <-> 10.172.64.7", {"10.172.64.6": 9, "10.172.64.7": 9},
          "tshark's 19/19 counts this GRE outer pair also for the 5+5 ICMP and 1+1 PIM "
          "packets it carries (ours: inner flows 172.17.1.x) and counts both layers of the 8 "
          "GRE keepalives wrapped in GRE (frames 11, 16...). Innermost IP per frame: 4+4 "
          "keepalive-in-GRE, 4+4 plain keepalives and 1+1 CDP-over-GRE = 9/9")]})
rule("tcpreplay__test.pcap",
     why="tcpreplay's mixed capture (HTTP, DNS, ICMP, MPLS, VLAN)",
     l2=(14, 44),  # plain, 802.1Q, MPLS, pseudowire; frame 11 has IP length 255 > frame
     expect={"not_ip": 3})

# ---- vast ------------------------------------------------------------------------------------

rule("vast__example.pcap", refs=("tshark", "zeek"),
     why="tshark conversations; Zeek's conn.log (vast-baselines) cross-checks packets and "
         "IP bytes",
     zeek_log="vast-baselines/vast__example.pcap.zeek-conn.log", l2=(14, 20), bytes_why=PADDED,
     l7=True)

# ---- Zeek traces -----------------------------------------------------------------------------

rule("zeek__chksums_ip4-tcp-bad-chksum.pcap",
     why="bad TCP checksum: still a packet of its flow (checksums are not verified)")
rule("zeek__communityid_arp.pcap", why="ARP only: no flow",
     expect={"flow_count": 0, "not_ip": 6})
rule("zeek__communityid_icmp.pcap", why="ICMP: tshark conv,ip")
rule("zeek__communityid_icmp6.pcap", why="ICMPv6: tshark conv,ipv6")
rule("zeek__communityid_ipv6.pcap")
rule("zeek__communityid_sctp.pcap", why="SCTP: tshark conv,sctp")
rule("zeek__communityid_tcp.pcap")
rule("zeek__communityid_udp.pcap")
rule("zeek__echo-connections.pcap", why="500 loopback TCP echo connections")
rule("zeek__erspanII.pcap", refs=("tshark", "zeek"),
     why="ERSPAN II: tshark lists the mirrored ICMP pair; Zeek's inner conn cross-checks",
     l2=(64, 64),  # 14 + 20 + 8 GRE/seq + 8 ERSPAN + 14
     ignore={"tshark": [("ip 1.1.1.1 <-> 2.2.2.2", OUTER + " (GRE/ERSPAN)")]})
rule("zeek__http-vlan-0.pcap", l2=(18, 18))
rule("zeek__http_1000-requests-one-dropped-response.pcap")
rule("zeek__http_bro.org.pcap", l2=(14, 20), bytes_why=PADDED, l7=True)
rule("zeek__http_get-to-ssh-server.pcap", l2=(14, 20), bytes_why=PADDED)
rule("zeek__ipv4_fragmented-3.pcap",
     why="5 IPv4 fragments of one TCP segment, never completed: conv,ip counts the 5; tshark "
         "has no TCP conversation because it dissects TCP only after reassembly",
     fix={"tshark": [("tcp 210.54.213.247:1265 <-> 131.243.1.10:21",
                      {"210.54.213.247:1265": 5, "131.243.1.10:21": 0},
                      "the first fragment (frame 1, offset 0) carries the TCP header "
                      "1265 -> 21 (tshark -o ip.defragment:FALSE); the 4 others are packets "
                      "of its flow")]})
rule("zeek__ipv6-fragmented-dns.pcap",
     why="IPv6 fragments: tshark counts a reassembled datagram once in conv,udp and conv,ipv6",
     fix={"tshark": [
         ("udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 <-> [2607:f740:b::f93]:53",
          {"[2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851": 2, "[2607:f740:b::f93]:53": 3},
          FRAG_TSHARK + ": the answer is frames 6, 7, 8 (3 fragments, id 2)"),
         ("ip 2001:470:1f11:81f:d138:5f55:6d4:1fe2 <-> 2607:f740:b::f93",
          {"2001:470:1f11:81f:d138:5f55:6d4:1fe2": 3, "2607:f740:b::f93": 5},
          FRAG_TSHARK + ": the server sent frames 2, 4, 6, 7, 8 (4 = a lone last fragment "
          "of id 1)")]},
     ignore_ours={"tshark": [
         ("udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:0 <-> [2607:f740:b::f93]:0",
          "frame 4 is the last fragment (offset 362) of datagram id 1 whose first fragment "
          "is not in the capture: no ports, our port-0 flow; tshark has no conv,udp for it")]})
rule("zeek__linux_dlt_sll2.pcap", l2=(20, 20))
rule("zeek__mixed-vlan-mpls.pcap", refs=("tshark", "zeek"),
     why="VLAN and MPLS; Zeek's conn.log cross-checks packets and IP bytes",
     l2=(14, 40))
rule("zeek__modbus_modbusBig.pcap", l2=(14, 20), bytes_why=PADDED)
rule("zeek__nflog-http.pcap", refs=(),
     why="DLT_NFLOG is not supported by the probe (by design): every packet is counted as "
         "unsupported_linktype and no flow is made; tshark's conversations are not expected",
     l2=None, bytes_why="no flow",
     expect={"flow_count": 0, "unsupported_linktype": 13, "decoded": 0},
     stderr_contains=["is not supported"])
rule("zeek__quic_chromium-115.0.5790.110-google-de-fragmented.pcap")
rule("zeek__ssh_ssh.pcap", refs=("tshark", "zeek"),
     why="tshark conversations; Zeek's conn.log cross-checks packets and IP bytes",
     l2=(14, 20), bytes_why=PADDED)
rule("zeek__tcp_truncated-header.pcap",
     why="frame 1 (the SYN) is cut by the snaplen inside its TCP options (68 of 74 bytes: "
         "ports, flags and seq are there); conv,ip counts it",
     l2=(14, 20), bytes_why=PADDED,
     fix={"tshark": [("tcp 201.186.157.67:60827 <-> 128.3.26.249:25",
                      {"201.186.157.67:60827": 10, "128.3.26.249:25": 14},
                      "tshark leaves frame 1 out of conv,tcp: its TCP dissector stops on the "
                      "cut options before the conversation tap; the 20-byte TCP header is "
                      "complete, so the SYN is a packet of this flow")]})
rule("zeek__tls_tls-fragmented-handshake.pcap")
rule("zeek__trunc_ip4-trunc.pcap", why="one IPv4 header cut at 6 of 20 bytes: no flow",
     expect={"flow_count": 0, "truncated_ipv4": 1})
rule("zeek__trunc_ip6-ext-trunc.pcap", why="one IPv6 packet with a cut extension header",
     expect={"flow_count": 0, "truncated_ipv6_ext": 1})
rule("zeek__tunnels_Teredo.pcap", refs=("zeek",),
     why="Teredo: Zeek finds Teredo by content on any UDP port (client <-> relay traffic on "
         "83.170.1.38:32900 included) and lists the inner IPv6 conns; tshark decodes Teredo "
         "on port 3544 only, so its tables show the relay traffic as plain UDP and are not "
         "used here",
     l7=True,
     ignore_ours={"zeek": [
         ("59 *", "IPv6 'no next header' packets (Teredo bubbles) are not Zeek conns "
                  "(Zeek keeps TCP/UDP/ICMP only)")]})
rule("zeek__tunnels_geneve.pcap", refs=("tshark", "zeek"),
     why="Geneve: tshark lists the inner ICMP pair at L3; Zeek's inner conn cross-checks",
     l2=(64, 72),  # 14 + 20 + 8 + 8 (+ 8 options) + 14
     ignore={"tshark": [("udp port 6081", OUTER_UDP),
                        ("ip 20.0.0.1 <-> 20.0.0.2", OUTER)]})
rule("zeek__tunnels_gre-sample.pcap", refs=("tshark", "zeek"),
     why="GRE: tshark lists the inner conversations; Zeek's inner conns cross-check",
     l2=(38, 38),  # 14 + 20 + 4 GRE
     ignore={"tshark": [("ip 172.27.1.66 <-> 66.59.109.137", OUTER + " (GRE)")]})
rule("zeek__tunnels_vxlan.pcap", refs=("tshark", "zeek"),
     why="VXLAN: tshark lists the inner ICMP pair at L3; Zeek's inner conn cross-checks; the "
         "2 VXLAN packets carrying ARP are not IP (not_ip) and make no flow",
     l2=(64, 64),  # 14 + 20 + 8 + 8 + 14
     expect={"not_ip": 2},
     ignore={"tshark": [("udp port 4789", OUTER_UDP),
                        ("ip 192.168.56.11 <-> 192.168.56.12", OUTER)]})
rule("zeek__vlan-qinqinq.pcap", l2=(26, 26))  # 14 + 3 tags

# ---- the merged throughput capture ---------------------------------------------------------

from rules_bigmix import BIGMIX  # noqa: E402  (long lists, kept apart)

RULES["generated__big-mix.pcap"] = BIGMIX
