"""What every Python test of zflow needs: failures, polling waits with deadlines, free ports,
and processes started by the test and killed by their pid when it ends (atexit, SIGINT,
SIGTERM), plus other clean-up at exit. Python 3 standard library only.

The test libraries (tests/e2e/e2elib.py, tests/syslog/sysloglib.py,
tests/collector/periodic/periodic_lib.py) re-export these names.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Every deadline of wait_for() is multiplied by this (sanitizer builds are several times
# slower); a test library may set it from its own environment variable.
TIME_SCALE = 1.0

_procs = []      # every Popen started by spawn()
_cleanups = []   # callables run at exit, last registered first (network namespaces, ...)


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _on_signal(sig, frame):
    _cleanup()
    sys.exit(128 + sig)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def at_exit(fn):
    """Runs fn() at exit, after the test's processes were killed."""
    _cleanups.append(fn)


class TestFailure(Exception):
    pass


def log(*a):
    print(*a, flush=True)


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, expected %r" % (what, got, want))


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns a true value; returns it, or raises after timeout s
    (times TIME_SCALE)."""
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port(udp_too=False):
    """A port free on 127.0.0.1 for TCP (and for UDP too when udp_too)."""
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        ok = True
        if udp_too:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            u.close()
        t.close()
        if ok:
            return port
    raise TestFailure("no free port")


def main(fn):
    """Runs a test function; prints FAIL with the reason and exits 1 on a TestFailure."""
    try:
        fn()
    except TestFailure as e:
        log("FAIL: %s" % e)
        sys.exit(1)
    log("PASS")


def spawn(argv, stdout=None, stderr=None, env=None, stdin=subprocess.DEVNULL):
    """Starts a process that is killed when the test ends."""
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, stdin=stdin)
    _procs.append(p)
    return p


class TempDir:
    """A temporary directory of one test, removed at exit unless `keep` (then its path is
    logged)."""

    def __init__(self, prefix, keep=False):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.keep = keep
        atexit.register(self._rm)

    def _rm(self):
        if self.keep:
            log("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def scripts_dir(self, name, scripts):
        """A --scripts-dir `name` holding scripts = {"<subdir>/<key>.lua": text, ...}."""
        d = self.path(name)
        for rel, text in scripts.items():
            p = os.path.join(d, "callbacks", rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        return d


def find_bin(bindir, name, subdirs):
    """The binary `name` in the first of bindir/subdirs that has it."""
    for sub in subdirs:
        p = os.path.join(bindir, sub, name)
        if os.path.exists(p):
            return p
    raise TestFailure("binary %s not found under %s" % (name, bindir))


class CollectorProcess:
    """What the tests' zflow-collector classes share: a subclass sets name, stderr_path and
    status_path and starts self.proc (via spawn()) with its stderr in self.err."""

    status_tries = 40  # reads of a status file caught mid-rename before giving up

    proc = None
    err = None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_status_file(self, timeout):
        """Ready: the status file exists (written by the ingest loop once the sockets are
        bound and the scripts loaded); fails at once when the process exits."""
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %s at start:\n%s" %
                                  (self.name, self.proc.returncode, self.stderr_text()))
            return os.path.exists(self.status_path)
        wait_for(ready, timeout, "%s to start" % self.name)

    def status(self):
        """The last status file (rewritten every second, atomically by rename)."""
        for _ in range(self.status_tries):
            try:
                with open(self.status_path) as f:
                    return json.load(f)
            except (OSError, ValueError):
                time.sleep(0.05)
        raise TestFailure("cannot read %s" % self.status_path)

    def fresh_status(self, timeout=10):
        """A status file written after this call."""
        t0 = os.stat(self.status_path).st_mtime_ns if os.path.exists(self.status_path) else 0
        wait_for(lambda: os.path.exists(self.status_path) and
                 os.stat(self.status_path).st_mtime_ns > t0, timeout, "a fresh status file")
        return self.status()

    def stop(self, timeout=60):
        """SIGTERM and wait (times TIME_SCALE); returns the exit code (the status file is
        rewritten at exit)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise TestFailure("%s did not stop within %d s of SIGTERM" % (self.name, timeout))
        self.err.close()
        return rc
