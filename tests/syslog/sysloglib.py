"""Helpers of the syslog end-to-end tests (tests/syslog/*.py): a zflow-collector with syslog
endpoints on free 127.0.0.1 ports, the real util-linux `logger`, raw UDP/TCP senders, the
status file, alerts.db and user scripts in a temporary --scripts-dir.

Every process is started here and killed by its pid when the test ends (atexit, SIGINT,
SIGTERM). Nothing sleeps blindly: every wait polls a condition with a deadline.
Python 3 standard library only. SYSLOG_KEEP=1 keeps the temporary directory.
"""
import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys

SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.environ.get("ZFLOW_SHARED_DIR",
                                        os.path.join(SRCDIR, "..", "shared")))
EVE = os.path.join(SHARED, "eve")
PCAPS = os.path.join(SHARED, "pcaps")

# Sanitizer builds are several times slower: every deadline is multiplied by this.
SLOW = float(os.environ.get("SYSLOG_TEST_SLOW", "1"))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from zflowtest import (TestFailure, at_exit, check, check_eq, log, main,  # noqa: E402,F401
                       spawn, wait_for)
import zflowtest  # noqa: E402
zflowtest.TIME_SCALE = SLOW


def free_port(udp_too=True):
    """A port free on 127.0.0.1 for TCP (and UDP when udp_too)."""
    return zflowtest.free_port(udp_too)


def args(description):
    """Command line of every test: the binaries of one build."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--collector", required=True, help="zflow-collector binary")
    ap.add_argument("--probe", help="zflow-probe binary")
    ap.add_argument("--source", default=SRCDIR, help="source tree (the --installdir)")
    return ap.parse_args()


class Env(zflowtest.TempDir):
    """A temporary directory, removed at exit unless SYSLOG_KEEP=1."""

    def __init__(self, name):
        super().__init__("zflow-syslog-%s-" % name, os.environ.get("SYSLOG_KEEP") == "1")


# ---------------------------------------------------------------- test scripts

# Stores every message as a one-shot alert: entity "syslog", entity_value = the message body,
# json = { host, priority, header } (header: facility, severity, hostname, app_name, procid,
# msgid, timestamp, time, from, format).
ECHO_LUA = r"""
local alerts_api = require "alerts_api"
local echo = { hooks = {}, gui = { i18n_title = "syslog test echo" } }
local n = 0
function echo.hooks.handleEvent(message, host, priority, header, config)
   n = n + 1
   alerts_api.store({ entity = "syslog", entity_value = message },
      { alert_type = "syslog_echo", score = 1, message = message,
        json = { host = host, priority = priority, header = header, n = n } })
end
return echo
"""

# One one-shot alert per flowEnd of the syslog interfaces: entity_value "<iface>/<flow_id>/<k>"
# (k counts the ends of that flow id, so a flow id that ends twice gives two rows).
FLOW_END_LUA = r"""
local alerts_api = require "alerts_api"
local m = { hooks = {}, gui = { i18n_title = "syslog test flow end" } }
local ends = {}
function m.hooks.flowEnd(now, config)
   local iface = flow.getInterfaceName()
   local fid = flow.getFlowId()
   local key = iface .. "/" .. fid
   ends[key] = (ends[key] or 0) + 1
   alerts_api.store({ entity = "flow", entity_value = key .. "/" .. ends[key] },
      { alert_type = "syslog_test_flow_end", score = 1, message = "flow end",
        json = { probe = flow.getProbeId(), iface = iface, flow_id = fid,
                 cli = flow.getClientIp(), srv = flow.getServerIp(),
                 cport = flow.getClientPort(), sport = flow.getServerPort(),
                 l7 = flow.getL7ProtoName and flow.getL7ProtoName() or "",
                 cid = flow.getCommunityId and flow.getCommunityId() or "",
                 server_name = flow.getServerName and flow.getServerName() or "",
                 bytes = flow.getTotalBytes(), packets = flow.getTotalPackets(),
                 end_reason = flow.getEndReason() } })
