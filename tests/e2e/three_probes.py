#!/usr/bin/env python3
"""e2e.three_probes: three zflow-probe processes replay different captures into one collector
over TCP loopback. Checks, against what each probe exported (its --dump):
  - the hooks of every flow, from --trace-hooks: exactly the expected ones, protocolDetected at
    most once and before any periodicUpdate, one flowEnd and it is last;
  - per probe: flows_new / flows_ended of its interface = flows with an end in its dump,
    flow_events = dump lines, no active flow left, lost = 0, duplicates = 0;
  - every probe: exit 0, unacked_batches = 0, dropped_batches = 0, sent_flows = dump lines;
  - alerts.db: one e2e_test alert per flow to port 80 (per probe), one e2e_flow_end alert per
    exported flow with entity_value "<probe_id>/<flow_id>".
Usage: three_probes.py BUILD_DIR
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as E  # noqa: E402

CAPTURES = [("e2e-vast", "vast__example.pcap"),
            ("e2e-http", "zeek__http_bro.org.pcap"),
            ("e2e-bigmix", "generated__big-mix.pcap")]


def run():
    env = E.Env("three", sys.argv[1])
    sdir, inst = E.make_scripts(env)
    data = env.path("data")
    E.check_scripts_run(env, sdir, inst, data)
    col = None
    for attempt in range(3):  # a free port can be taken between the probe and the bind
        col = E.Collector(env, "collector", E.free_port(), sdir, inst, data)
        try:
            col.start()
            break
        except E.TestFailure as e:
            if "Address already in use" not in str(e) or attempt == 2:
                raise
    probes = [E.Probe(env, pid, os.path.join(E.PCAPS, pcap), col.endpoint,
                      ["--drain-timeout-ms", "60000"]).start() for pid, pcap in CAPTURES]
    for p in probes:
        rc = p.wait(120)
        E.check(rc == 0, "probe %s exit code %d:\n%s" % (p.probe_id, rc, p.stderr_text()))
    E.check(col.alive(), "collector died:\n" + col.stderr_text())
    rc = col.stop()
    E.check(rc == 0, "collector exit code %d:\n%s" % (rc, col.stderr_text()))
    st = col.status()  # written at exit, after every worker finished
    ifaces = E.iface_map(st)
    regs = {p["probe_id"]: p for p in st["registry"]["probes"]}
    trace = E.read_trace(col.trace)
    db = os.path.join(data, "alerts.db")

    total_flows = 0
    iface_of = {}
    failures = []

    def check_probe(p):
        nonlocal total_flows
        s = p.summary()
        d = p.dump()
        ended = d.ended()
        total_flows += len(ended)
        E.log("%-11s %-28s events %6d flows %5d port80 %4d | probe sent_flows %d acked %d "
              "unacked %d dropped %d resent %d" %
              (p.probe_id, os.path.basename(p.pcap), len(d.events), len(ended),
               len(d.ended_to_port(80)), s["sent_flows"], s["acked_batches"],
               s["unacked_batches"], s["dropped_batches"], s["resent_batches"]))
        E.check(s["unacked_batches"] == 0, "%s: unacked_batches %d" % (p.probe_id,
                                                                      s["unacked_batches"]))
        E.check(s["dropped_batches"] == 0, "%s: dropped_batches %d" % (p.probe_id,
                                                                      s["dropped_batches"]))
        E.check(s["sent_flows"] == len(d.events), "%s: sent_flows %d != %d dump lines" %
                (p.probe_id, s["sent_flows"], len(d.events)))
        E.check(len(ended) == len(d.by_flow), "%s: %d flows without an end event in the dump" %
                (p.probe_id, len(d.by_flow) - len(ended)))
        reg = regs.get(p.probe_id)
        E.check(reg is not None, "%s unknown to the collector" % p.probe_id)
        E.check(reg["lost"] == 0, "%s: lost %d" % (p.probe_id, reg["lost"]))
        E.check(reg["duplicates"] == 0, "%s: duplicates %d" % (p.probe_id, reg["duplicates"]))
        E.check(reg["restarts"] == 0, "%s: restarts %d" % (p.probe_id, reg["restarts"]))
        E.check(reg["flow_events"] == len(d.events), "%s: collector flow_events %d != %d" %
                (p.probe_id, reg["flow_events"], len(d.events)))
        ifs = ifaces[p.probe_id]
        E.check(len(ifs) == 1, "%s: %d interfaces: %s" % (p.probe_id, len(ifs), ifs))
        ifc = ifs[0]
        E.log("%-11s collector iface %d %r: flows_new %d flows_ended %d active %d | lost %d "
              "duplicates %d messages %d" %
              (p.probe_id, ifc["id"], ifc["name"], ifc["flows_new"], ifc["flows_ended"],
               ifc["flows_active"], reg["lost"], reg["duplicates"], reg["messages"]))
        E.check(ifc["name"] == os.path.basename(p.pcap), "%s: interface name %r" %
                (p.probe_id, ifc["name"]))
        E.check(ifc["flows_new"] == len(ended), "%s: flows_new %d != %d exported" %
                (p.probe_id, ifc["flows_new"], len(ended)))
        E.check(ifc["flows_ended"] == len(ended), "%s: flows_ended %d != %d exported" %
                (p.probe_id, ifc["flows_ended"], len(ended)))
        E.check(ifc["flows_active"] == 0, "%s: %d flows still active" % (p.probe_id,
                                                                        ifc["flows_active"]))
        iface_of[p.probe_id] = ifc["id"]

        # hooks, flow by flow
        tr = {fid: hooks for (iid, fid), hooks in trace.items() if iid == ifc["id"]}
        E.check(set(tr) == ended, "%s: traced flows != exported flows: %d missing %s, %d extra "
                "%s" % (p.probe_id, len(ended - set(tr)), sorted(ended - set(tr))[:10],
                        len(set(tr) - ended), sorted(set(tr) - ended)[:10]))
        n_pd = n_pu = 0
        bad = []
        for fid in ended:
            hooks = tr[fid]
            try:
                E.check_hook_order(hooks, "%s flow %d" % (p.probe_id, fid))
                want = d.expected_hooks(fid)
                E.check(hooks == want, "%s flow %d: hooks %s, expected %s" %
                        (p.probe_id, fid, E.fmt_seq(hooks), E.fmt_seq(want)))
            except E.TestFailure as e:
                bad.append("%s (events: %s)" % (e, E.fmt_seq([ev["event"] for ev in d.by_flow[fid]])))
            n_pd += hooks.count("protocolDetected")
            n_pu += hooks.count("periodicUpdate")
        E.check(not bad, "%d flows with wrong hooks, e.g.\n  %s" % (len(bad), "\n  ".join(bad[:5])))
        E.log("%-11s hooks: flowEnd %d protocolDetected %d periodicUpdate %d (all in order)" %
              (p.probe_id, len(ended), n_pd, n_pu))

        # alerts
        a80 = E.alerts(db, "alert_type = 'e2e_test' AND probe_id = ?", (p.probe_id,))
        E.check(len(a80) == len(d.ended_to_port(80)), "%s: %d e2e_test alerts, %d flows to "
                "port 80" % (p.probe_id, len(a80), len(d.ended_to_port(80))))
        E.check(all(a["script_key"] == "e2e_port80" and a["kind"] == "oneshot" and
                    a["interface"] == os.path.basename(p.pcap) for a in a80),
                "%s: unexpected e2e_test alert fields: %s" % (p.probe_id, a80[:2]))
        ends = E.alerts(db, "alert_type = 'e2e_flow_end' AND probe_id = ?", (p.probe_id,))
        per = collections.Counter(a["entity_value"] for a in ends)
        want = {"%s/%d" % (p.probe_id, fid) for fid in ended}
        dup = [k for k, n in per.items() if n > 1]
        E.check(not dup, "%s: flows with several flowEnd alerts: %s" % (p.probe_id, dup[:10]))
        E.check(set(per) == want, "%s: flowEnd alerts: %d missing %s, %d unexpected %s" %
                (p.probe_id, len(want - set(per)), sorted(want - set(per))[:5],
                 len(set(per) - want), sorted(set(per) - want)[:5]))
        E.log("%-11s alerts: e2e_test %d, e2e_flow_end %d" % (p.probe_id, len(a80), len(ends)))


    for p in probes:
        try:
            check_probe(p)
        except E.TestFailure as e:
            failures.append(str(e))
    E.check(not failures, "\n".join(failures))
    E.check(len(trace) == total_flows, "trace has %d flows, the probes exported %d" %
            (len(trace), total_flows))
    ing = st["ingest"]
    bad = {k: v for k, v in ing.items() if k.startswith("bad_") and v}
    E.check(not bad, "bad input counted: %s" % bad)
    E.check(ing["queue_full"] == 0, "queue_full %d" % ing["queue_full"])
    E.log("collector: messages %d flow_events %d acks_sent %d duplicates %d inflight_resends %d "
          "queue_full %d; summary %s" % (ing["messages"], ing["flow_events"], ing["acks_sent"],
                                         ing["duplicates"], ing["inflight_resends"],
                                         ing["queue_full"], col.summary()))
    s = col.summary()
    E.check(s and s["script_errors"] == 0, "script errors: %s" % s)


if __name__ == "__main__":
    E.main(run)
