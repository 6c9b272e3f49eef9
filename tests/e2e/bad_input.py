#!/usr/bin/env python3
"""e2e.bad_input: while a real probe streams into the collector, zflow-badsend sends random
bytes, truncated protobuf, a wrong schema version, empty frames, multi-frame messages, envelopes
without probe id / payload, out-of-range flows, the reserved "local:" probe id, an Ack from a
"probe", and one frame over 16 MiB on its own connection (ZMQ_MAXMSGSIZE drops it: nothing
counted, the connection is closed). Checks:
  - every bad message is counted under its reason in the status file (exact counts), nothing
    as too_big, the total of messages adds up;
  - the connection that sent the garbage is still served (its valid control messages are
    acknowledged, the duplicate is counted);
  - the real probe loses nothing: exit 0, unacked = dropped = 0, lost = 0, every exported
    flow created, ended, its hooks in order and one flowEnd alert each;
  - the collector neither crashes nor logs a script error, and stops cleanly.
Usage: bad_input.py BUILD_DIR
"""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib as E  # noqa: E402

PCAP = os.path.join(E.PCAPS, "generated__big-mix.pcap")
SPIN = int(os.environ.get("E2E_SPIN", "5000"))  # slows the collector: the stream lasts a while


def run():
    env = E.Env("bad", sys.argv[1])
    sdir, inst = E.make_scripts(env, spin=SPIN)
    data = env.path("data")
    E.check_scripts_run(env, sdir, inst, data)
    col = E.Collector(env, "collector", E.free_port(), sdir, inst, data).start()
    probe = E.Probe(env, "bad-real", PCAP, col.endpoint, ["--drain-timeout-ms", "120000"]).start()
    E.wait_for(lambda: any(p["probe_id"] == "bad-real" and p["flow_events"] > 0
                           for p in col.status()["registry"]["probes"]), 30,
               "the real probe's first flows in the status file")
    out = subprocess.run([env.bin("zflow-badsend"), "--collector", col.endpoint, "--count", "3",
                          "--rounds", "4", "--interval-ms", "150"],
                         capture_output=True, text=True, timeout=120)
    streaming = probe.running()
    E.log("zflow-badsend rc %d: %s %s" % (out.returncode, out.stdout.strip(), out.stderr.strip()))
    E.log("real probe still streaming when the bad input was all sent: %s" % streaming)
    E.check(out.returncode == 0, "zflow-badsend failed: %s" % out.stderr)
    res = json.loads(out.stdout)
    E.check(res["oversize_disconnected"], "the oversized frame did not drop its connection")
    E.check(col.alive(), "collector died during the bad input:\n" + col.stderr_text())

    rc = probe.wait(180)
    E.check(rc == 0, "probe exit code %d:\n%s" % (rc, probe.stderr_text()))
    E.check(col.alive(), "collector died:\n" + col.stderr_text())
    rc = col.stop()
    E.check(rc == 0, "collector exit code %d:\n%s" % (rc, col.stderr_text()))
    st = col.status()
    ing = st["ingest"]
    regs = {p["probe_id"]: p for p in st["registry"]["probes"]}
    E.log("collector ingest: %s" % {k: v for k, v in ing.items() if v})

    exp = res["expect"]
    for k, v in exp.items():
        if k.startswith("bad_"):
            E.check(ing[k] == v, "%s = %d, expected %d" % (k, ing[k], v))
    E.check(ing["duplicates"] == exp["duplicates"], "duplicates %d, expected %d (the control "
            "batch sent twice)" % (ing["duplicates"], exp["duplicates"]))
    real = regs["bad-real"]
    E.check(ing["messages"] == exp["messages"] + real["messages"],
            "messages %d != %d bad/control + %d from the probe" %
            (ing["messages"], exp["messages"], real["messages"]))
    ctl = regs.get("badsend")
    E.check(ctl and ctl["flow_events"] == exp["control_flow_events"] and
            ctl["interfaces"][0]["flows_ended"] == 1, "control probe state: %s" % ctl)
    E.check(not [p for p in regs if p.startswith("local:")], "a reserved probe id registered")

    s = probe.summary()
    d = probe.dump()
    ended = d.ended()
    E.log("real probe: flows %d events %d acked %d unacked %d dropped %d resent %d | collector "
          "lost %d duplicates %d" % (len(ended), len(d.events), s["acked_batches"],
                                    s["unacked_batches"], s["dropped_batches"],
                                    s["resent_batches"], real["lost"], real["duplicates"]))
    E.check(s["unacked_batches"] == 0 and s["dropped_batches"] == 0,
            "probe unacked %d dropped %d" % (s["unacked_batches"], s["dropped_batches"]))
    E.check(real["lost"] == 0 and real["duplicates"] == 0, "probe lost %d duplicates %d" %
            (real["lost"], real["duplicates"]))
    E.check(real["flow_events"] == len(d.events), "flow_events %d != %d exported" %
            (real["flow_events"], len(d.events)))
    ifc = real["interfaces"][0]
    E.check(ifc["flows_new"] == len(ended) and ifc["flows_ended"] == len(ended) and
            ifc["flows_active"] == 0, "interface %s vs %d exported flows" % (ifc, len(ended)))
    trace = E.read_trace(col.trace)
    tr = {fid: h for (iid, fid), h in trace.items() if iid == ifc["id"]}
    E.check(set(tr) == ended, "traced flows != exported flows")
    for fid in ended:
        E.check(tr[fid] == d.expected_hooks(fid), "flow %d hooks %s, expected %s" %
                (fid, E.fmt_seq(tr[fid]), E.fmt_seq(d.expected_hooks(fid))))
    ends = E.alerts(os.path.join(data, "alerts.db"),
                    "alert_type = 'e2e_flow_end' AND probe_id = 'bad-real'")
    per = collections.Counter(a["entity_value"] for a in ends)
    E.check(set(per) == {"bad-real/%d" % f for f in ended} and max(per.values()) == 1,
            "flowEnd alerts: %d for %d flows" % (len(ends), len(ended)))
    summ = col.summary()
    E.check(summ and summ["script_errors"] == 0, "collector summary: %s" % summ)


if __name__ == "__main__":
    E.main(run)
