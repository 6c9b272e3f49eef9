"""Helpers of the collector end-to-end tests: processes, free ports, readiness, the flow
scripts of the tests, probe dumps, hook traces, the status file and alerts.db.

Every process is started here, on 127.0.0.1, and killed by its pid when the test ends (atexit
and SIGINT/SIGTERM). Nothing waits blindly: each wait polls a condition with a deadline.
"""
import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys

SHARED = os.environ.get("ZFLOW_SHARED_DIR",
                        os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
PCAPS = os.path.join(SHARED, "pcaps")
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from zflowtest import (TestFailure, at_exit, check, check_eq, log, main,  # noqa: E402,F401
                       spawn, wait_for)
import zflowtest  # noqa: E402


def free_port():
    return zflowtest.free_port()


class Env(zflowtest.TempDir):
    """A temporary directory and the binaries of one build."""

    def __init__(self, name, bindir, keep=False):
        super().__init__("zflow-e2e-%s-" % name, keep or os.environ.get("E2E_KEEP") == "1")
        self.bindir = os.path.abspath(bindir)

    def bin(self, name):
        return zflowtest.find_bin(self.bindir, name,
                                  ("collector", "probe", "tests/tools", "tests/e2e"))


# ---------------------------------------------------------------- scripts

# One-shot alert for every flow to port 80 (through flow.triggerStatus: entity_value is the
# community id, probe_id/interface set by the engine).
SCRIPT_PORT80 = """
local m = { hooks = {}, gui = { i18n_title = "e2e port 80" } }
function m.hooks.flowEnd(now, config)
  if flow.getServerPort() == 80 then
    flow.triggerStatus("e2e_test", { message = "flow to port 80", flow_id = flow.getFlowId() },
                       10, 10, 10)
  end
end
return m
"""

# One-shot alert for every flowEnd with entity_value "<probe_id>/<flow_id>" and the end
# reason in the JSON; SPIN iterations of busy work make the collector slow on purpose.
SCRIPT_EVERY_END = """
local alerts = require "zflow_alerts"
local SPIN = %d
local m = { hooks = {}, gui = { i18n_title = "e2e every flow end" } }
function m.hooks.flowEnd(now, config)
  local x = 0
  for i = 1, SPIN do x = x + i %% 7 end
  alerts.store({ entity = "flow",
                 entity_value = flow.getProbeId() .. "/" .. flow.getFlowId(),
                 alert_type = "e2e_flow_end", score = 1,
                 message = "flow end",
                 json = { end_reason = flow.getEndReason(), spin = x } })
end
return m
"""

# Touches every hook, so the engine has protocolDetected / periodicUpdate work to do.
SCRIPT_ALL_HOOKS = """
local m = { hooks = {}, gui = { i18n_title = "e2e all hooks" } }
local seen = 0
function m.hooks.protocolDetected(now, config) seen = seen + #flow.getL7ProtoName() end
function m.hooks.periodicUpdate(now, config) seen = seen + flow.getTotalBytes() % 3 end
function m.hooks.flowEnd(now, config) seen = seen + 1 end
return m
"""


def make_scripts(env, spin=0):
    """A --scripts-dir with the test scripts and an --installdir without stock scripts (only
    the Lua modules), so that scripts being written elsewhere cannot change the results.
    E2E_STOCK_SCRIPTS=1 uses the source tree as installdir (stock scripts run too)."""
    sdir = env.scripts_dir("scripts", {"flow/e2e_port80.lua": SCRIPT_PORT80,
                                       "flow/e2e_every_end.lua": SCRIPT_EVERY_END % spin,
                                       "flow/e2e_all_hooks.lua": SCRIPT_ALL_HOOKS})
    if os.environ.get("E2E_STOCK_SCRIPTS") == "1":
        return sdir, SRCDIR
    inst = env.path("install")
    os.makedirs(os.path.join(inst, "scripts", "callbacks", "flow"), exist_ok=True)
    link = os.path.join(inst, "scripts", "lua")
    if not os.path.exists(link):
        os.symlink(os.path.join(SRCDIR, "scripts", "lua"), link)
    return sdir, inst


def check_scripts_run(env, sdir, inst, data, keys=("e2e_port80", "e2e_every_end",
                                                   "e2e_all_hooks")):
    """Asserts, with --list-scripts, that the test scripts load and run."""
    out = subprocess.run([env.bin("zflow-collector"), "--list-scripts", "--json", "--installdir",
                          inst, "--scripts-dir", sdir, "--data-dir", data],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "--list-scripts failed: %s" % out.stderr)
    listed = {s["key"]: s for s in json.loads(out.stdout)}
    for k in keys:
        check(k in listed and listed[k]["runs"], "script %s does not run: %s\n%s" %
              (k, listed.get(k), out.stderr))
    return listed


# ---------------------------------------------------------------- collector

class Collector(zflowtest.CollectorProcess):
    status_tries = 20

    def __init__(self, env, name, port, scripts_dir, installdir, data_dir, workers=2,
                 probe_timeout=300, extra=()):
        self.env = env
        self.name = name
        self.port = port
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.trace = env.path("%s.trace" % name)
        self.status_path = env.path("%s.status.json" % name)
        self.stderr_path = env.path("%s.stderr" % name)
        self.argv = [env.bin("zflow-collector"), "--listen", self.endpoint,
                     "--installdir", installdir, "--data-dir", data_dir,
                     "--workers", str(workers), "--trace-hooks", self.trace,
                     "--status-file", self.status_path, "--summary-interval", "5",
                     "--probe-timeout", str(probe_timeout)]
        if scripts_dir:
            self.argv += ["--scripts-dir", scripts_dir]
        self.argv += list(extra)
        self.proc = None

    def start(self, timeout=30):
        for path in (self.status_path,):
            if os.path.exists(path):
                os.unlink(path)
        self.err = open(self.stderr_path, "ab")
        self.proc = spawn(self.argv, stdout=self.err, stderr=self.err)
        self.wait_status_file(timeout)
        return self

    def stop(self, timeout=30):
        return super().stop(timeout)

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.err.close()

    def summary(self):
        for line in self.stderr_text().splitlines():
            if line.startswith("zflow-collector: summary "):
                return json.loads(line[len("zflow-collector: summary "):])
        return None


# ---------------------------------------------------------------- probe

class Probe:
    def __init__(self, env, probe_id, pcap, endpoint, extra=()):
        self.env = env
        self.probe_id = probe_id
        self.pcap = pcap
        self.dump_path = env.path("%s.dump.jsonl" % probe_id)
        self.stderr_path = env.path("%s.probe.stderr" % probe_id)
        self.argv = [env.bin("zflow-probe"), "-r", pcap, "--collector", endpoint,
                     "--probe-id", probe_id, "--dump"] + list(extra)
        self.proc = None

    def start(self):
        self.out = open(self.dump_path, "wb")
        self.err = open(self.stderr_path, "wb")
        self.proc = spawn(self.argv, stdout=self.out, stderr=self.err)
        return self

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("probe %s still running after %d s:\n%s" %
                              (self.probe_id, timeout, self.stderr_text()))
        self.out.close()
        self.err.close()
        return rc

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def summary(self):
        for line in self.stderr_text().splitlines():
            if line.startswith("zflow-probe: summary "):
                return json.loads(line[len("zflow-probe: summary "):])
        raise TestFailure("probe %s printed no summary:\n%s" % (self.probe_id,
                                                                self.stderr_text()))

    def dump(self):
        return Dump(self.dump_path)


class Dump:
    """What one probe exported: its --dump JSON lines."""

    def __init__(self, path):
        self.events = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    raise TestFailure("%s:%d: not JSON: %r" % (path, n, line[:200]))
        self.by_flow = collections.OrderedDict()
        for e in self.events:
            self.by_flow.setdefault(e["flow_id"], []).append(e)

    def ended(self):
        return {fid for fid, evs in self.by_flow.items() if any(e["event"] == "end" for e in evs)}

    def ended_to_port(self, port):
        return {fid for fid, evs in self.by_flow.items()
                if any(e["event"] == "end" and e["server_port"] == port for e in evs)}

    def expected_hooks(self, fid):
        """The hooks the collector must run for one flow, in order (worker.c/script_engine.c:
        protocolDetected once, when an l7 event comes or L7 is known at the first hook;
        periodicUpdate per update event; flowEnd at the end)."""
        out = []
        detected = False
        for e in self.by_flow[fid]:
            ev = e["event"]
            if ev == "new":
                continue
            if not detected and (ev == "l7" or e["l7_proto_name"]):
                out.append("protocolDetected")
                detected = True
            if ev == "update":
                out.append("periodicUpdate")
            elif ev == "end":
                out.append("flowEnd")
        return out


def read_trace(path):
    """{(iface_id, flow_id): [hook, ...]} in file order."""
    out = collections.OrderedDict()
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 3:
                raise TestFailure("%s:%d: bad trace line %r" % (path, n, line))
            out.setdefault((int(parts[0]), int(parts[1])), []).append(parts[2])
    return out


def count_lines(path, word):
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.rstrip().endswith(word.encode()))
    except OSError:
        return 0


