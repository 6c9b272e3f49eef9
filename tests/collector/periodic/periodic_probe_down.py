#!/usr/bin/env python3
"""collector.periodic.probe_down: a live probe (capturing on lo, --stats-interval 1) is killed
with SIGKILL; once it has been silent for more than 3 of its stats intervals the next minute
round engages probe_down for its interface (while ingest's own 30 s probe timeout has not
fired yet); after the probe is started again with the same id, the next round releases it.
Needs root (live capture). Usage: periodic_probe_down.py BUILD_DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import periodic_lib as E  # noqa: E402


def run():
    E.require_root()
    env = E.Env("probe-down", sys.argv[1])
    data = env.path("data")
    db = os.path.join(data, "alerts.db")
    E.write_config(data, {})  # stock defaults: probe_down;gt;3
    col = E.Collector(env, "col", data).start()
    value = "live1/lo"

    def start_probe():
        # a filter that matches nothing of the test itself: only stats flow to the collector
        return E.Probe(env, "live1", col.endpoint, iface="lo",
                       extra=["-f", "udp port 9", "--no-l7"]).start()

    def heard(max_age):
        col.fresh_status()
        p = col.probe("live1")
        return p is not None and p["last_seen_s_ago"] < max_age and p["interfaces"]

    probe = start_probe()
    E.wait_for(lambda: heard(1.5), 30, "the live probe's stats")
    r = col.run_round("min")
    E.check(r["errors"] == 0 and r["entities"] >= 2, "round 1: %s" % r)
    E.check(not E.engaged(db, "probe_down"), "probe_down while the probe runs")

    probe.kill9()
    E.wait_for(lambda: col.probe("live1")["last_seen_s_ago"] > 4.5, 30,
               "the probe to be silent for 4.5 s")
    E.check(col.probe("live1")["up"], "ingest's 30 s timeout fired already")
    r = col.run_round("min")
    rows = E.engaged(db, "probe_down", value)
    E.check(len(rows) == 1 and rows[0]["engaged"] == 1, "probe_down after SIGKILL: %s" % rows)
    E.check("live1" in rows[0]["message"] and rows[0]["probe_id"] == "live1" and
            rows[0]["interface"] == "lo", "probe_down row: %s" % rows[0])
    E.log("probe_down: %s" % rows[0]["message"])
    # still down: still engaged, same row
    r = col.run_round("min")
    rows = E.engaged(db, "probe_down", value)
    E.check(len(rows) == 1 and rows[0]["engaged"] == 1, "probe_down kept: %s" % rows)

    m0 = col.probe("live1")["messages"]
    probe = start_probe()
    # its hello and a first stats message of the new run, then one more publication
    E.wait_for(lambda: heard(1.5) and col.probe("live1")["restarts"] == 1 and
               col.probe("live1")["messages"] >= m0 + 2, 30, "the restarted probe's stats")
    col.fresh_status()
    r = col.run_round("min")
    E.check(r["alerts_released"] >= 1, "round after restart: %s" % r)
    rows = E.engaged(db, "probe_down", value)
    E.check(len(rows) == 1 and rows[0]["engaged"] == 0 and rows[0]["released_tstamp"],
            "probe_down not released: %s" % rows)
    probe.kill9()
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())


if __name__ == "__main__":
    E.main(run)
