#!/usr/bin/env python3
"""collector.periodic.rounds: interface, network and system rounds run on request
(--control, --run-round) on a collector fed by two real probes replaying captures and by a
local packet interface (--pcap with --listen: IPv6 traffic of a local /64):
  - round 0 (the local packet interface only): its interface and the IPv6 network engage;
  - round 1 (after the replays): round 0's alerts are released (no new traffic there); the
    stock threshold scripts (lowered thresholds) engage
    interface throughput/bytes/packets alerts for both probe interfaces, network
    ingress/egress for both local networks, SYN flood and SYN scan victim for the scanned
    network (ndpi__synscan.pcap: 1991 SYN-only flows to 64.13.134.52), system CPU, memory and
    disk; alerts.db rows are engaged = 1 with "granularity":"min" in their JSON;
  - what the scripts received (a recorder user script per subdir): entity_info with totals,
    deltas, top L7 protocols, probe identity, networks' SYN victim, host figures, cur_alerts,
    and teardown() after all entities of the round;
  - round 2 (no more traffic, probes gone for > 3 stats intervals): the interface and network
    alerts are released (engaged = 0, released_tstamp set, no new row), probe_down engages for
    both probes; system alerts stay;
  - 5mins / hour / day rounds run through the same path and do not release minute alerts;
  - SIGHUP with raised system thresholds: the next round releases CPU, memory and disk;
  - a restart restores the engaged alerts' granularity: the first minute round releases the
    probe_down alerts of the probes the new collector does not know.
Usage: periodic_rounds.py BUILD_DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import periodic_lib as E  # noqa: E402

NETS = "192.168.168.0/24,64.13.134.0/24,2a00:d40:1:3::/64"
V6 = "2a00:d40:1:3::/64"
LOCAL_PCAP = "ndpi__http_ipv6.pcap"
IF_L = "local:%s/%s" % (LOCAL_PCAP, LOCAL_PCAP)
LOW = {
    "interface": {"throughput": {"value": "throughput;gt;1000"},
                  "bytes": {"value": "bytes;gt;1000"},
                  "packets": {"value": "packets;gt;10"}},
    "network": {"ingress": {"value": "ingress;gt;100"},
                "egress": {"value": "egress;gt;100"},
                "syn_flood_victim": {"value": "syn_flood_victim;gt;5"},
                "syn_scan_victim": {"value": "syn_scan_victim;gt;20"}},
    "system": {"cpu_load": {"value": "cpu_load;ge;0"},
               "memory": {"value": "memory;ge;0"},
               "disk": {"value": "disk;lt;101"}},
}
IF_A, IF_B = "pA/vast__example.pcap", "pB/ndpi__synscan.pcap"
EXPECTED_ROUND1 = (
    [(v, t) for v in (IF_A, IF_B)
     for t in ("interface_throughput", "interface_bytes", "interface_packets")] +
    [(n, t) for n in ("192.168.168.0/24", "64.13.134.0/24")
     for t in ("network_ingress", "network_egress")] +
    [("64.13.134.0/24", "syn_flood_victim"), ("64.13.134.0/24", "syn_scan_victim")])
SYSTEM = [("system", "cpu_load"), ("system", "memory"), ("system", "disk_space")]
ROUND0 = ([(IF_L, t) for t in ("interface_throughput", "interface_bytes", "interface_packets")] +
          [(V6, "network_ingress"), (V6, "network_egress")])


def one_row(db, value, atype):
    rows = E.engaged(db, atype, value)
    E.check(len(rows) == 1, "%s %s: %d rows: %s" % (value, atype, len(rows), rows))
    return rows[0]


def check_engaged(db, pairs, gran="min"):
    for value, atype in pairs:
        r = one_row(db, value, atype)
        E.check(r["engaged"] == 1 and r["released_tstamp"] is None,
                "%s %s not engaged: %s" % (value, atype, r))
        E.check(('"granularity":"%s"' % gran) in r["json"],
                "%s %s: no granularity in %s" % (value, atype, r["json"]))


def check_released(db, pairs):
    for value, atype in pairs:
        r = one_row(db, value, atype)
        E.check(r["engaged"] == 0 and r["released_tstamp"] is not None,
                "%s %s not released: %s" % (value, atype, r))


def by_value(recs):
    return {r["entity_value"]: r for r in recs}


def run():
    env = E.Env("rounds", sys.argv[1])
    data = env.path("data")
    db = os.path.join(data, "alerts.db")
    E.write_config(data, LOW)
    scripts = {}
    for sd in ("interface", "network", "system"):
        scripts.update(E.recorder(sd))
    sdir = E.write_scripts(env, scripts)
    # a local packet interface (--pcap next to --listen) with IPv6 traffic of a local network
    local_pcap = os.path.join(E.PCAPS, LOCAL_PCAP)
    local_events = E.dump_reference(env, local_pcap)
    col = E.Collector(env, "col", data, scripts_dir=sdir, local_networks=NETS,
                      extra=["--pcap", local_pcap]).start()

    def local_done():
        for p in col.fresh_status()["registry"]["probes"]:
            if p["probe_id"].startswith("local:") and p["flow_events"] == local_events:
                return p
        return None
    E.wait_for(local_done, 60, "the local packet interface to be applied")

    # round 0: the local packet interface, the three networks and the system
    mark = E.max_id(db)
    r0 = col.run_round("min")
    E.check(r0["entities"] == 5 and r0["errors"] == 0, "round 0: %s" % r0)
    check_engaged(db, SYSTEM + ROUND0)
    recs = by_value(E.records(db, after_id=mark))
    loc = recs[IF_L]
    E.check(loc["is_packet_interface"] is True and loc["probe_id"] == "local:" + LOCAL_PCAP and
            loc["stats"]["capture_packets"] > 0 and loc["stats"]["bytes"] > 0 and
            loc["stats"]["flows_ended"] == loc["stats"]["flows_new"] > 0,
            "local packet interface: %s" % loc)
    v6 = recs[V6]
    E.check(v6["delta"]["egress_bytes"] > 0 and v6["delta"]["ingress_bytes"] > 0 and
            v6["hosts"] == 1, "IPv6 network: %s" % v6)

    E.outside_minute_edge()
    probes = [E.Probe(env, "pA", col.endpoint, pcap=os.path.join(E.PCAPS, "vast__example.pcap")),
              E.Probe(env, "pB", col.endpoint, pcap=os.path.join(E.PCAPS, "ndpi__synscan.pcap"))]
    for p in probes:
        p.start()
    for p in probes:
        p.wait()
        E.check(p.summary()["unacked_batches"] == 0, "%s: unacked batches" % p.probe_id)
    col.fresh_status()  # the probes' last stats are published to the scheduler

    # round 1: every threshold crossed
    mark = E.max_id(db)
    r1 = col.run_round("min")
    E.check(r1["entities"] == 7, "round 1 entities: %s" % r1)
    E.check(r1["errors"] == 0, "round 1 script errors: %s" % r1)
    E.check(r1["alerts_triggered"] >= len(EXPECTED_ROUND1) + len(SYSTEM),
            "round 1 triggered: %s" % r1)
    E.check(r1["teardowns"] == 3, "round 1 teardowns: %s" % r1)
    check_engaged(db, EXPECTED_ROUND1 + SYSTEM)
    check_released(db, ROUND0)
    E.check(not E.engaged(db, "too_many_drops"), "too_many_drops engaged without drops")
    a = one_row(db, IF_A, "interface_throughput")
    E.check(a["probe_id"] == "pA" and a["interface"] == "vast__example.pcap" and
            a["subdir"] == "interface" and a["script_key"] == "throughput",
            "interface alert columns: %s" % a)
    flood = one_row(db, "64.13.134.0/24", "syn_flood_victim")
    E.check("64.13.134.52" in flood["message"] and '"victim":"64.13.134.52"' in flood["json"],
            "SYN flood victim: %s" % flood)

    # what the scripts were given
    recs = E.records(db, after_id=mark)
    ifr = by_value([r for r in recs if r["subdir"] == "interface"])
    E.check(set(ifr) == {IF_A, IF_B, IF_L}, "interface records: %s" % list(ifr))
    for value, pid, pcap in ((IF_A, "pA", "vast__example.pcap"),
                             (IF_B, "pB", "ndpi__synscan.pcap")):
        r = ifr[value]
        E.check(r["name"] == pcap and r["getName"] == pcap and r["probe_id"] == pid,
                "interface identity: %s" % r)
        E.check(r["stats"]["bytes"] > 0 and r["delta"]["bytes"] == r["stats"]["bytes"] and
                r["first_round"] is True, "interface totals/deltas: %s" % r)
        E.check(r["stats"]["flows_new"] > 0 and r["stats"]["flows_ended"] ==
                r["stats"]["flows_new"] and r["stats"]["flows_active"] == 0,
                "interface flows: %s" % r["stats"])
        E.check(r["stats"]["capture_packets"] > 0 and r["stats"]["lost_messages"] == 0 and
                r["stats"]["drops"] == 0, "probe counters: %s" % r["stats"])
        E.check(r["probe"]["id"] == pid and r["probe"]["hostname"] and
                r["probe"]["stats_interval"] == 1 and r["probe"]["has_stats"] is True,
                "probe identity: %s" % r["probe"])
        E.check(len(r["top_l7"]) > 0 and all(x["name"] and x["total_bytes"] >= x["bytes"]
                                             for x in r["top_l7"]),
                "top L7: %s" % r["top_l7"])
        E.check(r["throughput_bps"] > 0, "throughput: %s" % r)
        E.check({"interface_throughput", "interface_bytes", "interface_packets"} <=
                set(r["cur_alert_types"]), "cur_alerts: %s" % r["cur_alert_types"])
    E.check(sum(x["bytes"] for x in ifr[IF_A]["top_l7"]) <= ifr[IF_A]["delta"]["bytes"],
            "top L7 bytes exceed the interface's")
    nr = by_value([r for r in recs if r["subdir"] == "network"])
    scan = nr["64.13.134.0/24"]
    E.check(scan["syn_victim"]["ip"] == "64.13.134.52" and scan["syn_victim"]["ports"] > 900 and
            scan["delta"]["syn_only_flows"] > 1900 and scan["hosts"] >= 1,
            "SYN victim: %s" % scan)
    E.check(scan["first_round"] is False and scan["delta"]["ingress_bytes"] > 0,
            "network delta: %s" % scan)
    lan = nr["192.168.168.0/24"]
    E.check(lan["delta"]["egress_bytes"] > 0 and lan["delta"]["ingress_bytes"] > 0 and
            lan["hosts"] >= 1, "LAN: %s" % lan)
    E.check(not E.engaged(db, "syn_flood_victim", "192.168.168.0/24") and
            not E.engaged(db, "syn_scan_victim", "192.168.168.0/24"),
            "SYN alerts for the LAN's 4 SYN-only flows")
    sysr = [r for r in recs if r["subdir"] == "system"]
    E.check(len(sysr) == 1, "system records: %d" % len(sysr))
    s = sysr[0]
    E.check(s["cpu"]["cores"] >= 1 and s["memory"]["total"] > 0 and s["disk"]["total"] > 0 and
            s["collector"]["probes"] == 2 and s["delta"]["flow_events"] > 0 and
            s["stats"]["lost_messages"] == 0, "system: %s" % s)
    # teardown() after all entities of each subdir, with the round's number of calls
    for sd, n in (("interface", 3), ("network", 3), ("system", 1)):
        td = [r for r in E.db_rows(db, "alert_type = 'periodic_teardown' AND id > ?", (mark,))
              if ('"subdir":"%s"' % sd) in r["json"]]
        E.check(len(td) == 1 and ('"calls":%d' % n) in td[0]["json"],
                "%s teardown: %s" % (sd, td))
        last = max(r["_id"] for r in recs if r["subdir"] == sd)
        E.check(td[0]["id"] > last, "%s teardown before its entities" % sd)

    # round 2: no traffic since, probes silent for more than 3 stats intervals
    E.wait_for(lambda: all(col.probe(p)["last_seen_s_ago"] > 4.5 for p in ("pA", "pB")), 30,
               "the probes to be silent")
    mark = E.max_id(db)
    r2 = col.run_round("min")
    E.check(r2["errors"] == 0 and r2["alerts_released"] >= len(EXPECTED_ROUND1),
            "round 2: %s" % r2)
    check_released(db, EXPECTED_ROUND1)
    check_engaged(db, SYSTEM + [(IF_A, "probe_down"), (IF_B, "probe_down")])
    E.check(not E.engaged(db, "probe_down", IF_L), "probe_down for a packet interface")
    pd = one_row(db, IF_A, "probe_down")
    E.check("pA" in pd["message"] and pd["severity"] >= 5, "probe_down: %s" % pd)
    recs = E.records(db, subdir="interface", after_id=mark)
    ifr = by_value(recs)
    E.check(ifr[IF_A]["delta"]["bytes"] == 0 and ifr[IF_A]["first_round"] is False and
            ifr[IF_A]["interval"] > 0, "round 2 deltas: %s" % ifr[IF_A])
    # the stock scripts ran before the recorder (key order): their releases are visible
    E.check(ifr[IF_A]["cur_alert_types"] == ["probe_down"],
            "cur_alerts: %s" % ifr[IF_A]["cur_alert_types"])

    # the other granularities, same path; they do not release minute alerts
    for g in ("5mins", "hour", "day"):
        mark = E.max_id(db)
        r = col.run_round(g)
        E.check(r["errors"] == 0 and r["alerts_released"] == 0, "%s round: %s" % (g, r))
        got = E.records(db, granularity=g, after_id=mark)
        E.check(sorted({x["subdir"] for x in got}) == ["interface", "network", "system"] and
                len(got) == 7, "%s records: %s" % (g, got))
        E.check(all(x["first_round"] is True for x in got), "%s: first round" % g)
        # alerts engaged by earlier minute rounds are the entity's current alerts
        ifa = [x for x in got if x["entity_value"] == IF_A][0]
        E.check(ifa["cur_alert_types"] == ["probe_down"], "%s cur_alerts: %s" % (g, ifa))
    check_engaged(db, SYSTEM + [(IF_A, "probe_down"), (IF_B, "probe_down")])

    # SIGHUP with raised system thresholds
    cfg = dict(LOW)
    cfg["system"] = {"cpu_load": {"value": "cpu_load;gt;1000000"},
                     "memory": {"value": "memory;gt;101"}, "disk": {"value": "disk;lt;0"}}
    E.write_config(data, cfg)
    col.reload()
    r3 = col.run_round("min")
    E.check(r3["errors"] == 0, "round 3: %s" % r3)
    check_released(db, SYSTEM)
    check_engaged(db, [(IF_A, "probe_down"), (IF_B, "probe_down")])

    # restart: the engaged probe_down alerts come back with their granularity
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())
    col = E.Collector(env, "col2", data, scripts_dir=sdir, local_networks=NETS).start()
    E.check("2 engaged alerts of periodic scripts restored" in col.stderr_text(),
            "restore line:\n" + col.stderr_text())
    check_engaged(db, [(IF_A, "probe_down"), (IF_B, "probe_down")])
    r = col.run_round("hour")
    check_engaged(db, [(IF_A, "probe_down"), (IF_B, "probe_down")])  # not an hour alert
    r = col.run_round("min")
    E.check(r["alerts_released"] == 2, "after restart: %s" % r)
    check_released(db, [(IF_A, "probe_down"), (IF_B, "probe_down")])

    # bad requests
    rc, out, err = col.request("--run-round", "week")
    E.check(rc == 2 and "week" in err, "--run-round week: %d %s %s" % (rc, out, err))
    st = col.scheduler_status()
    E.check(st["granularities"]["min"]["manual_rounds"] == 1 and
            st["granularities"]["hour"]["manual_rounds"] == 1 and st["timer"] is False,
            "status: %s" % st)
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())
    E.check("ERROR" not in col.stderr_text(), "sanitizer report:\n" + col.stderr_text())
    E.log("rounds: %d alerts rows, %d engaged now" %
          (len(E.db_rows(db)), len(E.db_rows(db, "engaged = 1"))))


if __name__ == "__main__":
    E.main(run)
