#!/usr/bin/env python3
"""Derives the fragment corrections ("fix" entries) of rules.py / rules_bigmix.py. Not run by
the tests (it needs tshark).

    derive_fragments.py FILE.pcap ["udp A:p B:q" ...]

Prints, per L4 conversation (endpoints sorted), the packets each endpoint sent when every IP
fragment counts as a packet of its first fragment's conversation (the probe's definition;
a fragment without a first fragment gets ports 0). tshark runs with IPv4/IPv6 reassembly off
so that it dissects the transport header of first fragments."""
import subprocess, sys, collections, ipaddress
pcap = sys.argv[1]
want = set(sys.argv[2:])  # keys "proto a:p b:q" (unordered)
f = ["frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.id", "ip.frag_offset",
     "ip.flags.mf", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
     "ip.proto", "ipv6.fraghdr.nxt", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport"]
cmd = ["tshark", "-r", pcap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
       "-E", "occurrence=f", "-E", "separator=\t"] + sum([["-e", x] for x in f], [])
out = subprocess.run(cmd, capture_output=True, text=True).stdout
first = {}
cnt = collections.defaultdict(collections.Counter)
for line in out.splitlines():
    v = dict(zip(f, line.split("\t")))
    src = v["ip.src"] or v["ipv6.src"]; dst = v["ip.dst"] or v["ipv6.dst"]
    if not src: continue
    try:
        src = ipaddress.ip_address(src).compressed; dst = ipaddress.ip_address(dst).compressed
    except ValueError:
        continue
    if v["ip.src"]:
        fid, off, mf, proto = v["ip.id"], int(v["ip.frag_offset"] or 0), v["ip.flags.mf"] == "1", v["ip.proto"]
    else:
        fid, off, mf, proto = v["ipv6.fraghdr.ident"], int(v["ipv6.fraghdr.offset"] or 0), v["ipv6.fraghdr.more"] == "1", v["ipv6.fraghdr.nxt"]
    isfrag = bool(fid) and (off or mf) if v["ipv6.src"] else (off > 0 or mf)
    if v["udp.srcport"]: p, sp, dp = "udp", v["udp.srcport"], v["udp.dstport"]
    elif v["tcp.srcport"]: p, sp, dp = "tcp", v["tcp.srcport"], v["tcp.dstport"]
    else: p = sp = dp = None
    fk = (src, dst, fid, proto)
    if isfrag and off == 0 and p:
        first[fk] = (p, sp, dp)
    elif isfrag and off > 0:
        if fk in first: p, sp, dp = first[fk]
        else: p, sp, dp = ({"17": "udp", "6": "tcp"}.get(proto, proto), "0", "0")
    if not p: continue
    fmt = lambda ip, port: ("[%s]:%s" if ":" in ip else "%s:%s") % (ip, port)
    a, b = fmt(src, sp), fmt(dst, dp)
    key = " ".join([p] + sorted([a, b]))
    cnt[key][a] += 1
    cnt[key][b] += 0
for k in sorted(cnt):
    if not want or k in want:
        print(k, dict(cnt[k]))
