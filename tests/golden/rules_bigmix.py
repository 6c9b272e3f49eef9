"""Rule of generated__big-mix.pcap (mergecap of 872 nDPI/Zeek Ethernet captures, see
MANIFEST.md): tshark's conv tables of the merged file are the reference at L4. Each exception
names the input traffic it comes from; the same effects are checked exactly on the individual
captures (rules.py). Fragment counts below were derived with derive_fragments.py (tshark with
reassembly off, every fragment given to its first fragment's conversation).
"""

TUNNEL_PORT = ("tunnel ports: VXLAN 4789, Geneve 6081, GTP-U 2152, Teredo 3544. tshark lists "
               "the outer UDP conversation (and decodes by port only), we decapsulate and "
               "validate the payload; packets on these ports that are not a tunnel for us "
               "(GTP echo, VXLAN with ARP inside...) stay outer flows. Both sides are left out "
               "at L4; the inner conversations are compared")
ORPHAN = ("port 0: IP fragments whose first fragment is absent (or has no complete L4 header) "
          "have no ports for us; tshark puts no such packet in conv,tcp/udp")
FRAG = ("every IP fragment is a packet of its first fragment's flow for us, tshark counts a "
        "fragmented datagram once in conv,udp/tcp (derive_fragments.py)")
OUTER_FRAG = ("tunnel packets that were IP-fragmented on their OUTER header (GRE, GRE/TEB, "
              "GTP-U): tshark reassembles the outer datagram and counts the inner packet; we do "
              "not reassemble, a fragmented tunnel packet is not decapsulated and counts in the "
              "outer (tunnel) flow")
UNSUPPORTED = ("encapsulation the probe does not decode (not in its tunnel list): tshark counts "
               "the inner conversation, we count the packet in the outer UDP/GRE flow or, for "
               "an L2 we don't know, as not_ip")
RH = ("IPv6 routing header / home address option (Zeek ipv6 traces): tshark keys these "
      "conversations on the final destination / home address, we on the addresses of the IPv6 "
      "header on the wire")

TEREDO_RELAY = ("Teredo client <-> relay traffic of zeek__tunnels_Teredo.pcap on port 32900: "
                "tshark decodes Teredo on port 3544 only and lists it as UDP; Zeek (authoritative "
                "there) decapsulates it; checked on that capture")


def _fix(pat, counts):
    return (pat, counts, FRAG)


