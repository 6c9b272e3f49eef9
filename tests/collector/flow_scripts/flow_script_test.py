#!/usr/bin/env python3
"""Tests of the stock flow user scripts (scripts/callbacks/flow/*.lua), one CTest test per
script (collector.flow_script.<key>).

Each case runs the built zflow-collector over real captures of the shared pcaps
(--pcap FILE: a local packet interface, every hook, summary line, exit), with a
<data-dir>/scripts_config.json that configures the script under test and disables every other
stock script, then reads the alerts back from <data-dir>/alerts.db and checks them: how many,
alert_type, script_key, severity, score, which flow (addresses and ports from the alert's
JSON) and, just as much, the absence of alerts where the configuration says so.

  flow_script_test.py --collector BIN --probe BIN --source DIR --shared DIR CASE

Python 3 standard library only.
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ARGS = None
STOCK = []            # keys of the stock flow scripts
FAILURES = []


def pcap(name):
    return os.path.join(ARGS.shared, "pcaps", name)


class Run:
    """One collector run: its alerts (dicts, json decoded), summary and stderr."""

    def __init__(self, alerts, summary, stderr, data_dir):
        self.alerts = alerts
        self.summary = summary
        self.stderr = stderr
        self.data_dir = data_dir

    def of(self, alert_type):
        return [a for a in self.alerts if a["alert_type"] == alert_type]


def config_for(key, entry):
    """scripts_config.json: `entry` for the script under test (None: no entry, the script's
    defaults), every other stock script disabled."""
    flow = {k: {"enabled": False} for k in STOCK if k != key}
    if entry is not None:
        flow[key] = entry
    return {"flow": flow}


def read_alerts(db):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM alerts ORDER BY id")]
    con.close()
    for r in rows:
        try:
            r["info"] = json.loads(r["json"])
        except (TypeError, ValueError):
            r["info"] = None
    return rows


# A user script that sets its own status on the flow in every hook. It runs after the stock
# scripts (key order), so when a stock script triggers its status again in a later hook the
# flow's status has changed in between: only the script's own bookkeeping keeps the alert to
# one per flow (the engine only drops a re-trigger of the flow's current status).
TOGGLE = """
local m = { hooks = {} }
local function toggle(now, config) flow.triggerStatus("test_toggle", "toggle", 1, 0, 0) end
m.hooks.protocolDetected = toggle
m.hooks.periodicUpdate = toggle
m.hooks.flowEnd = toggle
return m
"""


def toggle_dir():
    d = os.path.join(tempfile.gettempdir(), "toggle")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "callbacks", "flow"))
        with open(os.path.join(d, "callbacks", "flow", "zz_test_toggle.lua"), "w") as f:
            f.write(TOGGLE)
    return d


def run(key, capture, entry=None, args=(), toggle=False):
    """Runs zflow-collector --pcap over `capture` with the script configuration; toggle: with
    the status toggling user script (its alerts are checked and left out of Run.alerts)."""
    d = tempfile.mkdtemp(prefix="flow_script_%s." % key)
    with open(os.path.join(d, "scripts_config.json"), "w") as f:
        json.dump(config_for(key, entry), f)
    cmd = [ARGS.collector, "--pcap", pcap(capture), "--installdir", ARGS.source,
           "--data-dir", d, "--workers", "2"] + list(args)
    if toggle:
        cmd += ["--scripts-dir", toggle_dir()]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=240)
    if p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    m = re.search(r"zflow-collector: summary (\{.*\})", p.stdout)
    if not m:
        raise AssertionError("no summary line on stdout of %s:\n%s" % (" ".join(cmd), p.stdout))
    summary = json.loads(m.group(1))
    if summary.get("script_errors"):
        raise AssertionError("script errors in %s:\n%s" % (" ".join(cmd), p.stderr))
    alerts = read_alerts(os.path.join(d, "alerts.db"))
    if summary["alerts"] != len(alerts):
        raise AssertionError("summary says %d alerts, alerts.db has %d"
                             % (summary["alerts"], len(alerts)))
    if toggle:
        toggles = [a for a in alerts if a["alert_type"] == "test_toggle"]
        if not toggles:
            raise AssertionError("the toggling script raised nothing")
        alerts = [a for a in alerts if a["alert_type"] != "test_toggle"]
    return Run(alerts, summary, p.stderr, d)


def listing(key, entry=None, args=()):
    """The --list-scripts --json entry of `key` with that configuration."""
    d = tempfile.mkdtemp(prefix="flow_script_list.")
    with open(os.path.join(d, "scripts_config.json"), "w") as f:
        json.dump(config_for(key, entry), f)
    p = subprocess.run([ARGS.collector, "--list-scripts", "--json", "--installdir", ARGS.source,
                        "--data-dir", d] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    if p.returncode != 0:
        raise AssertionError("--list-scripts exited %d: %s" % (p.returncode, p.stderr))
    scripts = {(s["subdir"], s["key"]): s for s in json.loads(p.stdout)}
    s = scripts.get(("flow", key))
    if not s:
        raise AssertionError("flow/%s is not listed" % key)
    return s, p.stderr


# ------------------------------------------------------------------------- checks

def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect(cond, what):
    """A failed expectation is recorded and the case goes on (to report them all)."""
    if cond:
        print("  ok: " + what)
    else:
        print("  FAIL: " + what)
        FAILURES.append(what)


def alerts_ok(r, key, alert_type, n, severity=None, score=None):
    """Exactly n alerts, all from `key` with `alert_type` (flow entity, community id)."""
    got = [(a["alert_type"], a["script_key"]) for a in r.alerts]
    expect(len(r.alerts) == n and all(t == (alert_type, key) for t in got),
           "%d %s alert(s) from %s (got %d: %s)" % (n, alert_type, key, len(r.alerts),
                                                    sorted(set(got))))
    for a in r.alerts:
        expect(a["entity"] == "flow" and a["entity_value"].startswith("1:")
               and a["subdir"] == "flow" and a["kind"] == "oneshot",
               "alert %d is a oneshot flow alert keyed by community id (%s %s %s)"
               % (a["id"], a["entity"], a["entity_value"], a["kind"]))
        expect(a["info"] is not None and a["info"].get("message") == a["message"],
               "alert %d: JSON details with the message" % a["id"])
        if severity is not None:
            expect(a["severity"] == severity, "alert %d severity %d (got %d)"
                   % (a["id"], severity, a["severity"]))
        if score is not None:
            expect(a["score"] == score, "alert %d score %d (got %d)"
                   % (a["id"], score, a["score"]))


NO_L7 = ("--no-l7", "--update-interval", "1")   # flows without L7: periodicUpdate + flowEnd
UPDATES = ("--update-interval", "1")            # a periodicUpdate a second of packet time


def label(args, toggle=False):
    return (" ".join(args) or "defaults") + (" + status toggling script" if toggle else "")


def field_set(r, field):
    return sorted(str(a["info"].get(field)) for a in r.alerts if a["info"])


def loads_ok(key, default_enabled, hooks, packet_interface_only=False):
    s, _ = listing(key, entry={})
    expect(s["loaded"] and s["why_not"] in ("", "disabled by default (default_enabled = false)",
                                            "disabled in the configuration file",
                                            "packet_interface_only: skipped on probe interfaces"),
           "%s loads (why_not: %r)" % (key, s["why_not"]))
    expect(sorted(s["hooks"]) == sorted(hooks), "%s hooks %s (got %s)" % (key, hooks, s["hooks"]))
    expect(s["title"] and s["description"], "%s has a gui title and description" % key)
    expect(s["packet_interface_only"] == packet_interface_only,
           "%s packet_interface_only = %s" % (key, packet_interface_only))
    s, _ = listing(key, entry=None)
    expect(s["enabled"] == default_enabled, "%s default_enabled = %s" % (key, default_enabled))
    return s


# ------------------------------------------------------------------------- cases

def case_blacklisted():
    key, t = "blacklisted", "blacklisted"
    loads_ok(key, True, ["protocolDetected", "periodicUpdate", "flowEnd"])

    # The default list (documentation networks only) matches nothing of a real capture.
    r = run(key, "ndpi__dns.pcap")
    alerts_ok(r, key, t, 0)

    # Host and CIDR entries; a bad entry is logged and skipped.
    items = ["82.178.158.181", "192.168.170.0/24", "not-an-address"]
    for args, tog in (((), False), (NO_L7, False), ((), True), (NO_L7, True)):
        r = run(key, "ndpi__dns.pcap", {"value": {"items": items}}, args, tog)
        alerts_ok(r, key, t, 2, severity=5, score=100)
        by_srv = {a["info"]["srv_ip"]: a["info"] for a in r.alerts}
        a = by_srv.get("82.178.158.181", {})
        expect(a.get("srv_blacklisted") is True and a.get("cli_blacklisted") is False
               and a.get("srv_match") == "82.178.158.181" and a.get("cli_ip") == "82.178.113.245",
               "%s: server 82.178.158.181 blacklisted by its host entry" % label(args, tog))
        a = by_srv.get("192.168.170.8", {})
        expect(a.get("srv_blacklisted") is True and a.get("cli_blacklisted") is True
               and a.get("cli_match") == "192.168.170.0/24",
               "%s: both ends of 192.168.170.20 <-> .8 blacklisted by the /24"
               % label(args, tog))
        expect("ignoring invalid address entries: not-an-address" in r.stderr,
               "the invalid entry is reported in the log")

    # Entries that are near misses match nothing.
    r = run(key, "ndpi__dns.pcap",
            {"value": {"items": ["82.178.158.180", "82.178.158.182/32", "192.168.171.0/24",
                                 "82.178.158.192/26", "2001:db8::/32"]}})
    alerts_ok(r, key, t, 0)
    # IPv4-mapped IPv6 entries match IPv4 flows.
    r = run(key, "ndpi__dns.pcap", {"value": {"items": ["::ffff:82.178.158.0/120"]}})
    alerts_ok(r, key, t, 1)
    expect(field_set(r, "srv_ip") == ["82.178.158.181"], "::ffff:82.178.158.0/120 matches")

    # IPv6: prefixes and a full client address (non-canonical spelling).
    r = run(key, "zeek__communityid_ipv6.pcap", {"value": {"items": ["2607:f8b0:400c::/48"]}})
    alerts_ok(r, key, t, 1)
    expect(field_set(r, "srv_ip") == ["2607:f8b0:400c:c03::1a"]
           and r.alerts and r.alerts[0]["info"]["srv_blacklisted"] is True
           and r.alerts[0]["info"]["cli_blacklisted"] is False, "IPv6 server in a /48")
    r = run(key, "zeek__communityid_ipv6.pcap",
            {"value": {"items": ["2001:0470:E5BF:DEAD:4957:2174:E82C:4887"]}})
    alerts_ok(r, key, t, 1)
    expect(r.alerts and r.alerts[0]["info"]["cli_blacklisted"] is True,
           "IPv6 client by its full address")
    r = run(key, "zeek__communityid_ipv6.pcap",
            {"value": {"items": ["2607:f8b0:400c:c04::/64", "2001:470:e5bf:deae::/64",
                                 "2607:f8b0:400c:c03::1b"]}})
    alerts_ok(r, key, t, 0)

    # Disabled: nothing, whatever the list.
    r = run(key, "ndpi__dns.pcap", {"enabled": False, "value": {"items": items}})
    alerts_ok(r, key, t, 0)


def case_remote_to_remote():
    key, t = "remote_to_remote", "remote_to_remote"
    s, err = listing(key, entry={})
    expect(s["loaded"] and not s["runs"] and s["why_not"] == "setup() returned false",
           "without --local-networks setup() declines (why_not: %r)" % s["why_not"])
    s, err = listing(key, entry={}, args=("--local-networks", "192.168.0.0/16"))
    expect(s["runs"], "with --local-networks it runs")
    expect(sorted(s["hooks"]) == sorted(["protocolDetected", "periodicUpdate", "flowEnd"]),
           "hooks")

    r = run(key, "zeek__ssh_ssh.pcap", {})
    alerts_ok(r, key, t, 0)
    expect("no --local-networks configured" in r.stderr, "the reason is logged")

    # ssh.pcap: every flow has a 192.168 end but 10.0.0.18 <-> 128.2.6.88.
    ln = ("--local-networks", "192.168.0.0/16")
    for args, tog in ((ln, False), (ln + NO_L7, False), (ln, True), (ln + NO_L7, True)):
        r = run(key, "zeek__ssh_ssh.pcap", {}, args, tog)
        alerts_ok(r, key, t, 1, severity=3, score=10)
        expect([(a["info"]["cli_ip"], a["info"]["srv_ip"]) for a in r.alerts]
               == [("10.0.0.18", "128.2.6.88")], "%s: the one remote-to-remote flow" % label(args, tog))
    r = run(key, "zeek__ssh_ssh.pcap", {}, ("--local-networks", "192.168.0.0/16,10.0.0.0/8"))
    alerts_ok(r, key, t, 0)
    # Nothing of KakaoTalk is local to 192.0.2.0/24: every flow (all unicast) is reported once.
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {}, ("--local-networks", "192.0.2.0/24"))
    alerts_ok(r, key, t, r.summary["flows"])
    expect(r.summary["flows"] == 21, "KakaoTalk has 21 flows (got %d)" % r.summary["flows"])
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"enabled": False},
            ("--local-networks", "192.0.2.0/24"))
    alerts_ok(r, key, t, 0)


def unexpected_case(key, capture, allow_miss, expect_servers, allow_all, port):
    """allow_miss: a list that leaves expect_servers (their addresses) unexpected;
    allow_all: a list that allows every server of the capture."""
    t = key
    s = loads_ok(key, False, ["protocolDetected", "periodicUpdate", "flowEnd"])
    # Disabled by default, even with a list.
    r = run(key, capture, {"value": {"items": allow_miss}})
    alerts_ok(r, key, t, 0)
    # Enabled with an empty list: nothing is unexpected.
    r = run(key, capture, {"enabled": True})
    alerts_ok(r, key, t, 0)
    for args, tog in (((), False), (NO_L7, False), ((), True), (UPDATES, True), (NO_L7, True)):
        r = run(key, capture, {"enabled": True, "value": {"items": allow_miss}}, args, tog)
        alerts_ok(r, key, t, len(expect_servers))
        expect(field_set(r, "server_ip") == sorted(expect_servers),
               "%s: unexpected servers %s (got %s)" % (label(args, tog), sorted(expect_servers),
                                                       field_set(r, "server_ip")))
        expect(all(a["info"]["server_port"] in port for a in r.alerts),
               "server ports in %s" % (port,))
    r = run(key, capture, {"enabled": True, "value": {"items": allow_all}})
    alerts_ok(r, key, t, 0)
    return r


def case_unexpected_dns():
    key = "unexpected_dns"
    # dns.pcap: 192.168.170.20 answers .8 (the capture starts with its answer, so .20 is the
    # flow's client: the server is found by port 53), and 82.178.158.181 answers
    # 82.178.113.245.
    unexpected_case(key, "ndpi__dns.pcap", ["192.168.170.20"], ["82.178.158.181"],
                    ["192.168.170.0/24", "82.178.158.181"], (53,))
    r = run(key, "ndpi__dns.pcap", {"enabled": True, "value": {"items": ["82.178.158.181"]}})
    alerts_ok(r, key, key, 1, severity=4, score=50)
    expect([(a["info"]["server_ip"], a["info"]["client_ip"]) for a in r.alerts]
           == [("192.168.170.20", "192.168.170.8")],
           "the answering side (port 53) is the server, not the flow's client")


def case_unexpected_ntp():
    key = "unexpected_ntp"
    # gre-sample.pcap: 66.59.111.190 asks three NTP servers (inside GRE).
    unexpected_case(key, "zeek__tunnels_gre-sample.pcap", ["18.26.4.105"],
                    ["66.59.111.182", "129.170.17.4"],
                    ["18.26.4.105", "66.59.111.182", "129.170.0.0/16"], (123,))
    # 1kxun: one client-to-server NTP packet (both ports 123: the flow's server).
    r = run(key, "ndpi__1kxun.pcap", {"enabled": True, "value": {"items": ["18.26.4.105"]}})
    alerts_ok(r, key, key, 1, severity=4, score=50)
    expect(field_set(r, "server_ip") == ["17.253.26.125"]
           and field_set(r, "client_ip") == ["192.168.5.16"], "17.253.26.125 is the server")


def case_unexpected_dhcp():
    key = "unexpected_dhcp"
    # 1kxun: 192.168.119.1 answers (to 255.255.255.255 and to 192.168.5.16); discovers from
    # 0.0.0.0 to 255.255.255.255 and DHCPv6 solicits to ff02::1:2 name no server.
    unexpected_case(key, "ndpi__1kxun.pcap", ["192.168.119.254", "fe80::1"],
                    ["192.168.119.1", "192.168.119.1"], ["192.168.119.1"], (67,))
    r = run(key, "ndpi__1kxun.pcap",
            {"enabled": True, "value": {"items": ["192.168.119.254"]}})
    alerts_ok(r, key, key, 2, severity=5, score=100)
    expect(sorted(field_set(r, "client_ip")) == ["192.168.5.16", "255.255.255.255"],
           "both flows of 192.168.119.1 (broadcast and unicast answers)")


def case_unexpected_smtp():
    key = "unexpected_smtp"
    # communityid_ipv6.pcap: one SMTP session to 2607:f8b0:400c:c03::1a port 25.
    unexpected_case(key, "zeek__communityid_ipv6.pcap", ["2607:f8b0:400c:c03::1b", "192.0.2.25"],
                    ["2607:f8b0:400c:c03::1a"], ["2607:f8b0:400c::/48"], (25,))
    # The same server spelled out in full, upper case: allowed.
    r = run(key, "zeek__communityid_ipv6.pcap",
            {"enabled": True, "value": {"items": ["2607:F8B0:400C:0C03:0000:0000:0000:001A"]}})
    alerts_ok(r, key, key, 0)


def case_tcp_issues():
    key, t = "tcp_issues", "tcp_issues"
    loads_ok(key, True, ["periodicUpdate", "flowEnd"])
    # KakaoTalk: retransmissions 10.24.82.188:59954 s2c 2/14 (14.3 %), :58857 c2s 2/22,
    # :32968 c2s 2/23, :53974 c2s 4/5 (5 packets).
    r = run(key, "ndpi__KakaoTalk_talk.pcap")
    alerts_ok(r, key, t, 1, severity=3, score=20)
    i = r.alerts[0]["info"] if r.alerts else {}
    expect(i.get("srv2cli_retransmissions") == 2 and i.get("srv2cli_packets") == 14
           and "cli2srv_retransmission_pct" not in i
           and abs(i.get("srv2cli_retransmission_pct", 0) - 200 / 14) < 0.01
           and "10.24.82.188:59954 -> 173.252.88.128:443" in r.alerts[0]["message"],
           "default 10 %% / 10 packets: only server->client of :59954 (%s)" % i)
    # Checked on every periodicUpdate too: with an update a second, :32968 (2/18 = 11 % on
    # the way, 2/23 at its end) and :58857 are caught while above 10 %; each flow once.
    for tog in (False, True):
        r = run(key, "ndpi__KakaoTalk_talk.pcap", None, UPDATES, tog)
        alerts_ok(r, key, t, 3)
        flows = sorted(a["message"].split(" ")[2] for a in r.alerts)
        expect(flows == ["10.24.82.188:32968", "10.24.82.188:58857", "10.24.82.188:59954"]
               and all(max(a["info"].get("cli2srv_retransmission_pct") or 0,
                           a["info"].get("srv2cli_retransmission_pct") or 0) > 10
                       for a in r.alerts),
               "%s: :59954, :32968, :58857, once each, above 10 %% (%s)"
               % (label(UPDATES, tog), flows))
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"value": {"threshold": 5}})
    alerts_ok(r, key, t, 3)
    expect(sorted(a["message"].split(" ")[2] for a in r.alerts)
           == ["10.24.82.188:32968", "10.24.82.188:58857", "10.24.82.188:59954"],
           "5 %: :59954, :58857, :32968")
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"value": {"threshold": 5, "min_packets": 3}})
    alerts_ok(r, key, t, 4)
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"value": "tcp_issues;gt;50"})
    alerts_ok(r, key, t, 0)
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"enabled": False})
    alerts_ok(r, key, t, 0)


def case_udp_unidirectional():
    key, t = "udp_unidirectional", "udp_unidirectional"
    loads_ok(key, True, ["flowEnd"])
    r = run(key, "ndpi__quic.pcap")
    alerts_ok(r, key, t, 1, severity=3, score=10)
    i = r.alerts[0]["info"] if r.alerts else {}
    expect((i.get("src_ip"), i.get("dst_ip"), i.get("dst_port"), i.get("packets"))
           == ("10.0.0.4", "10.0.0.3", 6121, 6), "quic: 10.0.0.4 -> 10.0.0.3:6121, 6 packets")
    r = run(key, "ndpi__quic.pcap", {"value": {"min_packets": 7}})
    alerts_ok(r, key, t, 0)
    # syslog is one-way by design: ignored by default, reported when not ignored.
    r = run(key, "ndpi__syslog.pcap")
    alerts_ok(r, key, t, 0)
    r = run(key, "ndpi__syslog.pcap", {"value": {"ignored_protocols": []}})
    expect(len(r.alerts) == 20 and all(a["info"]["l7_proto"] == "Syslog" for a in r.alerts),
           "syslog.pcap without ignored protocols: its 20 one-way UDP Syslog flows (got %d)"
           % len(r.alerts))
    # 1kxun: never broadcast/multicast destinations; the directed broadcast of a local
    # network is recognised with --local-networks.
    r = run(key, "ndpi__1kxun.pcap")
    dsts = field_set(r, "dst_ip")
    expect(len(r.alerts) > 0 and not any(d == "255.255.255.255" or d.startswith("ff0")
                                         or d.startswith("224.") or d.startswith("239.")
                                         for d in dsts),
           "1kxun: %d alerts, none to broadcast or multicast" % len(r.alerts))
    directed = [d for d in dsts if d == "192.168.255.255"]
    expect(len(directed) > 0, "without --local-networks 192.168.255.255 is a host")
    r2 = run(key, "ndpi__1kxun.pcap", None, ("--local-networks", "192.168.0.0/16"))
    expect(len(r2.alerts) == len(r.alerts) - len(directed)
           and "192.168.255.255" not in field_set(r2, "dst_ip"),
           "with --local-networks 192.168.0.0/16 its broadcast is not reported (%d -> %d)"
           % (len(r.alerts), len(r2.alerts)))
    r = run(key, "ndpi__quic.pcap", {"enabled": False})
    alerts_ok(r, key, t, 0)


def case_elephant_flows():
    key, t = "elephant_flows", "elephant_flow"
    loads_ok(key, True, ["periodicUpdate", "flowEnd"])
    r = run(key, "ndpi__quic.pcap")
    alerts_ok(r, key, t, 0)
    # quic.pcap: 192.168.1.109:57833 <-> 216.58.212.101:443 carries 249,092 IP bytes.
    for args, tog in (((), False), (UPDATES, False), (UPDATES, True)):
        r = run(key, "ndpi__quic.pcap", {"value": "elephant_flows;gt;200000"}, args, tog)
        alerts_ok(r, key, t, 1, severity=3, score=20)
        i = r.alerts[0]["info"] if r.alerts else {}
        expect(i.get("threshold") == 200000 and i.get("bytes", 0) > 200000
               and "192.168.1.109:57833 -> 216.58.212.101:443" in r.alerts[0]["message"],
               "%s: the 243 KB QUIC flow (%s)" % (label(args, tog), i.get("bytes")))
    r = run(key, "ndpi__quic.pcap", {"value": "elephant_flows;gt;249092"})
    alerts_ok(r, key, t, 0)
    r = run(key, "ndpi__quic.pcap", {"value": "elephant_flows;ge;249092"})
    alerts_ok(r, key, t, 1)


def case_long_lived():
    key, t = "long_lived", "long_lived"
    loads_ok(key, True, ["periodicUpdate", "flowEnd"])
    # vast example.pcap: SSH 192.168.168.100:57293 -> 83.135.95.78:22 lasts 4,688 s,
    # :61184 591 s; the rest < 400 s.
    r = run(key, "vast__example.pcap")
    alerts_ok(r, key, t, 1, severity=3, score=10)
    i = r.alerts[0]["info"] if r.alerts else {}
    expect(i.get("duration", 0) > 3600 and i.get("threshold") == 3600
           and "192.168.168.100:57293 -> 83.135.95.78:22" in r.alerts[0]["message"],
           "default 1 h: the 57293 SSH flow, raised on its periodicUpdate (%s)"
           % i.get("duration"))
    expect(i.get("duration", 1e9) < 4600, "raised while the flow is active (duration %s < its"
           " final 4,688 s)" % i.get("duration"))
    for tog in (False, True):
        r = run(key, "vast__example.pcap", {"value": "long_lived;gt;500"}, (), tog)
        alerts_ok(r, key, t, 2)
        expect(sorted(a["message"].split(" ")[2] for a in r.alerts)
               == ["192.168.168.100:57293", "192.168.168.100:61184"],
               "%s: 500 s: two SSH flows" % label((), tog))
    r = run(key, "vast__example.pcap", {"value": "long_lived;gt;100000"})
    alerts_ok(r, key, t, 0)


def case_ndpi_risks():
    key, t = "ndpi_risks", "ndpi_risk"
    loads_ok(key, True, ["protocolDetected", "periodicUpdate", "flowEnd"])
    r = run(key, "ndpi__quic.pcap")
    alerts_ok(r, key, t, 1, severity=5, score=100)
    i = r.alerts[0]["info"] if r.alerts else {}
    expect(sorted(x["key"] for x in i.get("risks", []))
           == ["known_protocol_on_non_standard_port", "tls_missing_sni"]
           and i.get("risk") == (1 << 5) | (1 << 24) and i.get("risk_score") == 100
           and "Missing SNI TLS Extension" in r.alerts[0]["message"],
           "quic 10.0.0.4 -> 10.0.0.3:6121: risks 5 and 24 by name (%s)" % i.get("risks"))
    # ssh.pcap: 22 flows with risks (obsolete SSH client/server, two on non-standard ports).
    r = run(key, "zeek__ssh_ssh.pcap")
    alerts_ok(r, key, t, 22)
    expect(all("ssh_obsolete_client_version_or_cipher" in [x["key"] for x in a["info"]["risks"]]
               for a in r.alerts), "every SSH alert names the obsolete client")
    ignore = ["ssh_obsolete_client_version_or_cipher", "SSH Obsolete Server Version/Cipher"]
    for tog in (False, True):
        r = run(key, "zeek__ssh_ssh.pcap", {"value": {"ignored_risks": ignore}}, UPDATES, tog)
        alerts_ok(r, key, t, 2, severity=4, score=50)
        expect(all([x["key"] for x in a["info"]["risks"]]
                   == ["known_protocol_on_non_standard_port"] for a in r.alerts)
               and sorted(a["message"].split(" ")[5] for a in r.alerts)
               == ["128.2.6.88:41644", "192.168.2.158:2200"],
               "%s: ignoring the SSH risks leaves the two non-standard ports, scored 50"
               % label(UPDATES, tog))
    r = run(key, "zeek__ssh_ssh.pcap",
            {"value": {"ignored_risks": ignore + ["NDPI_KNOWN_PROTOCOL_ON_NON_STANDARD_PORT"]}})
    alerts_ok(r, key, t, 0)
    r = run(key, "zeek__ssh_ssh.pcap", {"value": {"ignored_risks": [18, 19, 5]}})
    alerts_ok(r, key, t, 0)
    r = run(key, "zeek__ssh_ssh.pcap", {"value": {"ignored_risks": ["no_such_risk"]}})
    alerts_ok(r, key, t, 22)
    expect("unknown nDPI risk 'no_such_risk'" in r.stderr, "an unknown risk name is logged")
    r = run(key, "zeek__ssh_ssh.pcap", {"enabled": False})
    alerts_ok(r, key, t, 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_via_probe(key, capture, entry):
    """The capture through zflow-probe -> collector --listen: a probe interface."""
    d = tempfile.mkdtemp(prefix="flow_script_probe.")
    with open(os.path.join(d, "scripts_config.json"), "w") as f:
        json.dump(entry, f)
    port = free_port()
    ep = "tcp://127.0.0.1:%d" % port
    coll = subprocess.Popen([ARGS.collector, "--listen", ep, "--installdir", ARGS.source,
                             "--data-dir", d, "--summary-interval", "0", "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        p = subprocess.run([ARGS.probe, "-r", pcap(capture), "-c", ep, "--probe-id", "test"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        check(p.returncode == 0, "zflow-probe exited %d: %s" % (p.returncode, p.stderr))
        m = re.search(r"summary (\{.*\})", p.stdout + p.stderr)
        check(m, "no probe summary: %s %s" % (p.stdout, p.stderr))
        ps = json.loads(m.group(1))
        check(ps["unacked_batches"] == 0, "every batch acknowledged: %s" % ps)
    finally:
        coll.terminate()
        out, err = coll.communicate(timeout=60)
    check(coll.returncode == 0, "collector exited %d: %s" % (coll.returncode, err))
    m = re.search(r"zflow-collector: summary (\{.*\})", out + err)
    check(m, "no collector summary: %s" % err)
    summary = json.loads(m.group(1))
    check(summary["flow_events"] == ps["sent_flows"],
          "the collector applied the probe's %d flow events (got %d)"
          % (ps["sent_flows"], summary["flow_events"]))
    return Run(read_alerts(os.path.join(d, "alerts.db")), summary, err, d)


def case_tcp_no_handshake():
    key, t = "tcp_no_handshake", "tcp_no_handshake"
    loads_ok(key, False, ["periodicUpdate", "flowEnd"], packet_interface_only=True)
    r = run(key, "ndpi__KakaoTalk_talk.pcap")
    alerts_ok(r, key, t, 0)
    # KakaoTalk starts in the middle of several connections.
    for args, tog in (((), False), (UPDATES, False), (UPDATES, True)):
        r = run(key, "ndpi__KakaoTalk_talk.pcap", {"enabled": True}, args, tog)
        alerts_ok(r, key, t, 5, severity=3, score=10)
        expect(sorted(a["message"].split(" ")[2] for a in r.alerts)
               == ["10.24.82.188:51021", "10.24.82.188:53974", "10.24.82.188:58916",
                   "120.28.26.242:80", "139.150.0.125:443"]
               and all(a["info"]["reason"] == "no SYN from the client"
                       and a["info"]["cli2srv_tcp_flags"] & 0x02 == 0 for a in r.alerts),
               "%s: the 5 flows of 3+ packets without client SYN" % label(args, tog))
    r = run(key, "ndpi__KakaoTalk_talk.pcap", {"enabled": True, "value": {"min_packets": 5}})
    alerts_ok(r, key, t, 3)
    expect(sorted(a["message"].split(" ")[2] for a in r.alerts)
           == ["10.24.82.188:51021", "10.24.82.188:53974", "120.28.26.242:80"],
           "min_packets 5: the three flows of 5+ packets")
    # ssh.pcap: one connection (to a proxy on 8118) was already open; the rest is complete.
    r = run(key, "zeek__ssh_ssh.pcap", {"enabled": True})
    alerts_ok(r, key, t, 1)
    expect([a["message"].split(" ")[2] for a in r.alerts] == ["192.168.1.31:51476"],
           "ssh.pcap: only 192.168.1.31:51476 -> :8118")
    # Complete handshakes only: nothing.
    r = run(key, "zeek__communityid_ipv6.pcap", {"enabled": True})
    alerts_ok(r, key, t, 0)
    r = run(key, "vast__example.pcap", {"enabled": True, "value": {"min_packets": 1000}})
    alerts_ok(r, key, t, 0)
    # A probe interface: packet_interface_only keeps it away; tcp_issues (enabled in the same
    # run) shows the flows did reach the scripts.
    cfg = config_for(key, {"enabled": True})
    cfg["flow"]["tcp_issues"] = {"enabled": True}
    r = run_via_probe(key, "ndpi__KakaoTalk_talk.pcap", cfg)
    expect(len(r.of("tcp_issues")) == 1 and len(r.of(t)) == 0
           and all(a["probe_id"] == "test" for a in r.alerts),
           "from a probe: no %s alert, the tcp_issues one is there (got %s)"
           % (t, [(a["alert_type"], a["probe_id"]) for a in r.alerts]))


CASES = {
    "blacklisted": case_blacklisted,
    "remote_to_remote": case_remote_to_remote,
    "unexpected_dns": case_unexpected_dns,
    "unexpected_ntp": case_unexpected_ntp,
    "unexpected_dhcp": case_unexpected_dhcp,
    "unexpected_smtp": case_unexpected_smtp,
    "tcp_issues": case_tcp_issues,
    "udp_unidirectional": case_udp_unidirectional,
    "elephant_flows": case_elephant_flows,
    "long_lived": case_long_lived,
    "ndpi_risks": case_ndpi_risks,
    "tcp_no_handshake": case_tcp_no_handshake,
}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collector", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--source", required=True, help="source tree (--installdir)")
    ap.add_argument("--shared", required=True, help="shared test data (pcaps/)")
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    ap.add_argument("case", choices=sorted(CASES) + ["all"])
    ARGS = ap.parse_args()
    STOCK.extend(sorted(os.path.basename(p)[:-4] for p in
                        glob.glob(os.path.join(ARGS.source, "scripts/callbacks/flow/*.lua"))))
    missing = [c for c in CASES if c not in STOCK]
    if missing:
        print("FAIL: stock scripts missing: %s" % missing)
        return 1
    names = sorted(CASES) if ARGS.case == "all" else [ARGS.case]
    tmp = tempfile.mkdtemp(prefix="flow_scripts.")
    tempfile.tempdir = tmp
    try:
        for name in names:
            print("== %s" % name)
            try:
                CASES[name]()
            except AssertionError as e:
                print("  FAIL: %s" % e)
                FAILURES.append(str(e))
    finally:
        if ARGS.keep:
            print("data directories kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
