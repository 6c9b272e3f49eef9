#!/usr/bin/env python3
"""syslog.sshd_host_log: the stock sshd.lua and host_log.lua.
sshd (app name "sshd", real `logger`): more than 5 authentication failures from one address
within a minute raise exactly one ssh_bruteforce alert for that address (the forms OpenSSH
logs: Failed password / invalid user / Invalid user / Connection closed by authenticating
user / PAM rhost=; IPv4 and IPv6); 5 failures, other addresses and successful logins raise
none. host_log (by --syslog-map HOSTNAME=host_log, RFC 5424 and RFC 3164, UDP and TCP): a
message at or above the severity threshold (default "le;3": error or worse) raises a host
alert with the mapped severity and score, a less severe one does not; a threshold set in
scripts_config.json ("host_log;le;6") moves the line."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402

A4, B4, A6 = "203.0.113.7", "198.51.100.9", "2001:db8::66"


def sshd_lines(addr, n):
    forms = ["Failed password for root from {a} port {p} ssh2",
             "Failed password for invalid user admin from {a} port {p} ssh2",
             "Invalid user test from {a} port {p}",
             "Connection closed by authenticating user root {a} port {p} [preauth]",
             "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
             "ruser= rhost={a}  user=root",
             "Failed publickey for git from {a} port {p} ssh2: RSA SHA256:abc"]
    return [forms[i % len(forms)].format(a=addr, p=40000 + i) for i in range(n)]


def rfc5424(pri, host, app, msg, procid="-"):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())
    return ("<%d>1 %s %s %s %s - - %s" % (pri, ts, host, app, procid, msg)).encode()


def rfc3164(pri, host, app, msg):
    ts = time.strftime("%b %d %H:%M:%S", time.gmtime())
    ts = ts[:4] + ("%2d" % int(ts[4:6])) + ts[6:]  # "Nov  7"
    return ("<%d>%s %s %s: %s" % (pri, ts, host, app, msg)).encode()


def run():
    a = L.args(__doc__)
    env = L.Env("sshd-hostlog")
    col = L.Collector(env, a.collector, "c", installdir=a.source,
                      syslog_map=["web01=host_log", "db02.example.org=host_log"]).start()
    port = col.port

    # ---- sshd
    lines = sshd_lines(A4, 8)  # alert at the 6th, not again at the 7th and 8th
    for i, msg in enumerate(lines):
        L.logger(port, tag="sshd", procid=str(1000 + i), tcp=i % 2 == 1, rfc3164=i % 3 == 0,
                 priority="auth.info", message=msg)
    L.logger(port, tag="sshd", procid="2000", priority="authpriv.info",
             message="Accepted publickey for alice from 192.0.2.1 port 5000 ssh2")
    for i, msg in enumerate(sshd_lines(B4, 5)):  # 5: not more than 5
        L.logger(port, tag="sshd", procid=str(3000 + i), message=msg)
    for i, msg in enumerate(sshd_lines(A6, 6)):
        L.logger(port, tag="sshd", procid=str(4000 + i), tcp=True, octet_count=True,
                 message=msg)
    sent = 8 + 1 + 5 + 6

    # ---- host_log: (raw message, alert expected, syslog severity)
    msgs = [
        (rfc5424(8 * 1 + 3, "web01", "nginx", "upstream timed out", "12"), 3),  # user.err
        (rfc5424(8 * 0 + 2, "web01", "kernel", "Out of memory: Killed process 4242"), 2),
        (rfc5424(8 * 3 + 0, "web01", "systemd", "system is going down NOW"), 0),
        (rfc5424(8 * 9 + 6, "web01", "cron", "(root) CMD (run-parts /etc/cron.hourly)"), 6),
        (rfc5424(8 * 1 + 4, "web01", "app", "disk 85% full"), 4),
        (rfc3164(8 * 16 + 3, "db02.example.org", "postgres[77]",
                 "FATAL: could not open file base/16384/2601"), 3),
        (rfc3164(8 * 16 + 5, "db02.example.org", "postgres[77]", "checkpoint starting"), 5),
        (rfc5424(8 * 1 + 3, "web99", "nginx", "unmapped host: no script"), 3),
    ]
    for i, (m, _) in enumerate(msgs):
        if i % 2:
            L.send_tcp(port, L.octet(m))
        else:
            L.send_udp(port, m)
    sent += len(msgs)
    s = col.wait_syslog(lambda s: s["received"] >= sent, 60, "%d messages" % sent)
    L.check_eq(s["received"], sent, "received")
    L.check_eq(s["sources"].get("sshd"), {"messages": 20, "no_script": 0}, "sources.sshd")
    L.check_eq(s["sources"].get("host_log"), {"messages": 7, "no_script": 0},
               "sources.host_log")
    L.check_eq(s["sources"].get("nginx"), {"messages": 0, "no_script": 1}, "sources.nginx")
    L.check_eq(s["errors"], 0, "script errors")
    col.wait_alerts(2, "alert_type = 'ssh_bruteforce'")
    col.wait_alerts(4, "alert_type = 'host_log'")
    L.check_eq(col.stop(), 0, "collector exit code")

    rows = col.alerts("alert_type = 'ssh_bruteforce'")
    L.check_eq(sorted(r["entity_value"] for r in rows), sorted([A4, A6]),
               "ssh_bruteforce alerts (one per attacker with more than 5 failures)")
    for r in rows:
        j = json.loads(r["json"])
        L.check_eq((r["entity"], r["script_key"], r["subdir"], r["score"], j["failures"],
                    j["attacker"], j["window_s"]),
                   ("host", "sshd", "syslog", 80, 6, r["entity_value"], 60),
                   "ssh_bruteforce of %s" % r["entity_value"])
        L.check_eq(r["message"], "6 failed SSH logins from %s to %s within 60 s" %
                   (r["entity_value"], j["target"]), "message")
    L.log("sshd: one ssh_bruteforce alert each for %s and %s, none for %s" % (A4, A6, B4))

    # host_log.lua: zflow severity 7 (emergency, alert) .. 1 (debug), score (7 - sev) * 15
    rows = col.alerts("alert_type = 'host_log'")
    got = sorted((r["entity_value"], json.loads(r["json"])["app"], r["severity"], r["score"])
                 for r in rows)
    want = sorted([("web01", "nginx", 7 - 3 + 1, 60), ("web01", "kernel", 7 - 2 + 1, 75),
                   ("web01", "systemd", 7, 105), ("db02.example.org", "postgres", 5, 60)])
    L.check_eq(got, want, "host_log alerts (host, app, severity, score)")
    for r in rows:
        L.check_eq((r["entity"], r["script_key"]), ("host", "host_log"), "host_log entity")
        j = json.loads(r["json"])
        L.check(r["message"].startswith("%s %s: " % (j["severity"], j["app"])),
                "host_log message %r" % r["message"])
    L.log("host_log: err/crit/emerg alert, warning/notice/info do not (default le;3)")

    # ---- host_log with a threshold from scripts_config.json
    col2 = L.Collector(env, a.collector, "c2", installdir=a.source,
                       syslog_map=["web01=host_log"])
    os.makedirs(col2.data_dir, exist_ok=True)
    with open(os.path.join(col2.data_dir, "scripts_config.json"), "w") as f:
        json.dump({"syslog": {"host_log": {"value": "host_log;le;6"}}}, f)
    col2.start()
    L.send_udp(col2.port, rfc5424(8 * 1 + 6, "web01", "cron", "info now alerts"))
    L.send_udp(col2.port, rfc5424(8 * 1 + 7, "web01", "cron", "debug still does not"))
    col2.wait_syslog(lambda s: s["dispatched"] >= 2, 60, "2 messages")
    col2.wait_alerts(1, "alert_type = 'host_log'")
    L.check_eq(col2.stop(), 0, "c2 exit code")
    rows = col2.alerts("subdir = 'syslog'")
    L.check_eq([(r["alert_type"], r["severity"], r["score"]) for r in rows],
               [("host_log", 2, 15)], "c2: the info message alerts (le;6), the debug one not")
    L.log("host_log: scripts_config.json le;6 makes info alert, not debug")


if __name__ == "__main__":
    L.main(run)
