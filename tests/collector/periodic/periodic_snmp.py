#!/usr/bin/env python3
"""collector.periodic.snmp: the snmp scripts against a real snmpd. In a network namespace
(lo and a veth pair v0/v1) run snmpd and the collector with three --snmp-device: the agent,
a port where nothing answers (unreachable) and the agent with a wrong community. Rounds run on
request; each asks the poller for a fresh poll first.
  - round 1: the scripts run once per agent interface (lo, v1, v0) with reachable = true and
    no delta yet, and once per failing device with reachable = false and the error; the log
    says both devices are unreachable;
  - ~42 MB of UDP on lo, then round 2: deltas for every interface; utilisation of lo (10
    Mbit/s) crosses 20 % and engages; error_ratio (threshold ge 0) engages everywhere;
  - `ip link set v1 down`, round 3: oper_status_changed stores one alert per interface that
    changed (v1 up -> down, v0 up -> lowerLayerDown/down); utilisation is released;
  - round 4: no new status alert; polling of the failing devices went on in every round.
Needs root, ip netns and snmpd. Usage: periodic_snmp.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import periodic_lib as E  # noqa: E402

FLOOD = 30000 * 1400
IF_HC_IN_OCTETS_LO = "1.3.6.1.2.1.31.1.1.1.6.1"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"


def sh(*argv):
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    E.check(out.returncode == 0, "%s: %s" % (" ".join(argv), out.stderr))
    return out.stdout


def run():
    E.require_root()
    for tool in ("ip", "snmpd", "snmpget"):
        if not shutil.which(tool):
            E.log("SKIP: %s not found" % tool)
            sys.exit(E.SKIP)
    env = E.Env("snmp", sys.argv[1])
    ns = "zflow-periodic-%d" % os.getpid()
    sh("ip", "netns", "add", ns)
    E.at_exit(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True))
    nsx = ["ip", "netns", "exec", ns]
    sh(*nsx, "ip", "link", "set", "lo", "up")
    sh(*nsx, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    sh(*nsx, "ip", "link", "set", "v0", "up")
    sh(*nsx, "ip", "link", "set", "v1", "up")

    conf = env.path("snmpd.conf")
    with open(conf, "w") as f:
        f.write("agentAddress udp:127.0.0.1:1161\nrocommunity public 127.0.0.1\n")
    os.environ["SNMP_PERSISTENT_DIR"] = env.path("snmp-persist")
    snmpd_log = open(env.path("snmpd.log"), "wb")
    snmpd = E.spawn(nsx + ["snmpd", "-f", "-Lo", "-C", "-c", conf, "-p", env.path("snmpd.pid"),
                           "-M", env.tmp], stdout=snmpd_log, stderr=snmpd_log)

    def snmpget(oid):
        out = subprocess.run(nsx + ["snmpget", "-v2c", "-c", "public", "-Ovq", "-t", "1",
                                    "-r", "0", "-M", env.tmp, "127.0.0.1:1161", oid],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip() if out.returncode == 0 else None

    E.wait_for(lambda: snmpd.poll() is None and snmpget("1.3.6.1.2.1.1.5.0"), 30,
               "snmpd to answer")

    data = env.path("data")
    db = os.path.join(data, "alerts.db")
    E.write_config(data, {"snmp": {"utilisation": {"value": "utilisation;gt;20"},
                                   "error_ratio": {"value": "error_ratio;ge;0"}}})
    sdir = E.write_scripts(env, E.recorder("snmp"))
    good, down, wrong = "127.0.0.1:1161", "127.0.0.1:1171", "localhost:1161"
    col = E.Collector(env, "col", data, scripts_dir=sdir, wrap=nsx,
                      extra=["--snmp-device", "public@" + good, "--snmp-device", "public@" + down,
                             "--snmp-device", "wrong@" + wrong, "--snmp-interval", "3600"])
    col.start()
    names = {1: "lo", 2: "v1", 3: "v0"}

    # round 1
    mark = E.max_id(db)
    r = col.run_round("min")
    E.check(r["errors"] == 0 and r["entities"] == 6, "round 1: %s" % r)  # 3 + 2 + system
    rec = {x["entity_value"]: x for x in E.records(db, subdir="snmp", after_id=mark)}
    for idx, name in names.items():
        x = rec.get("%s_ifidx%d" % (good, idx))
        E.check(x and x["reachable"] is True and x["name"] == name and x["ifindex"] == idx and
                x["has_delta"] is False and x["entity"] == "snmp_interface" and
                x["oper_status"] == 1, "round 1 %s: %s" % (name, x))
    E.check(rec["%s_ifidx1" % good]["speed"] == 10000000, "lo speed")
    for dev in (down, wrong):
        x = rec.get(dev)
        E.check(x and x["reachable"] is False and "timeout" in x["error"] and
                x["entity"] == "snmp_device", "unreachable %s: %s" % (dev, x))
    log = col.stderr_text()
    for dev in (down, wrong):
        E.check(("snmp_poller: %s: unreachable" % dev) in log, "no log line for %s:\n%s" %
                (dev, log))

    # traffic on lo, seen by the agent
    before = int(snmpget(IF_HC_IN_OCTETS_LO))
    sh(*nsx, sys.executable, "-c",
       "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
       "for i in range(30000): s.sendto(b'x' * 1400, ('127.0.0.1', 9))\n")
    E.wait_for(lambda: int(snmpget(IF_HC_IN_OCTETS_LO) or 0) >= before + FLOOD, 60,
               "the agent to count the traffic on lo")

    # round 2
    mark = E.max_id(db)
    r = col.run_round("min")
    E.check(r["errors"] == 0, "round 2: %s" % r)
    rec = {x["entity_value"]: x for x in E.records(db, subdir="snmp", after_id=mark)}
    lo = rec["%s_ifidx1" % good]
    E.check(lo["has_delta"] and lo["delta"]["in_octets"] >= FLOOD and lo["in_bps"] > 0 and
            lo["utilisation_pct"] > 20 and lo["fresh"] is True, "lo round 2: %s" % lo)
    util = E.engaged(db, "snmp_utilisation")
    E.check(len(util) == 1 and util[0]["entity_value"] == "%s_ifidx1" % good and
            util[0]["engaged"] == 1, "utilisation: %s" % util)
    E.log("utilisation: %s" % util[0]["message"])
    for idx in names:
        rows = E.engaged(db, "snmp_error_ratio", "%s_ifidx%d" % (good, idx))
        E.check(len(rows) == 1 and rows[0]["engaged"] == 1, "error_ratio %d: %s" % (idx, rows))
    E.check(rec[down]["reachable"] is False and rec[wrong]["reachable"] is False,
            "failing devices in round 2")

    # link down between two polls
    sh(*nsx, "ip", "link", "set", "v1", "down")
    E.wait_for(lambda: snmpget(IF_OPER_STATUS + ".2") not in (None, "1") and
               snmpget(IF_OPER_STATUS + ".3") not in (None, "1"), 60,
               "the agent to report v1 and v0 not up")
    mark = E.max_id(db)
    r = col.run_round("min")
    E.check(r["errors"] == 0 and r["alerts_stored"] >= 2, "round 3: %s" % r)
    rows = E.db_rows(db, "alert_type = 'snmp_oper_status_changed'")
    got = {x["entity_value"]: x for x in rows}
    E.check(set(got) == {"%s_ifidx2" % good, "%s_ifidx3" % good},
            "oper status alerts: %s" % rows)
    v1 = got["%s_ifidx2" % good]
    E.check(v1["kind"] == "oneshot" and '"from":1' in v1["json"] and '"to":2' in v1["json"] and
            "up -> down" in v1["message"], "v1 status alert: %s" % v1)
    E.log("status change: %s" % v1["message"])
    util = E.engaged(db, "snmp_utilisation")
    E.check(util[0]["engaged"] == 0 and util[0]["released_tstamp"], "utilisation kept: %s" %
            util)
    rec = {x["entity_value"]: x for x in E.records(db, subdir="snmp", after_id=mark)}
    E.check(rec["%s_ifidx2" % good]["prev_oper_status"] == 1 and
            rec["%s_ifidx2" % good]["oper_status"] == 2, "v1 round 3: %s" %
            rec["%s_ifidx2" % good])

    # round 4: no change, no new status alert; the failing devices are still polled
    r = col.run_round("min")
    E.check(len(E.db_rows(db, "alert_type = 'snmp_oper_status_changed'")) == 2,
            "status alerts repeated")
    st = col.scheduler_status()["snmp"]["devices"]
    by = {d["device"]: d for d in st}
    E.check(by[good]["reachable"] == 1 and by[good]["interfaces"] == 3, "status: %s" % st)
    for dev in (down, wrong):
        E.check(by[dev]["reachable"] == 0 and by[dev]["polls"] >= 5 and
                by[dev]["failures"] == by[dev]["polls"], "status %s: %s" % (dev, by[dev]))
    E.check(col.stop() == 0, "collector exit code:\n" + col.stderr_text())
    snmpd_log.close()


if __name__ == "__main__":
    E.main(run)
