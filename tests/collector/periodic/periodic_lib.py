"""Helpers of the periodic-script tests: a collector whose rounds run on request through its
--control socket, probes replaying captures, scripts_config.json, alerts.db, recorder scripts.

Every process is started here and killed by its pid when the test ends (atexit, SIGINT,
SIGTERM). Nothing waits blindly: each wait polls a condition with a deadline.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

SHARED = os.environ.get("ZFLOW_SHARED_DIR",
                        os.path.join(os.path.dirname(__file__), "..", "..", "..", "..",
                                     "shared"))
PCAPS = os.path.join(SHARED, "pcaps")
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SKIP = 77

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from zflowtest import (TestFailure, at_exit, check, check_eq, log, main,  # noqa: E402,F401
                       spawn, wait_for)
import zflowtest  # noqa: E402


def free_port():
    return zflowtest.free_port()


def require_root():
    if os.geteuid() != 0:
        log("SKIP: needs root")
        sys.exit(SKIP)


def outside_minute_edge(margin=12):
    """Waits until the wall clock is at least `margin` s away from a minute boundary: some
    counters (SYN victims) are kept per minute, a replay across a boundary would split them."""
    wait_for(lambda: margin <= time.time() % 60 <= 60 - margin, 60, "a minute's middle",
             interval=0.2)


class Env(zflowtest.TempDir):
    """A temporary directory and the binaries of one build."""

    def __init__(self, name, bindir):
        super().__init__("zflow-periodic-%s-" % name, os.environ.get("PERIODIC_KEEP") == "1")
        self.bindir = os.path.abspath(bindir)

    def bin(self, name):
        return zflowtest.find_bin(self.bindir, name, ("collector", "probe"))


def write_config(data_dir, cfg):
    """Writes <data_dir>/scripts_config.json atomically."""
    os.makedirs(data_dir, exist_ok=True)
    tmp = os.path.join(data_dir, "scripts_config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    os.rename(tmp, os.path.join(data_dir, "scripts_config.json"))


def write_scripts(env, scripts):
    """A --scripts-dir with {"<subdir>/<key>.lua": text}."""
    return env.scripts_dir("scripts", scripts)


# A user script of any periodic subdir that stores one one-shot alert per call with what the
# hook received (alert_type "periodic_record", json = the facts below), and one per round from
# teardown() with the number of calls of that round (alert_type "periodic_teardown").
RECORDER = r"""
local alerts_api = require "alerts_api"
local SUBDIR = "%s"
local script = { hooks = {}, gui = { i18n_title = "test recorder" } }
local calls = 0
local last_gran = ""
local function pick(t, keys)
   if type(t) ~= "table" then return nil end
   local o = {}
   for _, k in ipairs(keys) do o[k] = t[k] end
   return o
end
function script.hooks.all(params)
   calls = calls + 1
   last_gran = params.granularity
   local info = params.entity_info
   local rec = {
      granularity = params.granularity, when = params.when, subdir = SUBDIR,
      entity = info.entity, entity_value = info.entity_value,
      alert_entity = params.alert_entity.entity_value,
      has_config = type(params.user_script_config) == "table",
      user_script = params.user_script,
      cur_alerts = #params.cur_alerts,
      first_round = info.first_round, interval = info.interval,
      stats = info.stats, delta = info.delta,
   }
   local ca = {}
   for i, a in ipairs(params.cur_alerts) do ca[i] = a.alert_type end
   rec.cur_alert_types = ca
   if SUBDIR == "interface" then
      rec.name = info.name; rec.probe_id = info.probe_id
      rec.is_packet_interface = info.is_packet_interface
      rec.throughput_bps = info.throughput_bps
      rec.top_l7 = info.top_l7
      rec.probe = info.probe
      rec.getName = interface.getName()
   elseif SUBDIR == "network" then
      rec.network = info.network; rec.hosts = info.hosts; rec.syn_victim = info.syn_victim
      rec.ingress_bps = info.ingress_bps
   elseif SUBDIR == "system" then
      rec.cpu = info.cpu; rec.memory = info.memory; rec.disk = info.disk
      rec.collector = info.collector
   elseif SUBDIR == "snmp" then
      rec.device = info.device; rec.reachable = info.reachable; rec.error = info.error
      rec.fresh = info.fresh; rec.ifindex = info.ifindex; rec.name = info.name
      rec.oper_status = info.oper_status; rec.prev_oper_status = info.prev_oper_status
      rec.speed = info.speed; rec.has_delta = info.delta ~= nil
      rec.utilisation_pct = info.utilisation_pct; rec.error_pct = info.error_pct
      rec.in_bps = info.in_bps
   end
   alerts_api.store({ entity = "test", entity_value = SUBDIR .. ":" .. tostring(info.entity_value) },
                    { alert_type = "periodic_record", score = 1, message = "record",
                      json = rec })
end
function script.teardown()
   alerts_api.store({ entity = "test", entity_value = SUBDIR .. ":teardown" },
                    { alert_type = "periodic_teardown", score = 1, message = "teardown",
                      json = { calls = calls, granularity = last_gran, subdir = SUBDIR } })
   calls = 0
   return true
end
return script
"""


def recorder(subdir):
    return {"%s/zz_recorder.lua" % subdir: RECORDER % subdir}


def db_rows(db, where="1", args=()):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM alerts WHERE " + where +
                                             " ORDER BY id", args)]
    finally:
        con.close()


def records(db, subdir=None, granularity=None, after_id=0):
    """The recorder's rows (json decoded) newer than after_id."""
    out = []
    for r in db_rows(db, "alert_type = 'periodic_record' AND id > ?", (after_id,)):
        j = json.loads(r["json"])
        if subdir and j.get("subdir") != subdir:
            continue
        if granularity and j.get("granularity") != granularity:
            continue
        j["_id"] = r["id"]
        out.append(j)
    return out


