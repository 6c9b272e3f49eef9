#!/usr/bin/env python3
"""collector.periodic.timer: rounds at the wall-clock boundaries (no --no-round-timer).
  - the first minute boundary after the start runs a minute round on time: its `when` is the
    boundary (a multiple of 60), its lateness small, the scripts see granularity "min";
  - the collector is then stopped (SIGSTOP) from second 50 of a minute until second ~5 two
    minutes later, so two minute boundaries pass while it cannot run: after SIGCONT exactly
    one minute round runs, late by more than 60 s, with one boundary counted as missed, and
    the next boundary is armed again.
Takes about three minutes. Usage: periodic_timer.py BUILD_DIR
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import periodic_lib as E  # noqa: E402


def minute_rounds(col):
    return col.scheduler_status()["granularities"]["min"]


def run():
    env = E.Env("timer", sys.argv[1])
    data = env.path("data")
    db = os.path.join(data, "alerts.db")
    E.write_config(data, {})
    sdir = E.write_scripts(env, E.recorder("system"))
    col = E.Collector(env, "col", data, scripts_dir=sdir, timer=True).start()
    E.check(col.scheduler_status()["timer"] is True, "timer off")

    # the first boundary
    m = E.wait_for(lambda: (lambda g: g if g["timer_rounds"] >= 1 else None)(minute_rounds(col)),
                   75, "the first minute round", interval=0.5)
    last = m["last"]
    E.check(m["timer_rounds"] == 1 and m["manual_rounds"] == 0 and last["manual"] is False,
            "first round: %s" % m)
    E.check(last["when"] % 60 == 0 and 0 <= last["late_ms"] < 10000 and last["errors"] == 0,
            "first round timing: %s" % last)
    E.check(m["next_due"] == last["when"] + 60, "next due: %s" % m)
    rec = E.records(db, subdir="system", granularity="min")
    E.check(len(rec) == 1 and rec[0]["when"] == last["when"], "recorder: %s" % rec)
    E.log("on time: when %d, %d ms late" % (last["when"], last["late_ms"]))

    # a collector that cannot run across two boundaries
    E.wait_for(lambda: 50 <= time.time() % 60 < 56, 70, "second 50", interval=0.2)
    before = minute_rounds(col)
    stopped_at = time.time()
    os.kill(col.proc.pid, signal.SIGSTOP)
    try:
        resume = (stopped_at // 60 + 2) * 60 + 5  # second 5, two minutes on
        while time.time() < resume:
            time.sleep(min(1.0, max(0.0, resume - time.time())))
    finally:
        os.kill(col.proc.pid, signal.SIGCONT)
    boundary = (stopped_at // 60 + 1) * 60
    m = E.wait_for(lambda: (lambda g: g if g["timer_rounds"] > before["timer_rounds"] else None)(
        minute_rounds(col)), 30, "the late round", interval=0.2)
    last = m["last"]
    E.log("late: %s, missed %d" % (last, m["missed"]))
    E.check(m["timer_rounds"] == before["timer_rounds"] + 1, "rounds after the stop: %s" % m)
    E.check(m["missed"] == before["missed"] + 1, "missed: %s" % m)
    E.check(last["when"] == boundary and last["late_ms"] >= 60000 and
            m["late_rounds"] >= 1 and m["max_late_ms"] >= 60000, "late round: %s" % m)
    E.check(m["next_due"] == boundary + 120, "next due after the late round: %s" % m)
    E.check("scheduler: min round" in col.stderr_text() and
            "counted as missed" in col.stderr_text(), "no log line:\n" + col.stderr_text())
    # still exactly one more round a moment later (not one per missed boundary)
    E.check(minute_rounds(col)["timer_rounds"] == before["timer_rounds"] + 1,
            "more than one round for the missed boundaries")
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())


if __name__ == "__main__":
    E.main(run)
