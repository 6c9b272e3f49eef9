#!/usr/bin/env python3
"""The demo's scripted traffic on net-c, and what an IDS watching it would say.

  scenario.py pcap FILE   writes the traffic as a pcap (Ethernet, to the broadcast address so a
                          bridge floods it to every port): replay.sh replays it with tcpreplay
  scenario.py eve         prints Suricata Eve JSON lines about the same flows (alert, http, dns,
                          flow, stats records; same 5-tuples, same Community IDs), timestamped
                          now: suricata-syslog.sh sends them to the collector with logger

The flows:
  1. an office host downloads /downloads/update.bin from 203.0.113.7 (a documentation address,
     in the collector's default blacklist): an IDS alert, and the probe's flow is blacklisted
  2. the DNS lookup before it (10.99.0.10 -> 10.99.0.53)
  3. an SNMP query to 10.99.0.99 nobody answers (a unidirectional UDP flow)
  4. a SYN scan of 10.99.0.20 from 10.99.0.66 (refused: RST), flagged by the IDS
Only the standard library; no third-party data.
"""
import base64
import hashlib
import ipaddress
import json
import random
import socket
import struct
import sys
import time

BCAST = b"\xff" * 6
MAC = {
    "10.99.0.10": bytes.fromhex("02005e000a0a"),
    "10.99.0.53": bytes.fromhex("02005e000a35"),
    "10.99.0.20": bytes.fromhex("02005e000a14"),
    "10.99.0.66": bytes.fromhex("02005e000a42"),
    "10.99.0.99": bytes.fromhex("02005e000a63"),
    "10.99.0.1": bytes.fromhex("02005e000a01"),  # the office router, towards 203.0.113.7
}

OFFICE = "10.99.0.10"
BAD_SERVER = "203.0.113.7"
BAD_HOST = "updates.example.net"
DOWNLOAD = ("tcp", OFFICE, 49732, BAD_SERVER, 80)
LOOKUP = ("udp", OFFICE, 53011, "10.99.0.53", 53)
# a new source port each time the capture is written: each replay round is a new flow, which
# ends (idle timeout) unanswered
SNMP = ("udp", OFFICE, random.randrange(20000, 60000), "10.99.0.99", 161)
SCANNER, SCANNED = "10.99.0.66", "10.99.0.20"
SCAN_SPORT = 61000
SCAN_PORTS = list(range(20, 30)) + [53, 80, 110, 135, 139, 143, 443, 445, 3306, 3389, 5900, 8080]
PROTO = {"tcp": 6, "udp": 17}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


ip_id = random.randrange(1, 60000)


def ipv4(src, dst, proto, payload, ttl=64):
    global ip_id
    ip_id = (ip_id + 1) & 0xFFFF
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ip_id, 0x4000, ttl, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def l4_checksum(src, dst, proto, segment):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto,
                                                                          len(segment))
    return checksum(pseudo + segment)


def tcp(src, sport, dst, dport, seq, ack, flags, data=b""):
    fl = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}
    bits = sum(fl[c] for c in flags)
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      bits, 64240, 0, 0) + data
    cs = l4_checksum(src, dst, 6, seg)
    return ipv4(src, dst, 6, seg[:16] + struct.pack("!H", cs) + seg[18:])


def udp(src, sport, dst, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    cs = l4_checksum(src, dst, 17, seg) or 0xFFFF
    return ipv4(src, dst, 17, seg[:6] + struct.pack("!H", cs) + seg[8:])


def mac_of(addr):
    return MAC.get(addr, MAC["10.99.0.1"])


def frame(src, packet):
    # to the broadcast address: the bridge floods it, every container of the network sees it
    return BCAST + mac_of(src) + b"\x08\x00" + packet


def dns_query(qid, name, qtype=1):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def dns_answer(qid, name, addr):
    q = dns_query(qid, name)
    hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(addr)
    return hdr + q[12:] + ans


def snmp_get(reqid):
    # SNMPv2c get-request, community "public", sysDescr.0
    oid = bytes.fromhex("06082b06010201010100")
    varbind = b"\x30" + bytes([len(oid) + 2]) + oid + b"\x05\x00"
    vbl = b"\x30" + bytes([len(varbind)]) + varbind
    rid = b"\x02\x04" + struct.pack("!I", reqid)
    pdu_body = rid + b"\x02\x01\x00\x02\x01\x00" + vbl
    pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
    body = b"\x02\x01\x01" + b"\x04\x06public" + pdu
    return b"\x30" + bytes([len(body)]) + body


def packets():
    """(delay before, Ethernet frame) of the whole scenario."""
    out = []

    def add(delay, src, pkt):
        out.append((delay, frame(src, pkt)))

    # 2. the lookup, then 1. the download
    _, c, cp, s, sp = LOOKUP
    add(0.0, c, udp(c, cp, s, sp, dns_query(0x5a17, BAD_HOST)))
    add(0.004, s, udp(s, sp, c, cp, dns_answer(0x5a17, BAD_HOST, BAD_SERVER)))
    _, c, cp, s, sp = DOWNLOAD
    cs, ss = 0x1000, 0x8000
    add(0.01, c, tcp(c, cp, s, sp, cs, 0, "S"))
    add(0.03, s, tcp(s, sp, c, cp, ss, cs + 1, "SA"))
    add(0.0002, c, tcp(c, cp, s, sp, cs + 1, ss + 1, "A"))
    req = ("GET /downloads/update.bin HTTP/1.1\r\nHost: %s\r\nUser-Agent: Wget/1.21.3\r\n"
           "Accept: */*\r\nConnection: close\r\n\r\n" % BAD_HOST).encode()
    add(0.0003, c, tcp(c, cp, s, sp, cs + 1, ss + 1, "PA", req))
    cs += 1 + len(req)
    body = bytes(random.Random(7).randrange(256) for _ in range(4000))
    head = ("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)).encode()
    data = head + body
    ss += 1
    delay = 0.03
    for off in range(0, len(data), 1400):
        chunk = data[off:off + 1400]
        add(delay, s, tcp(s, sp, c, cp, ss, cs, "PA" if off + 1400 >= len(data) else "A", chunk))
        ss += len(chunk)
        delay = 0.0005
        add(0.0002, c, tcp(c, cp, s, sp, cs, ss, "A"))
    add(0.001, s, tcp(s, sp, c, cp, ss, cs, "FA"))
    add(0.0005, c, tcp(c, cp, s, sp, cs, ss + 1, "FA"))
    add(0.03, s, tcp(s, sp, c, cp, ss + 1, cs + 1, "A"))
    # 3. nobody answers SNMP
    _, c, cp, s, sp = SNMP
    for i in range(3):
        add(0.2 if i == 0 else 1.0, c, udp(c, cp, s, sp, snmp_get(0x1000 + i)))
    # 4. the scan: SYN to each port, RST+ACK back
    for i, port in enumerate(SCAN_PORTS):
        seq = 0x4000 + i
        add(0.01, SCANNER, tcp(SCANNER, SCAN_SPORT, SCANNED, port, seq, 0, "S"))
        add(0.0003, SCANNED, tcp(SCANNED, port, SCANNER, SCAN_SPORT, 0, seq + 1, "RA"))
    return out


def write_pcap(path):
    t = time.time()
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for delay, fr in packets():
            t += delay
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(fr), len(fr)) + fr)