BIGMIX = {
    "refs": ["tshark"],
    "why": "tshark conv tables of the merged capture; L4 only (see l3_why)",
    # frame.len - innermost IP length over the whole file: 14..324 (VLAN, trailers, tunnels);
    # lo = 14: no flow may have more IP bytes than its frames minus the Ethernet header.
    "l2": (14, 324),
    "l3": False,
    "l3_why": ("conv,ip of 872 merged inputs mixes the outer pairs of dozens of tunnel inputs "
               "(incl. AYIYA, CAPWAP, GRE-in-UDP, GRE/802.11 we don't decapsulate), IPv6 "
               "fragments counted once, and tunnelled traffic behind L2s we don't decode "
               "(FabricPath, 802.1ah): each effect is checked exactly on the individual "
               "captures' L3 tables"),
    "ignore": {"tshark": [
        ("udp port 4789", TUNNEL_PORT), ("udp port 6081", TUNNEL_PORT),
        ("udp port 2152", TUNNEL_PORT), ("udp port 3544", TUNNEL_PORT),
        ("tcp 10.0.0.5:80 <-> 192.168.1.100:12345",
         "frame 151577 is a lone non-first IPv4 fragment (offset 24): tshark dissects TCP in "
         "it, for us it has no ports (port-0 flow)"),
        ("tcp host 10.131.119.38", OUTER_FRAG), ("tcp host 10.131.17.170", OUTER_FRAG),
        ("tcp host 10.131.47.185", OUTER_FRAG), ("tcp host 192.168.69.2", OUTER_FRAG),
        ("tcp 10.155.182.202:41511 <-> 10.155.186.57:6005", OUTER_FRAG),
        ("udp 1.1.1.1:53 <-> 172.17.0.2:51714", UNSUPPORTED + " (GRE in UDP, frames 147831-4)"),
        ("tcp 172.17.0.2:36518 <-> 192.0.78.150:80", UNSUPPORTED + " (GRE in UDP)"),
        ("tcp 149.159.130.184:49392 <-> 157.240.18.16:443", UNSUPPORTED + " (GRE carrying 802.11)"),
        ("tcp [2001:4860:b002::68]:80 <-> [2001:4978:f:4c::2]:53382", UNSUPPORTED + " (AYIYA)"),
        ("tcp 10.199.249.11:49601 <-> 10.199.249.12:49416", UNSUPPORTED + " (802.1ah PBB)"),
        ("tcp 172.29.9.146:38856 <-> 172.29.9.147:8009",
         UNSUPPORTED + " (some frames in Cisco FabricPath, ethertype 0x8903)"),
        ("udp 192.168.2.16:3797 <-> 83.170.1.38:32900", TEREDO_RELAY),
        ("udp host 2001:78:1:32::1", RH), ("udp host 2001:78:1:32::2", RH),
        ("tcp host 2001:78:1:32::1", RH), ("tcp host 2001:78:1:32::2", RH),
        ("udp host 2001:4f8:4:7:2e0:81ff:fe52:ffff", RH),
        ("tcp host 2001:4f8:4:7:2e0:81ff:fe52:ffff", RH),
    ]},
    "ignore_ours": {"tshark": [
        ("udp port 4789", TUNNEL_PORT), ("udp port 6081", TUNNEL_PORT),
        ("udp port 2152", TUNNEL_PORT), ("udp port 3544", TUNNEL_PORT),
        ("udp port 0", ORPHAN), ("tcp port 0", ORPHAN),
        ("sctp port 57005",
         "Zeek community-id SCTP inputs (1.1.1.x/1234::x -> 2.2.2.2/5678:: port 48879): "
         "SCTP packets with a common header and no chunk; tshark lists no SCTP conversation "
         "for them, for us they are packets of an SCTP flow"),
        ("udp host 2001:4f8:4:7:2e0:81ff:fe52:ffff", RH),
        ("?udp 192.168.2.16:3797 <-> 83.170.1.38:32900", TEREDO_RELAY),
        ("?tcp [2001:0:4137:9e50:8000:f12a:b9c8:2815]:1286 <-> [2001:4860:0:2001::68]:80",
         TEREDO_RELAY + " (the inner flow, once the probe decapsulates it)"),
    ]},
    "fix": {"tshark": [
        ("udp 0.0.0.0:68 <-> 255.255.255.255:67", {"0.0.0.0:68": 54, "255.255.255.255:67": 0},
         UNSUPPORTED + ": 5 of tshark's 59 DHCP discovers are inside CAPWAP-data/802.11 "
         "(frames 23682...), they are packets of the CAPWAP UDP flow for us"),
        ("udp [fd00::1]:40000 <-> [fd00::2]:40001", {"[fd00::1]:40000": 1, "[fd00::2]:40001": 1},
         UNSUPPORTED + ": frame 151935 is inside AYIYA"),
        _fix("udp 164.1.123.163:123 <-> 164.1.123.61:137",
             {"164.1.123.163:123": 6, "164.1.123.61:137": 0}),
        _fix("udp 172.217.40.76:56680 <-> 193.24.227.238:53",
             {"172.217.40.76:56680": 1, "193.24.227.238:53": 4}),
        _fix("udp 173.194.169.104:59464 <-> 193.24.227.238:53",
             {"173.194.169.104:59464": 2, "193.24.227.238:53": 4}),
        _fix("udp 192.168.1.1:53 <-> 192.168.1.2:2823", {"192.168.1.2:2823": 4, "192.168.1.1:53": 0}),
        _fix("udp 193.24.227.238:53 <-> 194.247.5.6:51791",
             {"194.247.5.6:51791": 2, "193.24.227.238:53": 4}),
        _fix("udp 193.24.227.238:53 <-> 74.125.47.136:59330",
             {"74.125.47.136:59330": 1, "193.24.227.238:53": 4}),
        _fix("udp [2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729 <-> [2001:470:765b::a25:53]:53",
             {"[2001:470:1f0b:16b0:20c:29ff:fe7c:a4cb]:55729": 4, "[2001:470:765b::a25:53]:53": 2}),
        _fix("udp [2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851 <-> [2607:f740:b::f93]:53",
             {"[2001:470:1f11:81f:d138:5f55:6d4:1fe2]:51851": 2, "[2607:f740:b::f93]:53": 3}),
        _fix("udp [2001:470:765b::a25:53]:53 <-> [2a00:1450:4013:c03::10a]:46433",
             {"[2a00:1450:4013:c03::10a]:46433": 3, "[2001:470:765b::a25:53]:53": 2}),
        _fix("udp [2001:470:765b::a25:53]:53 <-> [2a00:1450:4013:c06::105]:63369",
             {"[2a00:1450:4013:c06::105]:63369": 3, "[2001:470:765b::a25:53]:53": 2}),
    ] + [
        (pat, {src: 313, dst: 0}, "ndpi__ip_fragmented_garbage input: " + FRAG +
         " (tshark found TCP in the reassembled garbage of 2 of these 4 datagrams)")
        for pat, src, dst in [
            ("tcp 10.0.0.2:16417 <-> 10.128.0.2:16419", "10.0.0.2:16417", "10.128.0.2:16419"),
            ("tcp 10.0.0.2:18730 <-> 10.128.0.2:20304", "10.0.0.2:18730", "10.128.0.2:20304"),
            ("tcp 10.0.0.2:24102 <-> 10.128.0.2:10792", "10.0.0.2:24102", "10.128.0.2:10792"),
            ("tcp 10.0.0.2:9253 <-> 10.128.0.2:24102", "10.0.0.2:9253", "10.128.0.2:24102")]
    ] + [
        _fix("tcp 10.0.0.1:80 <-> 128.32.46.142:7790", {"128.32.46.142:7790": 5, "10.0.0.1:80": 0}),
        _fix("tcp 131.243.1.10:21 <-> 210.54.213.247:1265",
             {"210.54.213.247:1265": 5, "131.243.1.10:21": 0}),
    ]},
}
