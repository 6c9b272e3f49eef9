#!/usr/bin/env python3
"""syslog.eve_curated: the whole curated Eve file (208 real Suricata lines, 12 event types)
through `logger -t suricata --tcp --octet-count` into the stock suricata.lua ends in exactly
the expected collector state: one ids_alert per Eve alert (message, score/severity mapping,
signature and 5-tuple in the JSON, entity value = Community ID or flow id), the flows of the
"syslog:suricata" interface (flow/netflow end them; alert/dns/http/tls create or update them;
a flowEnd test script records each ended flow's 5-tuple, counters, L7 and Community ID), the
stats events with totals as interface statistics (one with only per-thread counters counted
apart) and the other event types counted. Every expectation is computed from the file
here."""
import collections
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402

FLOW_TYPES = ("flow", "netflow")
ENRICH_TYPES = ("dns", "http", "tls")
SCORE = {1: 100, 2: 50, 3: 10}
# the totals suricata.lua reads from a stats event: (section, counter) -> interface statistic
STATS_TOTALS = {("decoder", "pkts"): "packets", ("decoder", "bytes"): "bytes",
                ("capture", "kernel_packets"): "pcap_recv",
                ("capture", "kernel_drops"): "pcap_drop",
                ("decoder", "invalid"): "decode_errors", ("flow", "active"): "active_flows"}


def stats_totals(e):
    """The interface statistics a stats event gives (None: it has none of the totals)."""
    s = e.get("stats")
    if not isinstance(s, dict):
        return None
    got = {name: s[sec][key] for (sec, key), name in STATS_TOTALS.items()
           if isinstance(s.get(sec), dict) and isinstance(s[sec].get(key), (int, float))}
    return {name: int(got.get(name, 0)) for name in STATS_TOTALS.values()} if got else None


def severity_of(score):  # lua_alerts_severity_from_score()
    return 5 if score >= 100 else 4 if score >= 50 else 3


