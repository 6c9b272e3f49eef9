#!/usr/bin/env python3
"""syslog.logger: the real util-linux `logger` (RFC 3164 and RFC 5424, UDP and TCP, LF and
octet-counted framing, one message and -f FILE) against zflow-collector --syslog, through a
test syslog script (callbacks/syslog/echo.lua in a --scripts-dir) that stores every message as
an alert: the body, app name, hostname, priority/facility/severity, format, procid and msgid the
script saw are asserted per message. --syslog-map by sender address and by hostname sends
messages of another app name to echo; an app name without a script is counted."""
import json
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402

FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "local0": 16,
              "local3": 19, "local7": 23}
SEVERITIES = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5,
              "info": 6, "debug": 7}


def expect(body, fmt, pri="user.notice", app="echo", procid="", msgid="", host=None):
    fac, sev = pri.split(".")
    f, s = FACILITIES[fac], SEVERITIES[sev]
    hn = socket.gethostname()
    if host is None:
        host = hn.split(".")[0] if fmt == "rfc3164" else hn
    return {"body": body, "format": fmt, "facility": f, "severity": s, "priority": f * 8 + s,
            "app_name": app, "procid": procid, "msgid": msgid, "hostname": host}


def check_row(row, exp, now):
    what = "message %r" % exp["body"]
    j = json.loads(row["json"])
    h = j["header"]
    L.check_eq(row["entity"], "syslog", what + ": entity")
    L.check_eq(row["entity_value"], exp["body"], what + ": body (entity_value)")
    L.check_eq(row["message"], exp["body"], what + ": body (message)")
    L.check_eq(row["script_key"], "echo", what + ": script_key")
    L.check_eq(row["subdir"], "syslog", what + ": subdir")
    L.check_eq(j["priority"], exp["priority"], what + ": priority")
    for k in ("format", "facility", "severity", "app_name", "procid", "msgid", "hostname"):
        L.check_eq(h.get(k), exp[k], what + ": header." + k)
    L.check_eq(j["host"], exp["hostname"], what + ": host argument")
    L.check_eq(h.get("from"), "127.0.0.1", what + ": header.from")
    # the header time is the parsed timestamp (logger stamps the current time; RFC 3164 has
    # no zone and is read as UTC, logger writes local time: allow the local UTC offset)
    if exp.get("timed", True):
        off = abs(time.localtime().tm_gmtoff)
        L.check(abs(h.get("time", 0) - now) <= 300 + off,
                "%s: header.time %s is not near now (%d)" % (what, h.get("time"), now))
        L.check(h.get("timestamp"), what + ": no header.timestamp")