def max_id(db):
    rows = db_rows(db, "1")
    return rows[-1]["id"] if rows else 0


def engaged(db, alert_type=None, entity_value=None):
    rows = db_rows(db, "kind = 'engaged'")
    return [r for r in rows if (alert_type is None or r["alert_type"] == alert_type) and
            (entity_value is None or r["entity_value"] == entity_value)]


class Collector(zflowtest.CollectorProcess):
    """A zflow-collector with --control (rounds on request, no timer unless timer=True)."""

    def __init__(self, env, name, data_dir, installdir=SRCDIR, scripts_dir=None,
                 local_networks=None, extra=(), timer=False, wrap=(), listen=True):
        self.env = env
        self.name = name
        self.data_dir = data_dir
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.control = "ipc://%s" % env.path("%s.ctl" % name)
        self.status_path = env.path("%s.status.json" % name)
        self.stderr_path = env.path("%s.stderr" % name)
        self.wrap = list(wrap)
        self.argv = [env.bin("zflow-collector"), "--installdir", installdir,
                     "--data-dir", data_dir, "--workers", "2", "--control", self.control,
                     "--status-file", self.status_path, "--summary-interval", "0"]
        if listen:
            self.argv += ["--listen", self.endpoint]
        if not timer:
            self.argv.append("--no-round-timer")
        if scripts_dir:
            self.argv += ["--scripts-dir", scripts_dir]
        if local_networks:
            self.argv += ["--local-networks", local_networks]
        self.argv += list(extra)
        self.proc = None
        self.err = None

    def start(self, timeout=60):
        if os.path.exists(self.status_path):
            os.unlink(self.status_path)
        self.err = open(self.stderr_path, "ab")
        self.proc = spawn(self.wrap + self.argv, stdout=self.err, stderr=self.err)
        # ready: the status file exists (ingest runs, so the scheduler was built before it)
        # and the control socket answers
        self.wait_status_file(timeout)
        self.scheduler_status()
        return self

    def request(self, *args, timeout=300):
        """Runs zflow-collector as a control client; returns (rc, stdout, stderr)."""
        out = subprocess.run([self.env.bin("zflow-collector"), "--control",
                              self.control] + list(args),
                             capture_output=True, text=True, timeout=timeout)
        return out.returncode, out.stdout, out.stderr

    def run_round(self, granularity="min"):
        rc, out, err = self.request("--run-round", granularity)
        check(rc == 0, "--run-round %s: exit %d: %s %s\n%s" % (granularity, rc, out, err,
                                                               self.stderr_text()))
        r = json.loads(out)
        check(r["granularity"] == granularity, "round reply for %s: %s" % (granularity, r))
        log("round %-5s: %s" % (granularity, out.strip()))
        return r

    def scheduler_status(self):
        rc, out, err = self.request("--scheduler-status")
        check(rc == 0, "--scheduler-status: exit %d: %s %s" % (rc, out, err))
        return json.loads(out)

    def probe(self, probe_id):
        for p in self.status()["registry"]["probes"]:
            if p["probe_id"] == probe_id:
                return p
        return None

    def reload(self, timeout=30):
        """SIGHUP, and waits for the scheduler's reload line."""
        marker = "scheduler: scripts and configuration reloaded"
        n = self.stderr_text().count(marker)
        os.kill(self.proc.pid, signal.SIGHUP)
        wait_for(lambda: self.stderr_text().count(marker) > n, timeout, "the scheduler reload")


class Probe:
    def __init__(self, env, probe_id, endpoint, pcap=None, iface=None, extra=(), wrap=(),
                 dump=False):
        self.env = env
        self.probe_id = probe_id
        self.stderr_path = env.path("%s.probe.stderr" % probe_id)
        self.dump_path = env.path("%s.dump.jsonl" % probe_id) if dump else None
        src = ["-r", pcap] if pcap else ["-i", iface]
        self.argv = list(wrap) + [env.bin("zflow-probe")] + src + [
            "--collector", endpoint, "--probe-id", probe_id, "--stats-interval", "1",
            "--drain-timeout-ms", "60000"] + (["--dump"] if dump else []) + list(extra)
        self.proc = None

    def start(self):
        self.err = open(self.stderr_path, "ab")
        out = open(self.dump_path, "wb") if self.dump_path else subprocess.DEVNULL
        self.proc = spawn(self.argv, stdout=out, stderr=self.err)
        if self.dump_path:
            out.close()
        return self

    def dump_lines(self):
        try:
            with open(self.dump_path, "rb") as f:
                return sum(1 for line in f if line.endswith(b"\n"))
        except OSError:
            return 0

    def wait(self, timeout=120):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("probe %s still running after %d s" % (self.probe_id, timeout))
        self.err.close()
        check(rc == 0, "probe %s exit code %d:\n%s" % (self.probe_id, rc, self.stderr_text()))
        return rc

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.err.close()

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def summary(self):
        for line in self.stderr_text().splitlines():
            if line.startswith("zflow-probe: summary "):
                return json.loads(line[len("zflow-probe: summary "):])
        raise TestFailure("probe %s printed no summary" % self.probe_id)


def dump_reference(env, pcap):
    """Flow events of a capture: zflow-probe -r PCAP --dump without a collector."""
    out = subprocess.run([env.bin("zflow-probe"), "-r", pcap, "--dump"], capture_output=True,
                         timeout=120)
    check(out.returncode == 0, "probe --dump %s: %s" % (pcap, out.stderr))
    return out.stdout.count(b"\n")