def intify(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def has_flow(e):
    return (isinstance(e.get("flow_id"), (int, float)) and isinstance(e.get("src_ip"), str)
            and isinstance(e.get("dest_ip"), str))


def expected(lines):
    """What the stock suricata.lua must make of the lines."""
    types = collections.Counter()
    alerts = collections.Counter()
    flow_events, created, late = 0, 0, 0
    tombs = set()  # flow ids that ended: a later event of theirs is ignored (worker.c)
    active = {}  # flow_id -> the flow's first Community ID
    # one entry per flow end: (flow_id, cli, srv, cport, sport, bytes, pkts, cid); the 5-tuple
    # is Suricata's flow record's (an alert on a server packet, direction "to_client", has
    # the addresses reversed: it must not turn the flow around)
    ended = []
    for raw in lines:
        e = json.loads(raw)
        t = e.get("event_type")
        types[t] += 1
        if t == "alert" and isinstance(e.get("alert"), dict):
            a = e["alert"]
            sev = int(a.get("severity", 3))
            score = SCORE.get(sev, 10)
            d = {"signature": a.get("signature"), "signature_id": a.get("signature_id"),
                 "rev": a.get("rev"), "category": a.get("category"), "severity": sev,
                 "action": a.get("action"), "src_ip": e.get("src_ip"),
                 "src_port": e.get("src_port"), "dest_ip": e.get("dest_ip"),
                 "dest_port": e.get("dest_port"), "proto": e.get("proto"),
                 "app_proto": e.get("app_proto"), "community_id": e.get("community_id"),
                 "flow_id": e.get("flow_id"), "timestamp": e.get("timestamp")}
            d = {k: v for k, v in d.items() if v is not None}
            msg = "%s [%s] %s:%s -> %s:%s" % (a.get("signature", "alert"), a.get("category", ""),
                                              e.get("src_ip"), e.get("src_port", ""),
                                              e.get("dest_ip"), e.get("dest_port", ""))
            ev = e["community_id"] if isinstance(e.get("community_id"), str) else \
                str(e["flow_id"]) if "flow_id" in e else ""
            alerts[(ev, msg, score, severity_of(score), json.dumps(d, sort_keys=True))] += 1
        if t in ("alert",) + FLOW_TYPES + ENRICH_TYPES and has_flow(e):
            if t == "alert" and not isinstance(e.get("alert"), dict):
                continue
            flow_events += 1
            fid = int(e["flow_id"])
            if fid in tombs:  # e.g. the netflow record of a flow whose flow record came first
                late += 1
                continue
            if fid not in active:
                created += 1
                active[fid] = ""
            if not active[fid] and isinstance(e.get("community_id"), str):
                active[fid] = e["community_id"]
            if t in FLOW_TYPES:
                cid = active.pop(fid)
                f = e.get("flow") or e.get("netflow") or {}
                if t == "netflow":
                    b, p = f.get("bytes", 0), f.get("pkts", 0)
                else:
                    b = f.get("bytes_toserver", 0) + f.get("bytes_toclient", 0)
                    p = f.get("pkts_toserver", 0) + f.get("pkts_toclient", 0)
                ended.append((fid, e["src_ip"], e["dest_ip"], e.get("src_port", 0),
                              e.get("dest_port", 0), b, p, cid))
                tombs.add(fid)
    return types, alerts, flow_events, created, ended, len(active), late


def run():
    a = L.args(__doc__)
    env = L.Env("eve-curated")
    path = os.path.join(L.EVE, "curated.eve.json")
    lines = L.eve_lines(path)
    L.check_eq(len(lines), 208, "lines in %s" % path)
    types, exp_alerts, exp_flow_events, exp_created, exp_ended, exp_active, exp_late = \
        expected(lines)
    other = sum(n for t, n in types.items()
                if t not in ("alert", "stats") + FLOW_TYPES + ENRICH_TYPES)
    L.log("expected: %d alerts, %d flow events, %d flows created, %d ended, %d late events, "
          "%d other events" % (sum(exp_alerts.values()), exp_flow_events, exp_created,
                               len(exp_ended), exp_late, other))
    L.check_eq(sum(exp_alerts.values()), 155, "alerts in the file (MANIFEST)")
    L.check_eq(types["stats"], 4, "stats events in the file (MANIFEST)")
    totals = [t for t in (stats_totals(json.loads(raw)) for raw in lines
                          if json.loads(raw).get("event_type") == "stats") if t is not None]
    L.check_eq(len(totals), 3, "stats events with totals in the file")

    sdir = env.scripts_dir("scripts", {"flow/syslog_test_flow_end.lua": L.FLOW_END_LUA})
    col = L.Collector(env, a.collector, "c", scripts_dirs=[sdir], installdir=a.source).start()
    L.logger(col.port, tag="suricata", tcp=True, octet_count=True, size=200000, file=path)
    col.wait_syslog(lambda s: s["dispatched"] >= 208, 120, "208 Eve lines dispatched")

    # An update that finds the same flow's previous update still in the unsent batch replaces
    # it (syslog.flows_merged): the collector gets flows - flows_merged events.
    def flows_in():
        st = col.status()
        s = st.get("syslog", {})
        i = col.interface("syslog:suricata", "suricata")
        p = col.probe("syslog:suricata")
        return (i and p and s.get("flows", 0) >= exp_flow_events and
                p["flow_events"] >= s["flows"] - s["flows_merged"] and i)
    iface = L.wait_for(flows_in, 60, "%d flow events on syslog:suricata" % exp_flow_events)
    n_alerts = sum(exp_alerts.values())
    col.wait_alerts(n_alerts, "alert_type = 'ids_alert'", what="%d ids_alert rows" % n_alerts)
    col.wait_alerts(len(exp_ended), "alert_type = 'syslog_test_flow_end'",
                    what="%d flowEnd rows" % len(exp_ended))
    L.check(col.alive(), "collector died")
    L.check_eq(col.stop(), 0, "collector exit code")

    st = col.status()  # written at exit
    s = st["syslog"]
    L.check_eq(s["received"], 208, "syslog.received")
    L.check_eq(s["dispatched"], 208, "syslog.dispatched")
    for k in ("malformed", "queue_full", "no_script", "flow_errors"):
        L.check_eq(s[k], 0, "syslog." + k)
    L.check_eq(s["sources"], {"suricata": {"messages": 208, "no_script": 0}}, "syslog.sources")
    L.check_eq(s["flows"], exp_flow_events, "syslog.flows")
    L.check_eq(s["stats_messages"], len(totals), "syslog.stats_messages")
    L.check_eq(s["counters"], {"suricata/other_events": other,
                               "suricata/stats_no_totals": types["stats"] - len(totals)},
               "syslog.counters")
    L.check_eq(s["attached"], 0, "syslog.attached (no probe)")
    L.check_eq(s["attach_misses"],
               sum(n for k, n in exp_alerts.items() if json.loads(k[4]).get("community_id")),
               "syslog.attach_misses (alerts with a Community ID, no probe)")
    p = [p for p in st["registry"]["probes"] if p["probe_id"] == "syslog:suricata"]
    L.check(len(p) == 1, "no registry probe syslog:suricata: %s" % st["registry"])
    p = p[0]
    L.check_eq(p["flow_events"] + s["flows_merged"], exp_flow_events,
               "registry syslog:suricata flow_events + syslog.flows_merged")
    L.log("flow events: %d emitted, %d merged into a later update, %d applied" %
          (s["flows"], s["flows_merged"], p["flow_events"]))
    L.check_eq(p["lost"], 0, "registry syslog:suricata lost")
    L.check_eq([i["name"] for i in p["interfaces"]], ["suricata"], "syslog:suricata interfaces")
    iface = p["interfaces"][0]
    L.check_eq(iface["flows_new"], exp_created, "flows created")
    L.check_eq(iface["flows_ended"], len(exp_ended), "flows ended")
    L.check_eq(iface["flows_active"], exp_active, "flows active")
    if all("late_events" in w for w in st["workers"]):
        L.check_eq(sum(w["late_events"] for w in st["workers"]), exp_late,
                   "late events (events of flows that had ended)")

    # alerts: the exact multiset
    rows = col.alerts("alert_type = 'ids_alert'")
    got = collections.Counter()
    for r in rows:
        L.check_eq((r["entity"], r["script_key"], r["subdir"], r["kind"], r["probe_id"],
                    r["interface"]), ("flow", "suricata", "syslog", "oneshot", "", ""),
                   "ids_alert row %d: entity/script/subdir/kind/probe/interface" % r["id"])
        j = json.loads(r["json"])
        got[(r["entity_value"], r["message"], r["score"], r["severity"],
             json.dumps(j, sort_keys=True))] += 1
    if got != exp_alerts:
        missing = exp_alerts - got
        extra = got - exp_alerts
        raise L.TestFailure("ids_alert rows differ: %d missing, %d unexpected\n"
                            "first missing: %s\nfirst unexpected: %s" %
                            (sum(missing.values()), sum(extra.values()),
                             next(iter(missing), None), next(iter(extra), None)))
    sev = collections.Counter(r["score"] for r in rows)
    L.log("ids_alert rows: %d, by score %s" % (len(rows), dict(sev)))
    # a few well-known ones, spelled out
    sigs = collections.Counter(json.loads(r["json"])["signature_id"] for r in rows)
    L.check(sigs[2200074] > 0, "no SURICATA TCPv4 invalid checksum (2200074) alert")
    one = [r for r in rows if json.loads(r["json"])["signature_id"] == 2017318]
    L.check_eq(len(one), 1, "alerts of signature 2017318")
    L.check_eq(one[0]["message"], "ET CURRENT_EVENTS SUSPICIOUS IRC - PRIVMSG *.(exe|tar|tgz|zip)"
               "  download command [Potentially Bad Traffic] 147.32.84.165:1181 -> "
               "78.40.125.4:6667", "message of 2017318")
    L.check_eq((one[0]["entity_value"], one[0]["score"], one[0]["severity"]),
               ("1031464864740687", 50, 4), "2017318: entity value (flow id), score, severity")

    # flows: every end, with its 5-tuple, counters and Community ID
    ends = col.alerts("alert_type = 'syslog_test_flow_end'")
    got = collections.Counter()
    for r in ends:
        j = json.loads(r["json"])
        L.check_eq((j["probe"], j["iface"]), ("syslog:suricata", "suricata"),
                   "flowEnd %s: probe/interface" % r["entity_value"])
        got[(j["flow_id"], j["cli"], j["srv"], j["cport"], j["sport"], j["bytes"],
             j["packets"], j["cid"])] += 1
    want = collections.Counter(exp_ended)
    if got != want:
        raise L.TestFailure("flow ends differ:\nmissing %s\nunexpected %s" %
                            (list(want - got)[:5], list(got - want)[:5]))
    L.log("flow ends: %d, all 5-tuples/counters/Community IDs as in the Eve flow events" %
          len(ends))


if __name__ == "__main__":
    L.main(run)