def iface_map(status):
    """{probe_id: [iface dict, ...]} from a status file."""
    return {p["probe_id"]: p["interfaces"] for p in status["registry"]["probes"]}


def alerts(db, where="1", args=()):
    uri = "file:%s?mode=ro" % db
    con = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM alerts WHERE " + where, args)]
    finally:
        con.close()


def fmt_seq(items):
    """['a', 'b', 'b', 'b'] -> 'a b*3' (short failure messages)."""
    out = []
    for x in items:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return " ".join(x if n == 1 else "%s*%d" % (x, n) for x, n in out)


def check_hook_order(hooks, what):
    """protocolDetected at most once and before any periodicUpdate; one flowEnd, last."""
    check(hooks.count("protocolDetected") <= 1, "%s: protocolDetected %d times: %s" %
          (what, hooks.count("protocolDetected"), fmt_seq(hooks)))
    if "protocolDetected" in hooks and "periodicUpdate" in hooks:
        check(hooks.index("protocolDetected") < hooks.index("periodicUpdate"),
              "%s: periodicUpdate before protocolDetected: %s" % (what, fmt_seq(hooks)))
    check(hooks.count("flowEnd") == 1, "%s: flowEnd %d times: %s" %
          (what, hooks.count("flowEnd"), fmt_seq(hooks)))
    check(hooks[-1] == "flowEnd", "%s: flowEnd is not last: %s" % (what, fmt_seq(hooks)))