end
return m
"""


# ---------------------------------------------------------------- collector

class Collector(zflowtest.CollectorProcess):
    """zflow-collector with syslog UDP and TCP endpoints on one free port."""

    def __init__(self, env, binary, name="collector", scripts_dirs=(), syslog_map=(),
                 installdir=SRCDIR, udp=True, tcp=True, workers=2, extra=()):
        self.env = env
        self.binary = binary
        self.name = name
        self.scripts_dirs = list(scripts_dirs)
        self.syslog_map = list(syslog_map)
        self.installdir = installdir
        self.udp, self.tcp = udp, tcp
        self.workers = workers
        self.extra = list(extra)
        self.data_dir = env.path("%s.data" % name)
        self.status_path = env.path("%s.status.json" % name)
        self.stderr_path = env.path("%s.stderr" % name)
        self.proc = None
        self.port = self.listen_port = None

    def argv(self):
        a = [self.binary, "--listen", "tcp://127.0.0.1:%d" % self.listen_port,
             "--installdir", self.installdir, "--data-dir", self.data_dir,
             "--status-file", self.status_path, "--summary-interval", "0",
             "--workers", str(self.workers)]
        if self.udp:
            a += ["--syslog", "udp://127.0.0.1:%d" % self.port]
        if self.tcp:
            a += ["--syslog", "tcp://127.0.0.1:%d" % self.port]
        for m in self.syslog_map:
            a += ["--syslog-map", m]
        for d in self.scripts_dirs:
            a += ["--scripts-dir", d]
        return a + self.extra

    def start(self, timeout=60):
        for attempt in range(5):  # a port taken between free_port() and bind(): try others
            self.port = free_port()
            self.listen_port = free_port(udp_too=False)
            if os.path.exists(self.status_path):
                os.unlink(self.status_path)
            self.err = open(self.stderr_path, "ab")
            self.proc = spawn(self.argv(), stdout=self.err, stderr=self.err)

            # ready = the status file exists: the ingest loop writes it once the syslog
            # listener is bound and the scripts are loaded
            def ready():
                if self.proc.poll() is not None:
                    return "exited"
                return os.path.exists(self.status_path)
            r = wait_for(ready, timeout, "%s to start" % self.name)
            if r is True:
                log("%s: pid %d, syslog udp/tcp 127.0.0.1:%d" % (self.name, self.proc.pid,
                                                                 self.port))
                return self
            self.err.close()
            text = self.stderr_text()
            if "in use" not in text:
                raise TestFailure("%s exited with %s at start:\n%s" %
                                  (self.name, self.proc.returncode, text))
        raise TestFailure("%s: no free port after 5 attempts" % self.name)

    def syslog(self):
        return self.status()["syslog"]

    def wait_syslog(self, pred, timeout, what):
        """Polls the status until pred(status["syslog"]) is true; returns that section."""
        last = {}

        def cond():
            if not self.alive():
                raise TestFailure("%s died (rc %s) while waiting for %s:\n%s" %
                                  (self.name, self.proc.returncode, what,
                                   self.stderr_text()[-4000:]))
            last["s"] = self.syslog()
            return pred(last["s"])
        try:
            wait_for(cond, timeout, what, interval=0.1)
        except TestFailure as e:
            raise TestFailure("%s; last syslog status: %s" % (e, json.dumps(last.get("s"))))
        return last["s"]

    def interface(self, probe_id, name=None):
        """The registry interface of a probe (the first, or the one named), or None."""
        for p in self.status().get("registry", {}).get("probes", []):
            if p["probe_id"] == probe_id:
                for i in p["interfaces"]:
                    if name is None or i["name"] == name:
                        return i
        return None

    def probe(self, probe_id):
        for p in self.status().get("registry", {}).get("probes", []):
            if p["probe_id"] == probe_id:
                return p
        return None

    def stop(self, timeout=60):
        """SIGTERM and wait; the status file is rewritten and alerts flushed at exit."""
        rc = super().stop(timeout)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Sanitizer builds: any report in the log fails the test (UBSan goes on running)."""
        bad = [l for l in self.stderr_text().splitlines()
               if "runtime error:" in l or "Sanitizer" in l]
        check(not bad, "%s: sanitizer reports:\n%s" % (self.name, "\n".join(bad[:20])))

    def db(self):
        return os.path.join(self.data_dir, "alerts.db")

    def alerts(self, where="1", params=()):
        db = self.db()
        if not os.path.exists(db):
            return []
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM alerts WHERE " + where, params)]
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()

    def wait_alerts(self, n, where, params=(), timeout=60, what=None):
        """Polls alerts.db until at least n rows match; returns them."""
        rows = wait_for(lambda: (lambda r: r if len(r) >= n else None)(
            self.alerts(where, params)), timeout, what or "%d alerts where %s" % (n, where),
            interval=0.1)
        return rows

    def list_scripts(self):
        out = subprocess.run([self.binary, "--list-scripts", "--json", "--installdir",
                              self.installdir, "--data-dir", self.data_dir] +
                             sum([["--scripts-dir", d] for d in self.scripts_dirs], []),
                             capture_output=True, text=True, timeout=120 * SLOW)
        check(out.returncode == 0, "--list-scripts failed: %s" % out.stderr)
        return json.loads(out.stdout)


# ---------------------------------------------------------------- senders

def logger(port, message=None, tcp=False, rfc3164=False, octet_count=False, tag="echo",
           priority=None, procid=None, msgid=None, file=None, size=None, extra=()):
    """Runs util-linux logger against 127.0.0.1:port (one message, or every line of file)."""
    a = ["logger", "--server", "127.0.0.1", "--port", str(port), "--tcp" if tcp else "--udp",
         "-t", tag]
    a.append("--rfc3164" if rfc3164 else "--rfc5424")
    if octet_count:
        a.append("--octet-count")
    if priority:
        a += ["-p", priority]
    if procid is not None:
        a.append("--id=%s" % procid)
    if msgid is not None:
        a += ["--msgid", msgid]
    if size:
        a += ["--size", str(size)]
    a += list(extra)
    if file:
        a += ["-f", file]
    elif message is not None:
        a += ["--", message]
    r = subprocess.run(a, capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "logger %s failed (%d): %s" % (" ".join(a), r.returncode, r.stderr))


def send_udp(port, data):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(data, ("127.0.0.1", port))
    finally:
        s.close()


def send_tcp(port, data, shutdown=True):
    """Connects, sends data, closes (after SHUT_WR and waiting for the peer when shutdown)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
    finally:
        s.close()


def octet(msg):
    """An RFC 6587 octet-counted frame."""
    if isinstance(msg, str):
        msg = msg.encode()
    return b"%d %s" % (len(msg), msg)


# ---------------------------------------------------------------- Eve files

def eve_lines(path):
    with open(path, "rb") as f:
        return [l.rstrip(b"\r\n") for l in f if l.strip()]