def run():
    a = L.args(__doc__)
    env = L.Env("logger")
    sdir = env.scripts_dir("scripts", {"syslog/echo.lua": L.ECHO_LUA})
    col = L.Collector(env, a.collector, "c1", scripts_dirs=[sdir], installdir=a.source,
                      syslog_map=["fakehost.example=echo"]).start()
    port = col.port
    cases = []  # (expected, logger kwargs)
    n = 0
    for tcp in (False, True):
        for rfc3164 in (True, False):
            for octet in ((False, True) if tcp else (False,)):
                n += 1
                fmt = "rfc3164" if rfc3164 else "rfc5424"
                body = "case %d %s %s%s: plain message" % (n, "tcp" if tcp else "udp", fmt,
                                                         " octet-count" if octet else "")
                cases.append((expect(body, fmt), dict(tcp=tcp, rfc3164=rfc3164,
                                                      octet_count=octet, message=body)))
                # priority, PID (procid), MSGID (RFC 5424 only), UTF-8 and JSON-hostile bytes
                n += 1
                body = 'case %d "quoted" \\ back\\slash tab\there h\u00e9llo \u2713 {"k": [1]}' % n
                kw = dict(tcp=tcp, rfc3164=rfc3164, octet_count=octet, message=body,
                          priority="local3.warning", procid="4242")
                if not rfc3164:
                    kw["msgid"] = "ID%d" % n
                cases.append((expect(body, fmt, "local3.warning", procid="4242",
                                     msgid=kw.get("msgid", "")), kw))
    # RFC 5424 without time and hostname: the host is the sender address
    n += 1
    body = "case %d rfc5424 notq,notime,nohost" % n
    e = expect(body, "rfc5424", "daemon.err", host="127.0.0.1")
    e["timed"] = False
    cases.append((e, dict(tcp=False, message=body, priority="daemon.err",
                          extra=["--rfc5424=notq,notime,nohost"])))
    now = int(time.time())
    for exp, kw in cases:
        L.logger(port, **kw)
    # several lines of one file over one TCP connection, LF and octet-counted framing
    file_bodies = []
    for octet in (False, True):
        path = env.path("lines%d.txt" % octet)
        bodies = ["file %s line %d" % ("octet" if octet else "lf", i) for i in range(1, 6)]
        with open(path, "w") as f:
            f.write("\n".join(bodies) + "\n")
        L.logger(port, tcp=True, octet_count=octet, file=path, priority="auth.info")
        for b in bodies:
            cases.append((expect(b, "rfc5424", "auth.info"), None))
            file_bodies.append(b)
    # an app name without a script: counted, not dispatched
    L.logger(port, tag="otherapp", message="no script for me")
    # routed by --syslog-map HOSTNAME=echo whatever the app name (raw message: logger cannot
    # set the hostname)
    n += 1
    body = "case %d mapped by hostname" % n
    L.send_udp(port, ("<34>1 2026-11-27T21:24:31.056130+00:00 fakehost.example zzz 77 MID - %s"
                      % body).encode())
    e = expect(body, "rfc5424", "auth.crit", app="zzz", procid="77", msgid="MID",
               host="fakehost.example")
    e["timed"] = False
    cases.append((e, None))

    total = len(cases)
    s = col.wait_syslog(lambda s: s["dispatched"] >= total and s["no_script"] >= 1, 60,
                        "%d messages dispatched" % total)
    L.check_eq(s["dispatched"], total, "dispatched")
    L.check_eq(s["received"], total + 1, "received")
    L.check_eq(s["malformed"], 0, "malformed")
    L.check_eq(s["queue_full"], 0, "queue_full")
    L.check_eq(s["sources"].get("echo"), {"messages": total, "no_script": 0}, "sources.echo")
    L.check_eq(s["sources"].get("otherapp"), {"messages": 0, "no_script": 1},
               "sources.otherapp")
    rows = col.wait_alerts(total, "alert_type = 'syslog_echo'", what="%d echo alerts" % total)
    by_body = {}
    for r in rows:
        L.check(r["entity_value"] not in by_body, "message %r stored twice" % r["entity_value"])
        by_body[r["entity_value"]] = r
    for exp, _ in cases:
        L.check(exp["body"] in by_body, "message %r not seen by the script; seen: %s" %
                (exp["body"], sorted(by_body)))
        check_row(by_body[exp["body"]], exp, now)
    # the file's lines arrive in order on one connection
    order = [json.loads(by_body[b]["json"])["n"] for b in file_bodies]
    L.check(order[:5] == sorted(order[:5]) and order[5:] == sorted(order[5:]),
            "file lines out of order: %s" % order)
    L.log("c1: %d messages checked field by field" % total)
    L.check_eq(col.stop(), 0, "c1 exit code")

    # --syslog-map 127.0.0.1=echo: every message of that sender goes to echo
    col2 = L.Collector(env, a.collector, "c2", scripts_dirs=[sdir], installdir=a.source,
                       syslog_map=["127.0.0.1=echo"]).start()
    L.logger(col2.port, tag="otherapp", message="mapped by address udp")
    L.logger(col2.port, tag="sshd", tcp=True, octet_count=True, rfc3164=True,
             message="mapped by address tcp", procid="9")
    s = col2.wait_syslog(lambda s: s["dispatched"] >= 2, 60, "2 mapped messages")
    L.check_eq(s["sources"], {"echo": {"messages": 2, "no_script": 0}}, "c2 sources")
    rows = col2.wait_alerts(2, "alert_type = 'syslog_echo'")
    got = {r["entity_value"]: json.loads(r["json"])["header"] for r in rows}
    L.check_eq(got["mapped by address udp"]["app_name"], "otherapp", "mapped udp app_name")
    L.check_eq(got["mapped by address tcp"]["app_name"], "sshd", "mapped tcp app_name")
    L.check_eq(got["mapped by address tcp"]["procid"], "9", "mapped tcp procid")
    L.check_eq(got["mapped by address tcp"]["format"], "rfc3164", "mapped tcp format")
    L.check_eq(col2.stop(), 0, "c2 exit code")


if __name__ == "__main__":
    L.main(run)
