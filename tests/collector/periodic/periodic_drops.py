#!/usr/bin/env python3
"""collector.periodic.drops: too_many_drops on lost probe messages. A probe replays a capture
while no collector listens, with room for only 4 unacknowledged batches of 8 flows, so it
drops most batches; then the collector starts on its endpoint and receives the last ones: the
sequence gaps are lost messages (> 90 % of the probe's messages). The next minute round
engages too_many_drops for the probe's interface; the round after it (no new messages)
releases it. Usage: periodic_drops.py BUILD_DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import periodic_lib as E  # noqa: E402


def run():
    env = E.Env("drops", sys.argv[1])
    data = env.path("data")
    db = os.path.join(data, "alerts.db")
    # stock defaults (too_many_drops;gt;5); only the recorder is added
    sdir = E.write_scripts(env, E.recorder("interface"))
    col = E.Collector(env, "col", data, scripts_dir=sdir)
    pcap = os.path.join(E.PCAPS, "ndpi__synscan.pcap")
    events = E.dump_reference(env, pcap)
    probe = E.Probe(env, "lossy", col.endpoint, pcap=pcap, dump=True,
                    extra=["--max-unacked", "4", "--batch-flows", "8"]).start()
    # the probe has read the whole file (its dump is complete, flushed before it waits for
    # acknowledgements) and dropped all but 4 batches before the collector starts
    E.wait_for(lambda: probe.dump_lines() >= events, 60, "the probe to read the capture")
    col.start()
    probe.wait()
    s = probe.summary()
    E.check(s["dropped_batches"] > 100 and s["unacked_batches"] == 0, "probe summary: %s" % s)
    col.fresh_status()
    reg = col.probe("lossy")
    E.check(reg["lost"] >= s["dropped_batches"], "collector lost %d < probe dropped %d" %
            (reg["lost"], s["dropped_batches"]))

    mark = E.max_id(db)
    r = col.run_round("min")
    E.check(r["errors"] == 0, "round 1: %s" % r)
    rows = E.engaged(db, "too_many_drops")
    E.check(len(rows) == 1 and rows[0]["engaged"] == 1 and rows[0]["probe_id"] == "lossy",
            "too_many_drops: %s" % rows)
    E.log("too_many_drops: %s" % rows[0]["message"])
    rec = E.records(db, subdir="interface", after_id=mark)
    E.check(len(rec) == 1 and rec[0]["delta"]["lost_messages"] == reg["lost"] and
            rec[0]["stats"]["messages"] == reg["messages"], "recorder: %s" % rec)

    r = col.run_round("min")
    rows = E.engaged(db, "too_many_drops")
    E.check(len(rows) == 1 and rows[0]["engaged"] == 0 and rows[0]["released_tstamp"],
            "too_many_drops not released: %s" % rows)
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())


if __name__ == "__main__":
    E.main(run)
