#!/usr/bin/env python3
"""e2e.collector_restart: probes stream into a collector that is killed with SIGKILL mid-stream
and restarted on the same port with the same data directory. Every exported flow must arrive
exactly once across both collector runs:
  - alerts.db: exactly one e2e_flow_end alert (entity_value "<probe_id>/<flow_id>", written by a
    test script on every flowEnd) per flow with an end event in the probe's --dump; none
    missing, no duplicates, none for a flow the probes never exported; one e2e_test alert per
    flow to port 80;
  - (diagnostic, not asserted: a flowEnd hook may run twice when collector1 was killed in the
    middle of a batch, which it had not acknowledged; its alerts must then not count twice)
  - the probes: exit 0, unacked_batches = 0, dropped_batches = 0, and some batches resent
    (proof that the kill hit the stream);
  - the second collector ends with no flow left open (a resent older event must not re-create
    a flow that already ended).
The test script is slow on purpose (busy loop in flowEnd) so that the collector, not the probes,
is the bottleneck and a backlog of unacknowledged batches exists when it is killed.
On failure every bad flow is classified with the two traces, to tell why.
Usage: collector_restart.py BUILD_DIR
"""
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as E  # noqa: E402

BIGMIX = os.path.join(E.PCAPS, "generated__big-mix.pcap")
CAPTURES = [("rs-bigmix-1", BIGMIX), ("rs-bigmix-2", BIGMIX), ("rs-bigmix-3", BIGMIX),
            ("rs-1kxun", os.path.join(E.PCAPS, "ndpi__1kxun.pcap"))]
SPIN = int(os.environ.get("E2E_SPIN", "20000"))   # Lua loop iterations per flowEnd
KILL_AT = int(os.environ.get("E2E_KILL_AT", "4000"))  # flowEnds traced before the SIGKILL


def iface_ids(status):
    return {ifc["id"]: p["probe_id"] for p in status["registry"]["probes"]
            for ifc in p["interfaces"]}


def by_probe(trace, ids):
    """{probe_id: {flow_id: [hooks]}} of one collector run."""
    out = collections.defaultdict(dict)
    for (iid, fid), hooks in trace.items():
        out[ids.get(iid, "?iface%d" % iid)][fid] = hooks
    return out


