#!/usr/bin/env python3
"""Golden test of zflow-probe against independent references, one capture per run.

    compare.py --probe PATH/zflow-probe --shared PATH/shared --pcap FILE [-v]

The probe reads shared/pcaps/FILE with `--dump --no-l7`; its `"event":"end"` lines are the
flows under test. They are compared with the references chosen for FILE in rules.py (RULES:
one entry per capture, every exception with its reason):

  tshark  reference/<FILE>.conv.txt   tshark 4.0 conv tables: conv,tcp/udp/sctp (L4) and
                                      conv,ip/ipv6 (L3), frames and FRAME bytes per direction
  ndpi    ndpi-results/<FILE>.out     nDPI's expected ndpiReader flows: packets per direction
  zeek    zeek-baselines/conn/...     Zeek conn.log: orig/resp packets and IP bytes (inner
          vast-baselines/...          flows for tunnels; the tunnel's own conns are dropped)

What is compared, and why it is defined that way:

  L4  per TCP/UDP/SCTP conversation: packets per direction. Both sides are SUMMED per
      unordered (proto, addrA:portA, addrB:portB): the definitions of "one flow" differ while
      the packets do not (tshark splits TCP streams on port reuse, Zeek on its state machine,
      we on a new SYN after FIN/RST, on 30 s idle and on the outer VLAN id), so the number of
      flows per key is not compared with references (S5 checks our own splitting). Direction
      is by address: the reference's A->B count must equal what we counted from A to B,
      whoever we call the client. Missing and extra conversations fail.
  L3  (tshark) per IPv4/IPv6 address pair: packets per direction, summed over all our flows
      of the pair, every protocol (ICMP, ESP, fragments...). conv,ip counts every IPv4
      packet, fragments included, so this is where "every fragment is a packet" is checked.
  ICMP (ndpi, zeek) per (protocol, address pair), packets per direction: we key ICMP
      Zeek-style (type/counterpart type), references differ, so only the sum is comparable.
  B   bytes. tshark: frame bytes - our IP bytes per direction must lie in
      [lo * frames, hi * frames], (lo, hi) = the rule's `l2`: the per-frame L2/encapsulation
      overhead measured with tshark on that capture (exact when lo == hi). lo is never below
      the L2 header, so IP bytes can never exceed what the wire carried. Only values tshark
      prints exactly ("N bytes"; "N kB" is rounded) are checked. zeek: orig_ip_bytes /
      resp_ip_bytes are IP bytes like ours: equality. nDPI: wire bytes, not compared.
  S   structural, for every capture whatever the reference:
      S1 every flow_id has exactly one "end" event, its last, and starts with "new";
      S2 every flow has >= 1 packet, >= 20 (v4) / 40 (v6) IP bytes per packet,
         first_seen_ns <= last_seen_ns, an end_reason;
      S3 the summary's packet count equals the capture's (MANIFEST.md table = capinfos -c);
      S4 decoded + not_ip + decode_errors == packets; the sum of all flows' packets ==
         decoded; summary flows == number of flow_ids;
      S5 TCP/UDP/SCTP flows with the same 5-tuple and outer VLAN never overlap in time (ICMP
         is left out: one address pair has a flow per ICMP type pair by design);
      plus the rule's `expect` (summary counters) and `stderr_contains`.
  L7  for rules with l7=True, a second run with nDPI on must give the very same end events
      (ids, keys, counters, times, end reasons): L7 must not change flow accounting.

Every exception, skip and reference correction is printed with its reason (info/SKIP lines);
a rule that no longer matches anything fails (stale rule).
Exit 0 = pass, 1 = a check failed, 2 = usage/setup error.
"""

import argparse
import ipaddress
import json
import os
import sys
import time
import re
import subprocess
from collections import defaultdict

PROTO_NUM = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58, "esp": 50, "gre": 47,
             "igmp": 2}
PROTO_NAME = {v: k for k, v in PROTO_NUM.items()}

DEFAULT_TIMEOUT = 600

# The per-capture table is rules.py next to this file (RULES there, with the meaning of each
# key); this file holds the machinery only.
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rules import RULES  # noqa: E402

# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------


def norm_ip(s):
    return ipaddress.ip_address(s.strip("[]")).compressed


def split_ep(s):
    """'1.2.3.4:80' / '2001:db8::1:80' (tshark) / '[2001:db8::1]:80' (nDPI) -> (ip, port)."""
    ip, port = s.rsplit(":", 1)
    return norm_ip(ip), int(port)


def ukey(proto, a, b):
    """Unordered conversation key: endpoints sorted. a, b = (ip, port) or ip."""
    return (proto,) + tuple(sorted([a, b], key=repr))


class Conv:
    """Packets (and bytes when known) sent by each endpoint of one conversation key."""

    __slots__ = ("pkts", "bytes", "exact", "rows")

    def __init__(self):
        self.pkts = defaultdict(int)
        self.bytes = defaultdict(int)
        self.exact = True
        self.rows = 0

    def add(self, src, pkts, nbytes):
        self.pkts[src] += pkts
        if nbytes is None:
            self.exact = False
        else:
            self.bytes[src] += nbytes


TSHARK_ROW = re.compile(
    r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)"
    r"\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+([\d.]+)\s+([\d.]+)\s*$")


def parse_tshark(path):
    """-> {"l4": {key: Conv}, "l3": {key: Conv}}; key l4 = (proto, (ip,port), (ip,port))."""
    out = {"l4": defaultdict(Conv), "l3": defaultdict(Conv)}
    section = None
    with open(path) as fh:
        for line in fh:
            m = re.match(r"^(\w+) Conversations", line)
            if m:
                section = m.group(1)
                continue
            if "<->" not in line or section not in ("TCP", "UDP", "SCTP", "IPv4", "IPv6"):
                continue
            m = TSHARK_ROW.match(line.strip())
            if not m:
                raise ValueError("%s: unparsed tshark row: %r" % (path, line))
            a, b = m.group(1), m.group(2)
            b2a_f, b2a_b = int(m.group(3)), (int(m.group(4)) if m.group(5) == "bytes" else None)
            a2b_f, a2b_b = int(m.group(6)), (int(m.group(7)) if m.group(8) == "bytes" else None)
            if section in ("TCP", "UDP", "SCTP"):
                a, b = split_ep(a), split_ep(b)
                key = ukey(PROTO_NUM[section.lower()], a, b)
                conv = out["l4"][key]
            else:
                a, b = norm_ip(a), norm_ip(b)
                key = ukey("ip", a, b)
                conv = out["l3"][key]
            conv.add(a, a2b_f, a2b_b)
            conv.add(b, b2a_f, b2a_b)
            conv.rows += 1
    return out


NDPI_ROW = re.compile(r"^\s*\d+\s+(\S+)\s+(\S+)\s+(<->|->)\s+(\S+)\s+(.*)$")
NDPI_CNT = re.compile(r"\[(\d+) pkts/(\d+) bytes (?:<->|->) (\d+) pkts/(\d+) bytes\]")


def parse_ndpi(path):
    """-> {"l4": {key: Conv}, "icmp": {key: Conv}}; bytes are wire bytes: not kept."""
    out = {"l4": defaultdict(Conv), "icmp": defaultdict(Conv)}
    with open(path) as fh:
        for line in fh:
            m = NDPI_ROW.match(line)
            if not m or "pkts/" not in line:
                continue
            c = NDPI_CNT.search(m.group(5))
            if not c:
                raise ValueError("%s: unparsed nDPI row: %r" % (path, line))
            pname = m.group(1).lower()
            proto = PROTO_NUM.get(pname)
            if proto is None:
                raise ValueError("%s: unknown nDPI protocol %r" % (path, pname))
            a, b = split_ep(m.group(2)), split_ep(m.group(4))
            if proto in (6, 17, 132):
                conv = out["l4"][ukey(proto, a, b)]
            else:  # ICMP/ICMPv6/ESP...: nDPI prints port 0, compared per address pair
                a, b = a[0], b[0]
                conv = out["icmp"][ukey(proto, a, b)]
            conv.add(a, int(c.group(1)), None)
            conv.add(b, int(c.group(3)), None)
            conv.rows += 1
    return out


