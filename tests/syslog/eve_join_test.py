#!/usr/bin/env python3
"""syslog.eve_join: Community ID join of Suricata verdicts with probe flows. zflow-probe
replays vast__example.pcap into the collector first; then Suricata's own Eve output for that
capture (vast__example-pcap.eve.json: 1162 alerts, 21 flows, community_id on every line) plus
a few of its alerts with a Community ID no probe flow has, through `logger -t suricata --tcp
--octet-count`. Every alert whose Community ID a probe flow carries (from the probe's --dump)
gets a second ids_alert row on that probe flow (probe_id/interface of the probe, same verdict);
syslog.attached and syslog.attach_misses count exactly those."""
import collections
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402

PROBE_ID = "syslog-join-probe"


def run():
    a = L.args(__doc__)
    L.check(a.probe, "--probe is required")
    env = L.Env("eve-join")
    col = L.Collector(env, a.collector, "c", installdir=a.source).start()

    # 1. the probe's flows
    pcap = os.path.join(L.PCAPS, "vast__example.pcap")
    dump_path = env.path("probe.dump.jsonl")
    with open(dump_path, "wb") as out, open(env.path("probe.stderr"), "wb") as err:
        p = L.spawn([a.probe, "-r", pcap, "--collector", "tcp://127.0.0.1:%d" % col.listen_port,
                     "--probe-id", PROBE_ID, "--dump"], stdout=out, stderr=err)
        try:
            rc = p.wait(timeout=120 * L.SLOW)
        except subprocess.TimeoutExpired:
            raise L.TestFailure("zflow-probe still running after 120 s")
    L.check_eq(rc, 0, "zflow-probe exit code")
    with open(dump_path) as f:
        dump = [json.loads(l) for l in f]
    probe_cids = {e["community_id"] for e in dump if e.get("community_id")}
    ifname = dump[0]["interface"]
    L.check(len(probe_cids) >= 10, "probe dump has %d Community IDs" % len(probe_cids))
    L.wait_for(lambda: (col.probe(PROBE_ID) or {}).get("flow_events", 0) >= len(dump), 60,
               "the %d flow events of the probe in the registry" % len(dump))

    # 2. the Eve lines: Suricata's verdicts on the same capture + some that match no flow
    lines = L.eve_lines(os.path.join(L.EVE, "sources", "vast__example-pcap.eve.json"))
    misses = []
    for raw in lines[:400]:
        e = json.loads(raw)
        if e["event_type"] == "alert" and len(misses) < 7:
            e["community_id"] = "1:zflowNoSuchFlow%02d+AAAAAAAAAAAAA=" % len(misses)
            misses.append(json.dumps(e).encode())
    lines = lines + misses
    eve_path = env.path("join.eve.json")
    with open(eve_path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    evs = [json.loads(l) for l in lines]
    alerts = [e for e in evs if e["event_type"] == "alert"]
    matched = collections.Counter(e["community_id"] for e in alerts
                                  if e["community_id"] in probe_cids)
    n_match = sum(matched.values())
    n_miss = sum(1 for e in alerts if isinstance(e.get("community_id"), str)
                 and e["community_id"] not in probe_cids)
    L.log("probe: %d flow events, %d Community IDs; Eve: %d alerts, %d match a probe flow, "
          "%d do not" % (len(dump), len(probe_cids), len(alerts), n_match, n_miss))
    L.check_eq(n_miss, len(misses), "alerts without a probe flow")

    L.logger(col.port, tag="suricata", tcp=True, octet_count=True, size=200000, file=eve_path)
    col.wait_syslog(lambda s: s["dispatched"] >= len(lines), 180,
                    "%d Eve lines dispatched" % len(lines))
    col.wait_alerts(len(alerts) + n_match, "alert_type = 'ids_alert'", timeout=120,
                    what="%d ids_alert rows" % (len(alerts) + n_match))
    L.check_eq(col.stop(), 0, "collector exit code")

    s = col.status()["syslog"]
    L.check_eq(s["dispatched"], len(lines), "syslog.dispatched")
    L.check_eq(s["attached"], n_match, "syslog.attached")
    L.check_eq(s["attach_misses"], n_miss, "syslog.attach_misses")
    L.check_eq(s["queue_full"], 0, "syslog.queue_full")

    rows = col.alerts("alert_type = 'ids_alert'")
    on_probe = [r for r in rows if r["probe_id"] == PROBE_ID]
    on_syslog = [r for r in rows if r["probe_id"] == ""]
    L.check_eq(len(rows), len(on_probe) + len(on_syslog),
               "ids_alert rows on neither the probe nor syslog: %s" %
               {r["probe_id"] for r in rows})
    L.check_eq(len(on_syslog), len(alerts), "ids_alert rows of the Suricata flows")
    L.check_eq(len(on_probe), n_match, "ids_alert rows attached to probe flows")
    got = collections.Counter()
    for r in on_probe:
        L.check_eq((r["entity"], r["interface"], r["script_key"], r["subdir"], r["kind"]),
                   ("flow", ifname, "suricata", "syslog", "oneshot"),
                   "attached row %d: entity/interface/script/subdir/kind" % r["id"])
        got[r["entity_value"]] += 1
    L.check_eq(got, matched, "attached rows per Community ID")
    # the attached verdict is the same as the Suricata-side one
    side = collections.Counter((r["entity_value"], r["message"], r["json"], r["score"],
                                r["severity"]) for r in on_syslog
                               if r["entity_value"] in probe_cids)
    att = collections.Counter((r["entity_value"], r["message"], r["json"], r["score"],
                               r["severity"]) for r in on_probe)
    L.check(side == att, "attached verdicts differ from the Suricata-side ones: %s" %
            list((side - att) + (att - side))[:3])
    L.log("attached %d, misses %d, per Community ID as expected" % (n_match, n_miss))


if __name__ == "__main__":
    L.main(run)