def run():
    env = E.Env("restart", sys.argv[1])
    sdir, inst = E.make_scripts(env, spin=SPIN)
    data = env.path("data")
    E.check_scripts_run(env, sdir, inst, data)
    port = E.free_port()
    c1 = E.Collector(env, "collector1", port, sdir, inst, data).start()
    probes = [E.Probe(env, pid, pcap, c1.endpoint, ["--drain-timeout-ms", "180000"]).start()
              for pid, pcap in CAPTURES]

    # every probe registered (its hello is in a status file), then KILL_AT flowEnds applied
    E.wait_for(lambda: len(c1.status()["registry"]["probes"]) == len(probes), 30,
               "every probe in collector1's status")
    ids1 = iface_ids(c1.status())
    E.wait_for(lambda: E.count_lines(c1.trace, "flowEnd") >= KILL_AT or not c1.alive(), 120,
               "%d flowEnds in collector1's trace" % KILL_AT, interval=0.01)
    E.check(c1.alive(), "collector1 died:\n" + c1.stderr_text())
    running = [p.probe_id for p in probes if p.running()]
    c1.kill9()
    t_kill = time.monotonic()
    n1 = E.count_lines(c1.trace, "flowEnd")
    E.log("SIGKILL collector1 after %d flowEnds; probes still running: %s" % (n1, running))
    E.check(running, "every probe had finished before the kill: the collector is too fast for "
            "this test (raise E2E_SPIN)")

    # restart on the same port and data dir once the probes have noticed the loss
    time.sleep(1.0)  # the outage itself: the probes must see the connection go (not a readiness wait)
    c2 = E.Collector(env, "collector2", port, sdir, inst, data).start()
    E.log("collector2 up %.1f s after the kill" % (time.monotonic() - t_kill))
    for p in probes:
        rc = p.wait(240)
        E.check(rc == 0, "probe %s exit code %d:\n%s" % (p.probe_id, rc, p.stderr_text()))
    E.check(c2.alive(), "collector2 died:\n" + c2.stderr_text())
    rc = c2.stop()
    E.check(rc == 0, "collector2 exit code %d:\n%s" % (rc, c2.stderr_text()))
    st2 = c2.status()
    ids2 = iface_ids(st2)
    t1 = by_probe(E.read_trace(c1.trace), ids1)
    t2 = by_probe(E.read_trace(c2.trace), ids2)
    db = os.path.join(data, "alerts.db")
    regs2 = {p["probe_id"]: p for p in st2["registry"]["probes"]}

    failures = []
    resent_total = 0
    hook_repeats = collections.Counter()  # flowEnd hooks run != 1 (diagnostic only)
    for p in probes:
        s = p.summary()
        d = p.dump()
        ended = d.ended()
        resent_total += s["resent_batches"]
        reg = regs2.get(p.probe_id, {})
        ifs = reg.get("interfaces", [])
        E.log("%-12s flows %5d events %6d | probe acked %d unacked %d dropped %d resent %d | "
              "c1 flowEnds %d c2 flowEnds %d | c2 flows_new %s active %s lost %s dups %s" %
              (p.probe_id, len(ended), len(d.events), s["acked_batches"], s["unacked_batches"],
               s["dropped_batches"], s["resent_batches"],
               sum(h.count("flowEnd") for h in t1[p.probe_id].values()),
               sum(h.count("flowEnd") for h in t2[p.probe_id].values()),
               [i["flows_new"] for i in ifs], [i["flows_active"] for i in ifs],
               reg.get("lost"), reg.get("duplicates")))
        if s["unacked_batches"] or s["dropped_batches"]:
            failures.append("%s: unacked_batches %d dropped_batches %d" %
                            (p.probe_id, s["unacked_batches"], s["dropped_batches"]))
        if any(i["flows_active"] for i in ifs):
            failures.append("%s: collector2 ends with %s flows still open (re-created by an "
                            "older event after their end?)" %
                            (p.probe_id, [i["flows_active"] for i in ifs]))

        ends = E.alerts(db, "alert_type = 'e2e_flow_end' AND probe_id = ?", (p.probe_id,))
        per = collections.defaultdict(list)
        for a in ends:
            per[a["entity_value"]].append(json.loads(a["json"]).get("end_reason"))
        bad = collections.Counter()
        examples = collections.defaultdict(list)
        for fid in ended:
            key = "%s/%d" % (p.probe_id, fid)
            n_alerts = len(per.get(key, []))
            h1 = t1[p.probe_id].get(fid, [])
            h2 = t2[p.probe_id].get(fid, [])
            n_end = h1.count("flowEnd") + h2.count("flowEnd")
            if n_end != 1:
                hook_repeats[p.probe_id] += 1
            if n_alerts == 1:
                continue
            cls = "alerts=%d flowEnd(c1)=%d flowEnd(c2)=%d" % (n_alerts, h1.count("flowEnd"),
                                                              h2.count("flowEnd"))
            bad[cls] += 1
            if len(examples[cls]) < 3:
                examples[cls].append("flow %d events [%s] c1 [%s] c2 [%s] end_reasons %s" %
                                     (fid, E.fmt_seq([e["event"] for e in d.by_flow[fid]]),
                                      E.fmt_seq(h1), E.fmt_seq(h2), per.get(key)))
        extra = set(per) - {"%s/%d" % (p.probe_id, fid) for fid in ended}
        if extra:
            bad["alert for a flow never exported"] += len(extra)
            examples["alert for a flow never exported"] = sorted(extra)[:3]
        for cls, n in sorted(bad.items()):
            failures.append("%s: %d flows with %s, e.g. %s" % (p.probe_id, n, cls,
                                                               examples[cls]))
        a80 = E.alerts(db, "alert_type = 'e2e_test' AND probe_id = ?", (p.probe_id,))
        want80 = len(d.ended_to_port(80))
        if len(a80) != want80:
            failures.append("%s: %d e2e_test alerts for %d flows to port 80" %
                            (p.probe_id, len(a80), want80))
    E.log("flows whose flowEnd hook ran more than once across the two runs (a batch applied "
          "in part by collector1, not acknowledged, applied again by collector2): %s" %
          dict(hook_repeats))
    E.log("collector2 ingest: %s" % {k: v for k, v in st2["ingest"].items() if v})
    E.log("collector2 summary: %s" % c2.summary())
    if resent_total == 0:
        failures.append("no batch was resent: the kill did not hit the stream")
    E.check(not failures, "flows did not arrive exactly once across the restart:\n  " +
            "\n  ".join(failures))


if __name__ == "__main__":
    E.main(run)