ZEEK_TUNNEL_SERVICES = {"vxlan", "geneve", "teredo", "gtpv1", "ayiya", "ayiya-tunnel"}


def parse_zeek(path):
    """-> {"l4": ..., "icmp": ..., "tunnel_conns": [...]} from a conn.log (bytes = IP bytes)."""
    out = {"l4": defaultdict(Conv), "icmp": defaultdict(Conv), "tunnel_conns": []}
    fields = None
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
                continue
            if not line or line.startswith("#"):
                continue
            rows.append(dict(zip(fields, line.split("\t"))))
    parents = set()
    for r in rows:
        tp = r.get("tunnel_parents", "-")
        if tp not in ("-", "(empty)"):
            parents.update(tp.split(","))
    for r in rows:
        services = set(r.get("service", "-").split(","))
        if r["uid"] in parents or services & ZEEK_TUNNEL_SERVICES:
            out["tunnel_conns"].append(r)
            continue
        proto = PROTO_NUM.get(r["proto"])
        if proto is None and r.get("ip_proto", "-") != "-":
            proto = int(r["ip_proto"])
        a_ip, b_ip = norm_ip(r["id.orig_h"]), norm_ip(r["id.resp_h"])
        if proto == 1 and ":" in a_ip:
            proto = 58
        if proto in (6, 17, 132):
            a, b = (a_ip, int(r["id.orig_p"])), (b_ip, int(r["id.resp_p"]))
            conv = out["l4"][ukey(proto, a, b)]
        else:
            a, b = a_ip, b_ip
            conv = out["icmp"][ukey(proto, a, b)]
        conv.add(a, int(r["orig_pkts"]), int(r["orig_ip_bytes"]))
        conv.add(b, int(r["resp_pkts"]), int(r["resp_ip_bytes"]))
        conv.rows += 1
    return out


def parse_manifest(path):
    """-> {file: {"packets": int, "linktype": str, "format": str}}"""
    out = {}
    with open(path) as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 9 or cells[0] in ("file", "---") or cells[0].startswith("-"):
                continue
            try:
                out[cells[0]] = {"format": cells[3], "linktype": cells[4],
                                 "packets": int(cells[5])}
            except ValueError:
                continue
    return out


# --------------------------------------------------------------------------------------------
# the probe
# --------------------------------------------------------------------------------------------


