"""What every Python test of zflow needs: failures, polling waits with deadlines, free ports,
and processes started by the test and killed by their pid when it ends (atexit, SIGINT,
SIGTERM), plus other clean-up at exit. Python 3 standard library only.

The test libraries (tests/e2e/e2elib.py, tests/syslog/sysloglib.py,
tests/collector/periodic/periodic_lib.py) re-export these names.
"""
import atexit
import os
import signal
import socket
import subprocess
import sys
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


def spawn(argv, stdout=None, stderr=None, env=None, stdin=subprocess.DEVNULL):
    """Starts a process that is killed when the test ends."""
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, stdin=stdin)
    _procs.append(p)
    return p