def community_id(proto, saddr, sport, daddr, dport, seed=0):
    """Community ID v1 (https://github.com/corelight/community-id-spec)."""
    s, d = ipaddress.ip_address(saddr).packed, ipaddress.ip_address(daddr).packed
    if (s, sport) > (d, dport):
        s, d, sport, dport = d, s, dport, sport
    data = struct.pack("!H", seed) + s + d + struct.pack("!BBHH", PROTO[proto], 0, sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def eve_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d+0000" % int((t % 1) * 1e6)


def eve_events():
    now = time.time()
    flow_base = random.randrange(1 << 40, 1 << 50)

    def base(tup, event_type, t, flow_id, app_proto=None):
        proto, c, cp, s, sp = tup
        ev = {"timestamp": eve_time(t), "flow_id": flow_id, "in_iface": "eth0",
              "event_type": event_type, "src_ip": c, "src_port": cp, "dest_ip": s,
              "dest_port": sp, "proto": proto.upper(),
              "community_id": community_id(proto, c, cp, s, sp)}
        if app_proto:
            ev["app_proto"] = app_proto
        return ev

    flow_stats = {"pkts_toserver": 7, "pkts_toclient": 5, "bytes_toserver": 514,
                  "bytes_toclient": 4363, "start": eve_time(now - 4.2)}
    evs = []
    ev = base(LOOKUP, "dns", now - 4.3, flow_base + 1, "dns")
    ev["dns"] = {"version": 2, "type": "query", "id": 0x5a17, "rrname": BAD_HOST, "rrtype": "A",
                 "tx_id": 0}
    evs.append(ev)
    ev = base(DOWNLOAD, "http", now - 4.1, flow_base + 2, "http")
    ev["http"] = {"hostname": BAD_HOST, "url": "/downloads/update.bin",
                  "http_user_agent": "Wget/1.21.3", "http_method": "GET", "protocol": "HTTP/1.1",
                  "status": 200, "length": 4000}
    evs.append(ev)
    ev = base(DOWNLOAD, "alert", now - 4.0, flow_base + 2, "http")
    ev["tx_id"] = 0
    ev["alert"] = {"action": "allowed", "gid": 1, "signature_id": 9000001, "rev": 1,
                   "signature": "ZFLOW-DEMO executable download from a blacklisted host",
                   "category": "Potentially Bad Traffic", "severity": 1}
    ev["flow"] = dict(flow_stats)
    evs.append(ev)
    port = random.choice(SCAN_PORTS)
    scan = ("tcp", SCANNER, SCAN_SPORT, SCANNED, port)
    ev = base(scan, "alert", now - 2.0, flow_base + 3)
    ev["alert"] = {"action": "allowed", "gid": 1, "signature_id": 9000002, "rev": 1,
                   "signature": "ZFLOW-DEMO TCP SYN scan from %s" % SCANNER,
                   "category": "Attempted Information Leak", "severity": 2}
    ev["flow"] = {"pkts_toserver": 1, "pkts_toclient": 1, "bytes_toserver": 40,
                  "bytes_toclient": 40, "start": eve_time(now - 2.0)}
    evs.append(ev)
    ev = base(DOWNLOAD, "flow", now - 1.0, flow_base + 2, "http")
    ev["flow"] = dict(flow_stats, end=eve_time(now - 3.5), age=1, state="closed",
                      reason="timeout", alerted=True)
    evs.append(ev)
    evs.append({"timestamp": eve_time(now), "event_type": "stats",
                "stats": {"uptime": int(now) % 100000,
                          "capture": {"kernel_packets": 1200, "kernel_drops": 0},
                          "decoder": {"pkts": 1200, "bytes": 310000, "invalid": 0},
                          "flow": {"active": 4}}})
    return evs


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "pcap":
        write_pcap(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "eve":
        for ev in eve_events():
            print(json.dumps(ev, separators=(",", ":")))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