def run_probe(probe, pcap, l7, timeout):
    cmd = [probe, "-r", pcap, "--dump"] + ([] if l7 else ["--no-l7"])
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    secs = time.monotonic() - t0
    events = []
    for n, line in enumerate(p.stdout.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError as e:
                raise RuntimeError("probe stdout line %d is not JSON (%s): %r" % (n, e, line[:200]))
    stderr = p.stderr.decode("utf-8", "replace")
    summary = None
    for line in stderr.splitlines():
        if line.startswith("zflow-probe: summary "):
            summary = json.loads(line[len("zflow-probe: summary "):])
    return {"rc": p.returncode, "events": events, "stderr": stderr, "summary": summary,
            "secs": secs, "cmd": " ".join(cmd)}


def flow_eps(f):
    cli = (norm_ip(f["client_ip"]), f["client_port"])
    srv = (norm_ip(f["server_ip"]), f["server_port"])
    return cli, srv


def our_tables(ends):
    """Our end events summed like the references: l4, l3 (all protocols), icmp (non-port)."""
    t = {"l4": defaultdict(Conv), "l3": defaultdict(Conv), "icmp": defaultdict(Conv)}
    for f in ends:
        cli, srv = flow_eps(f)
        proto = f["l4_proto"]
        if proto in (6, 17, 132):
            c = t["l4"][ukey(proto, cli, srv)]
            c.add(cli, f["c2s_packets"], f["c2s_bytes"])
            c.add(srv, f["s2c_packets"], f["s2c_bytes"])
            c.rows += 1
        else:
            c = t["icmp"][ukey(proto, cli[0], srv[0])]
            c.add(cli[0], f["c2s_packets"], f["c2s_bytes"])
            c.add(srv[0], f["s2c_packets"], f["s2c_bytes"])
            c.rows += 1
        c = t["l3"][ukey("ip", cli[0], srv[0])]
        c.add(cli[0], f["c2s_packets"], f["c2s_bytes"])
        c.add(srv[0], f["s2c_packets"], f["s2c_bytes"])
        c.rows += 1
    return t


# --------------------------------------------------------------------------------------------
# patterns of RULES
# --------------------------------------------------------------------------------------------


def key_text(key):
    proto = key[0]
    if proto == "ip":
        return "ip %s <-> %s" % (key[1], key[2])
    name = PROTO_NAME.get(proto, str(proto))
    if isinstance(key[1], tuple):
        fmt = lambda ep: ("[%s]:%d" if ":" in ep[0] else "%s:%d") % ep  # noqa: E731
        return "%s %s <-> %s" % (name, fmt(key[1]), fmt(key[2]))
    return "%s %s <-> %s" % (name, key[1], key[2])


def compile_pattern(pat):
    """'udp port 4789' | 'udp host A' | 'ip A <-> B' | 'tcp A:p <-> B:q' | 'icmp A <-> B' |
    'ip A' | 'tcp *' | '59 *' -> predicate(key)."""
    words = pat.split()
    kind = words[0]
    if len(words) == 2 and words[1] == "*":
        num = PROTO_NUM.get(kind, int(kind) if kind.isdigit() else kind)
        return lambda key: key[0] == num
    if len(words) == 3 and words[1] == "port":
        num, port = PROTO_NUM[kind], int(words[2])
        return lambda key: key[0] == num and (key[1][1] == port or key[2][1] == port)
    if len(words) == 3 and words[1] == "host":  # any L4 conversation with this address
        num, ip = PROTO_NUM[kind], norm_ip(words[2])
        return lambda key: key[0] == num and (key[1][0] == ip or key[2][0] == ip)
    if len(words) == 2 and kind == "ip":  # any pair (or any conversation) with this address
        ip = norm_ip(words[1])

        def has_ip(key):
            for ep in key[1:]:
                if (ep[0] if isinstance(ep, tuple) else ep) == ip:
                    return True
            return False
        return has_ip
    if len(words) == 4 and words[2] == "<->":
        if kind == "ip" or PROTO_NUM.get(kind) not in (6, 17, 132):
            want = ukey(PROTO_NUM.get(kind, kind), norm_ip(words[1]), norm_ip(words[3]))
        else:
            want = ukey(PROTO_NUM[kind], split_ep(words[1]), split_ep(words[3]))
        return lambda key: key == want
    raise ValueError("bad pattern %r" % pat)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


class Report:
    def __init__(self, name, verbose):
        self.name = name
        self.verbose = verbose
        self.fails = []
        self.skips = []
        self.passes = 0

    def ok(self, what):
        self.passes += 1
        if self.verbose:
            print("  ok    %s" % what)

    def fail(self, what):
        self.fails.append(what)
        print("  FAIL  %s" % what)

    def skip(self, what):
        self.skips.append(what)
        print("  SKIP  %s" % what)

    def info(self, what):
        print("  info  %s" % what)


def direction_text(conv, key):
    a, b = key[1], key[2]
    return "A->B %d, B->A %d" % (conv.pkts[a], conv.pkts[b])


def ep_text(ep):
    if isinstance(ep, tuple):
        return ("[%s]:%d" if ":" in ep[0] else "%s:%d") % ep
    return ep


def apply_fixes(rep, label, ref, fixes, used):
    """fixes: [(pred, pattern, {endpoint text: packets}, reason)] -> the reference's packets
    per endpoint are replaced for the matching key (the key is created when absent)."""
    for _, pat, counts, why in fixes:
        words = pat.split()
        if table_of(words[0]) != label:
            continue
        if label == "L3":
            key = ukey("ip", norm_ip(words[1]), norm_ip(words[3]))
        elif label == "L4":
            key = ukey(PROTO_NUM[words[0]], split_ep(words[1]), split_ep(words[3]))
        else:
            key = ukey(PROTO_NUM[words[0]], norm_ip(words[1]), norm_ip(words[3]))
        conv = ref.setdefault(key, Conv())
        old = direction_text(conv, key) if conv.rows else "absent"
        for ep_s, n in counts.items():
            ep = split_ep(ep_s) if isinstance(key[1], tuple) else norm_ip(ep_s)
            if ep not in key[1:]:
                raise ValueError("fix %r: endpoint %r is not in the key" % (pat, ep_s))
            conv.pkts[ep] = n
        conv.exact = False  # the frame bytes no longer match the corrected frame counts
        conv.rows = max(conv.rows, 1)
        used.add(pat)
        rep.info("%s %s: reference corrected from %s to %s: %s"
                 % (label, pat, old, direction_text(conv, key), why))


def compare_table(rep, label, ref, ours, ignore_ref, ignore_ours, bytes_mode=None, l2=None):
    """Compares two {key: Conv} tables. ignore_*: [(predicate, pattern, reason)].
    bytes_mode: None | "ip" (reference bytes are IP bytes: equality) | "frame" (reference
    bytes are frame bytes: frame - ip must be within l2=(lo, hi) bytes per frame)."""
    used = defaultdict(int)
    keys = set(ref) | set(ours)
    for key in sorted(keys, key=repr):
        r, o = ref.get(key), ours.get(key)
        ign = None
        if r is not None:
            for pred, pat, why in ignore_ref:
                if pred(key):
                    ign = (pat, why)
                    break
        if ign is None and r is None:
            for pred, pat, why in ignore_ours:
                if pred(key):
                    ign = (pat, why)
                    break
        if ign is not None:
            used[ign] += 1
            if rep.verbose:
                print("  ign   %s %s (%s)" % (label, key_text(key), ign[0]))
            continue
        text = "%s %s" % (label, key_text(key))
        if r is None:
            rep.fail("%s: extra (ours only): we have %s in %d flow(s)"
                     % (text, direction_text(o, key), o.rows))
            continue
        if o is None:
            rep.fail("%s: missing (reference only): reference %s"
                     % (text, direction_text(r, key)))
            continue
        a, b = key[1], key[2]
        if r.pkts[a] != o.pkts[a] or r.pkts[b] != o.pkts[b]:
            rep.fail("%s: packets A->B / B->A: expected %d/%d, got %d/%d (A=%s; we have %d "
                     "flow(s), reference %d row(s))" % (text, r.pkts[a], r.pkts[b], o.pkts[a],
                                                        o.pkts[b], ep_text(a), o.rows, r.rows))
            continue
        rep.ok("%s: packets %d/%d" % (text, o.pkts[a], o.pkts[b]))
        if bytes_mode is None or not r.exact:
            continue
        for ep in (a, b):
            frames = r.pkts[ep]
            if bytes_mode == "ip":
                if r.bytes[ep] != o.bytes[ep]:
                    rep.fail("%s: IP bytes from %s: expected %d, got %d"
                             % (text, ep_text(ep), r.bytes[ep], o.bytes[ep]))
                continue
            over = r.bytes[ep] - o.bytes[ep]
            lo, hi = l2[0] * frames, l2[1] * frames
            if not (lo <= over <= hi):
                rep.fail("%s: bytes from %s: frame bytes %d - our IP bytes %d = %d over %d "
                         "frame(s), outside [%d, %d] (%d..%d bytes of L2/encapsulation per "
                         "frame)" % (text, ep_text(ep), r.bytes[ep], o.bytes[ep], over, frames,
                                     lo, hi, l2[0], l2[1]))
    for pat_why, n in sorted(used.items()):
        rep.info("%s: %d conversation(s) excluded by %r: %s" % (label, n, pat_why[0], pat_why[1]))
    return {pat for pat, _ in used}


def structural(rep, run, rule_, manifest_packets, tag=""):
    events, s = run["events"], run["summary"]
    if run["rc"] != 0:
        rep.fail("%sprobe exit status %d: %s" % (tag, run["rc"], run["stderr"].strip()[-500:]))
    if s is None:
        rep.fail("%sno summary line on stderr" % tag)
        return None
    by_id = defaultdict(list)
    for i, ev in enumerate(events):
        by_id[ev["flow_id"]].append((i, ev))
    ends = []
    bad_end = 0
    for fid, evs in by_id.items():
        kinds = [e["event"] for _, e in evs]
        n_end = kinds.count("end")
        if n_end != 1 or kinds[-1] != "end":
            bad_end += 1
            if bad_end <= 5:
                rep.fail("%sS1 flow_id %s: events %s (need exactly one end, last)"
                         % (tag, fid, kinds))
        if kinds[0] != "new":
            rep.fail("%sS1 flow_id %s: first event is %r, not new" % (tag, fid, kinds[0]))
        if n_end:
            ends.append([e for _, e in evs if e["event"] == "end"][-1])
    if not bad_end:
        rep.ok("%sS1 %d flows, one end each" % (tag, len(by_id)))
    bad = 0
    for f in ends:
        minhdr = 40 if f["ip_version"] == 6 else 20
        probs = []
        if f["c2s_packets"] + f["s2c_packets"] < 1:
            probs.append("no packets")
        if f["c2s_bytes"] < minhdr * f["c2s_packets"] or f["s2c_bytes"] < minhdr * f["s2c_packets"]:
            probs.append("bytes %d/%d < %d per packet (%d/%d pkts)"
                         % (f["c2s_bytes"], f["s2c_bytes"], minhdr, f["c2s_packets"],
                            f["s2c_packets"]))
        if f["first_seen_ns"] > f["last_seen_ns"]:
            probs.append("first_seen > last_seen")
        if f["end_reason"] in ("none", "unknown"):
            probs.append("end_reason %r" % f["end_reason"])
        if probs:
            bad += 1
            if bad <= 10:
                rep.fail("%sS2 flow %s %s: %s" % (tag, f["flow_id"], key_text(flow_key5(f)),
                                                  "; ".join(probs)))
    if not bad:
        rep.ok("%sS2 counters sane" % tag)
    if manifest_packets is None:
        rep.skip("%sS3 capture not in MANIFEST.md: packet count unknown" % tag)
    elif s["packets"] != manifest_packets:
        rep.fail("%sS3 summary packets %d != capture packets %d" % (tag, s["packets"],
                                                                    manifest_packets))
    else:
        rep.ok("%sS3 packets %d" % (tag, s["packets"]))
    acc = s["decoded"] + s["not_ip"] + s["decode_errors"]
    if acc != s["packets"]:
        rep.fail("%sS4 decoded %d + not_ip %d + decode_errors %d = %d != packets %d"
                 % (tag, s["decoded"], s["not_ip"], s["decode_errors"], acc, s["packets"]))
    tot = sum(f["c2s_packets"] + f["s2c_packets"] for f in ends)
    if tot != s["decoded"]:
        rep.fail("%sS4 sum of flow packets %d != decoded %d" % (tag, tot, s["decoded"]))
    if s["flows"] != len(by_id):
        rep.fail("%sS4 summary flows %d != flow ids %d" % (tag, s["flows"], len(by_id)))
    # S5: same 5-tuple, same VLAN -> no overlap in time.
    spans = defaultdict(list)
    for f in ends:
        if f["l4_proto"] not in (6, 17, 132):
            continue  # ICMP: several flows per address pair by design (one per type pair)
        k = flow_key5(f)
        spans[(k, f["vlan_outer"])].append((f["first_seen_ns"], f["last_seen_ns"], f["flow_id"]))
    overl = 0
    for k, lst in spans.items():
        lst.sort()
        for x, y in zip(lst, lst[1:]):
            if y[0] < x[1]:
                overl += 1
                if overl <= 5:
                    rep.fail("%sS5 %s vlan %d: flows %s and %s overlap in time"
                             % (tag, key_text(k[0]), k[1], x[2], y[2]))
    if not overl:
        rep.ok("%sS5 no overlapping flows with one key" % tag)
    for want in rule_.get("stderr_contains", []):
        if want in run["stderr"]:
            rep.ok("%sstderr mentions %r" % (tag, want))
        else:
            rep.fail("%sstderr lacks %r: %s" % (tag, want, run["stderr"].strip()[-300:]))
    for name, want in rule_.get("expect", {}).items():
        got = s.get(name, 0) if name != "flow_count" else len(by_id)
        if got != want:
            rep.fail("%sexpect %s == %d, got %d" % (tag, name, want, got))
        else:
            rep.ok("%sexpect %s == %d" % (tag, name, want))
    return ends


def flow_key5(f):
    cli, srv = flow_eps(f)
    if f["l4_proto"] in (6, 17, 132):
        return ukey(f["l4_proto"], cli, srv)
    return ukey(f["l4_proto"], cli[0], srv[0])


def l7_same(rep, ends0, ends1):
    def sig(f):
        return (f["flow_id"], f["client_ip"], f["server_ip"], f["client_port"], f["server_port"],
                f["l4_proto"], f["vlan_outer"], f["c2s_packets"], f["s2c_packets"],
                f["c2s_bytes"], f["s2c_bytes"], f["first_seen_ns"], f["last_seen_ns"],
                f["end_reason"])
    a = {sig(f) for f in ends0}
    b = {sig(f) for f in ends1}
    if a == b:
        rep.ok("L7 on: identical %d end events" % len(a))
        return
    only0, only1 = sorted(a - b), sorted(b - a)
    rep.fail("L7 on changes flow accounting: %d end events only without L7, %d only with; "
             "first: %s / %s" % (len(only0), len(only1), only0[:1], only1[:1]))


# --------------------------------------------------------------------------------------------


def compile_ignores(items):
    """A pattern starting with '?' is optional: it may match nothing (a conversation that
    appears only once a known probe bug is fixed); any other pattern must match something."""
    return [(compile_pattern(p.lstrip("?")), p, w) for p, w in items]


def compile_fixes(items):
    return [(None, p, counts, w) for p, counts, w in items]


def for_table(ign, label):
    """Patterns that apply to a table: 'ip ...' to L3, ICMP-like protocols to ICMP, others L4."""
    return [x for x in ign if table_of(x[1].lstrip("?").split()[0]) == label]


def table_of(first_word):
    if first_word == "ip":
        return "L3"
    num = PROTO_NUM.get(first_word, int(first_word) if first_word.isdigit() else None)
    return "L4" if num in (6, 17, 132) else "ICMP"


def check_reference(rep, ref_kind, rule_, pdir, name, ours, l2):
    """Compares our tables with one reference; returns (labels compared, patterns used)."""
    ign_ref = compile_ignores(rule_.get("ignore", {}).get(ref_kind, []))
    ign_ours = compile_ignores(rule_.get("ignore_ours", {}).get(ref_kind, []))
    fixes = compile_fixes(rule_.get("fix", {}).get(ref_kind, []))
    used = set()
    done = []
    if ref_kind == "tshark":
        t = parse_tshark(os.path.join(pdir, "reference", name + ".conv.txt"))
        tables = []
        if rule_.get("l4", True):
            tables.append(("L4", t["l4"], ours["l4"]))
        else:
            rep.skip("tshark L4 (conv,tcp/udp/sctp): %s" % rule_["l4_why"])
        if rule_.get("l3", True):
            tables.append(("L3", t["l3"], ours["l3"]))
        else:
            rep.skip("tshark L3 (conv,ip/ipv6): %s" % rule_["l3_why"])
        if ours["icmp"]:
            rep.info("tshark has no ICMP table: our %d ICMP/other flow key(s) are checked "
                     "through L3 only" % len(ours["icmp"]))
        bmode = "frame" if l2 else None
    elif ref_kind == "ndpi":
        t = parse_ndpi(os.path.join(pdir, "ndpi-results", name + ".out"))
        tables = [("L4", t["l4"], ours["l4"]), ("ICMP", t["icmp"], ours["icmp"])]
        bmode = None  # nDPI bytes are wire bytes of the outermost frame
    elif ref_kind == "zeek":
        path = rule_.get("zeek_log", os.path.join("zeek-baselines", "conn", name + ".conn.log"))
        t = parse_zeek(os.path.join(pdir, path))
        for r in t["tunnel_conns"]:
            rep.info("zeek: %s %s:%s -> %s:%s (service %s) is a tunnel's own conn (parent of "
                     "inner conns / tunnel service): not a flow for us, dropped"
                     % (r["proto"], r["id.orig_h"], r["id.orig_p"], r["id.resp_h"],
                        r["id.resp_p"], r.get("service")))
        tables = [("L4", t["l4"], ours["l4"]), ("ICMP", t["icmp"], ours["icmp"])]
        bmode = "ip"  # Zeek's orig_ip_bytes/resp_ip_bytes are IP bytes like ours
    else:
        raise ValueError("unknown reference %r" % ref_kind)
    for label, ref_t, our_t in tables:
        apply_fixes(rep, label, ref_t, fixes, used)
        used |= compare_table(rep, "%s[%s]" % (label, ref_kind), ref_t, our_t,
                              for_table(ign_ref, label), for_table(ign_ours, label),
                              bmode, l2)
        done.append("%s[%s]" % (label, ref_kind))
    for _, pat, _ in ign_ref + ign_ours:
        if pat not in used and not pat.startswith("?"):
            rep.fail("%s: rule %r matched nothing: stale rule" % (ref_kind, pat))
    for _, pat, _, _ in fixes:
        if pat not in used:
            rep.fail("%s: fix %r applied to no table: stale rule" % (ref_kind, pat))
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probe", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--pcap", required=True, help="file name under SHARED/pcaps")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    pdir = os.path.join(args.shared, "pcaps")
    name = os.path.basename(args.pcap)
    pcap = os.path.join(pdir, name)
    if not os.path.exists(pcap):
        print("no such capture: %s" % pcap)
        return 2
    if not os.access(args.probe, os.X_OK):
        print("probe not executable: %s" % args.probe)
        return 2
    rep = Report(name, args.verbose)
    print("golden %s" % name)
    rule_ = RULES.get(name)
    if rule_ is None:
        rep.fail("no RULES entry for %s: add one (refs, why, l2) to tests/golden/rules.py"
                 % name)
        rule_ = {"refs": ["tshark"], "why": "(no rule)", "l2": None, "bytes_why": "no rule"}
    manifest = parse_manifest(os.path.join(pdir, "MANIFEST.md"))
    minfo = manifest.get(name, {})

    run = run_probe(args.probe, pcap, False, args.timeout)
    print("  run   %s  (%.1f s, %d events)" % (run["cmd"], run["secs"], len(run["events"])))
    if run["summary"]:
        print("  summary %s" % json.dumps(run["summary"], sort_keys=True))
    ends = structural(rep, run, rule_, minfo.get("packets")) or []
    ours = our_tables(ends)

    print("  references %s: %s" % ("+".join(rule_["refs"]) or "none", rule_["why"]))
    l2 = rule_.get("l2")
    if l2 is None and "tshark" in rule_["refs"]:
        rep.skip("B bytes vs tshark frame bytes: %s" % rule_.get("bytes_why", "?"))
    done = []
    for ref_kind in rule_["refs"]:
        done += check_reference(rep, ref_kind, rule_, pdir, name, ours, l2)
    if not rule_["refs"]:
        rep.skip("no per-conversation reference: %s" % rule_["why"])

    if rule_.get("l7"):
        run1 = run_probe(args.probe, pcap, True, args.timeout)
        print("  run   %s  (%.1f s, %d events)" % (run1["cmd"], run1["secs"], len(run1["events"])))
        ends1 = structural(rep, run1, rule_, minfo.get("packets"), "[l7] ") or []
        l7_same(rep, ends, ends1)

    print("golden %s: %s (%d checks ok, %d failed, %d skipped; compared %s)"
          % (name, "FAIL" if rep.fails else "PASS", rep.passes, len(rep.fails), len(rep.skips),
             ",".join(done) or "structure only"))
    return 1 if rep.fails else 0


if __name__ == "__main__":
    sys.exit(main())
