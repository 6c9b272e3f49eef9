#!/usr/bin/env python3
"""e2e.backpressure: a probe streams into a collector whose worker queue is tiny
(--queue-size 8, one worker, a slow flowEnd script), so the collector refuses batches
(queue_full) and the probe resends them after resend_ms (5 s). The collector holds back the
probe's later batches until a refused one is back (held_back), so every exported flow is
applied once, in order:
  - per flow, the hooks are exactly the expected ones (protocolDetected once and first, one
    flowEnd, last): an older event applied after the flow's end must not re-open it;
  - no flow left open once the probe is done, flows_new = flows exported;
  - after the probe went silent for --probe-timeout, still one flowEnd alert per flow (a flow
    re-opened by a late event would get a second flowEnd, reason probe_down);
  - the probe: exit 0, unacked = dropped = 0; the collector: lost 0.
Usage: backpressure.py BUILD_DIR
"""
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as E  # noqa: E402

PCAP = os.path.join(E.PCAPS, "generated__big-mix.pcap")
SPIN = int(os.environ.get("E2E_SPIN", "2000"))
PROBE_TIMEOUT = 12  # > the probe's stats interval and resend_ms (5 s)
QUEUE = os.environ.get("E2E_QUEUE", "8")  # work items per worker queue


def run():
    env = E.Env("bp", sys.argv[1])
    sdir, inst = E.make_scripts(env, spin=SPIN)
    data = env.path("data")
    E.check_scripts_run(env, sdir, inst, data)
    col = E.Collector(env, "collector", E.free_port(), sdir, inst, data, workers=1,
                      probe_timeout=PROBE_TIMEOUT, extra=["--queue-size", QUEUE]).start()
    probe = E.Probe(env, "bp-probe", PCAP, col.endpoint, ["--drain-timeout-ms", "300000"]).start()
    rc = probe.wait(600)
    E.check(rc == 0, "probe exit code %d:\n%s" % (rc, probe.stderr_text()))
    s = probe.summary()
    d = probe.dump()
    ended = d.ended()
    # the probe is gone: wait until the collector declares it down (and ends what is open)
    E.wait_for(lambda: not col.status()["registry"]["probes"][0]["up"], PROBE_TIMEOUT + 10,
               "the collector to declare the probe down")
    E.wait_for(lambda: col.fresh_status()["workers"][0]["queue_depth"] == 0, 30,
               "the worker queue to drain")
    E.check(col.alive(), "collector died:\n" + col.stderr_text())
    rc = col.stop()
    E.check(rc == 0, "collector exit code %d" % rc)
    st = col.status()
    reg = st["registry"]["probes"][0]
    ifc = reg["interfaces"][0]
    E.log("probe: flows %d events %d acked %d resent %d unacked %d dropped %d (%.1f s)" %
          (len(ended), len(d.events), s["acked_batches"], s["resent_batches"],
           s["unacked_batches"], s["dropped_batches"], s["seconds"]))
    E.log("collector: queue_full %d held_back %d inflight_resends %d duplicates %d lost %d | "
          "iface flows_new %d flows_ended %d" % (st["ingest"]["queue_full"],
                                                 st["ingest"]["held_back"],
                                           st["ingest"]["inflight_resends"],
                                           st["ingest"]["duplicates"], reg["lost"],
                                           ifc["flows_new"], ifc["flows_ended"]))
    failures = []
    if st["ingest"]["queue_full"] == 0:
        failures.append("no batch was refused: the test did not exercise back-pressure")
    if st["ingest"]["holds_expired"]:
        failures.append("%d refused batches not resent in time" % st["ingest"]["holds_expired"])
    if s["unacked_batches"] or s["dropped_batches"] or reg["lost"]:
        failures.append("probe unacked %d dropped %d, collector lost %d" %
                        (s["unacked_batches"], s["dropped_batches"], reg["lost"]))
    if ifc["flows_new"] != len(ended):
        failures.append("flows_new %d for %d exported flows: %d flows re-opened" %
                        (ifc["flows_new"], len(ended), ifc["flows_new"] - len(ended)))
    trace = E.read_trace(col.trace)
    bad = collections.Counter()
    for (iid, fid), hooks in trace.items():
        want = d.expected_hooks(fid) if fid in d.by_flow else []
        if hooks != want:
            bad[(tuple(hooks), tuple(want))] += 1
    for (got, want), n in bad.most_common(5):
        failures.append("%d flows with hooks %s, expected %s" % (n, E.fmt_seq(got),
                                                                 E.fmt_seq(want)))
    ends = E.alerts(os.path.join(data, "alerts.db"),
                    "alert_type = 'e2e_flow_end' AND probe_id = 'bp-probe'")
    per = collections.defaultdict(list)
    for a in ends:
        per[a["entity_value"]].append(json.loads(a["json"]).get("end_reason"))
    dups = {k: v for k, v in per.items() if len(v) > 1}
    missing = {"bp-probe/%d" % f for f in ended} - set(per)
    if dups:
        failures.append("%d flows with several flowEnd alerts (end reasons), e.g. %s" %
                        (len(dups), list(dups.items())[:3]))
    if missing:
        failures.append("%d flows without a flowEnd alert, e.g. %s" %
                        (len(missing), sorted(missing)[:3]))
    E.check(not failures, "flows not applied exactly once, in order, under back-pressure:\n  " +
            "\n  ".join(failures))


if __name__ == "__main__":
    E.main(run)
