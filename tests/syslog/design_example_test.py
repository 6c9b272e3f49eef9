#!/usr/bin/env python3
"""syslog.design_example: the documented syslog script of DESIGN.md (ntop.getDirs(),
package.path, require "lua_utils", dkjson, tprint), taken verbatim from ../shared/DESIGN.md,
runs unmodified as callbacks/syslog/suricata.lua of a --scripts-dir (it replaces the stock
suricata.lua): --list-scripts shows it loaded and runnable, a few Eve lines (logger UDP and
TCP, and a bare Eve JSON line without a syslog header) reach it without a script error, and its
tprint() output is in the collector's log."""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402


def design_example():
    path = os.path.join(L.SHARED, "DESIGN.md")
    with open(path) as f:
        text = f.read()
    i = text.find("This documented example must run unmodified")
    L.check(i >= 0, "%s: the documented syslog example is gone" % path)
    m = re.compile(r"```lua\n(.*?)```", re.S).search(text, i)
    L.check(m, "%s: no ```lua block after the example's sentence" % path)
    code = m.group(1)
    for needle in ("ntop.getDirs()", "package.path", 'require "lua_utils"', "dkjson", "tprint",
                   "handleEvent"):
        L.check(needle in code, "the example does not use %s:\n%s" % (needle, code))
    return code


def run():
    a = L.args(__doc__)
    env = L.Env("design")
    code = design_example()
    sdir = env.scripts_dir("scripts", {"syslog/suricata.lua": code})
    col = L.Collector(env, a.collector, "c", scripts_dirs=[sdir], installdir=a.source)
    listed = [s for s in col.list_scripts() if s["subdir"] == "syslog" and s["key"] == "suricata"]
    L.check_eq(len(listed), 1, "syslog/suricata in --list-scripts")
    s = listed[0]
    L.check_eq(os.path.realpath(s["path"]),
               os.path.realpath(os.path.join(sdir, "callbacks", "syslog", "suricata.lua")),
               "the listed suricata.lua (the --scripts-dir one replaces the stock one)")
    L.check(s["loaded"] and s["runs"] and s["errors"] == 0,
            "the example does not load/run: %s" % s)
    col.start()

    src = os.path.join(L.EVE, "sources")
    picks = [L.eve_lines(os.path.join(src, "telegraf__v2-alert.compacted.json"))[0],
             L.eve_lines(os.path.join(src, "telegraf__v2-dns.compacted.json"))[0],
             L.eve_lines(os.path.join(src, "telegraf__v2-flow.compacted.json"))[0],
             L.eve_lines(os.path.join(src, "telegraf__v2-http.compacted.json"))[0]]
    evs = [json.loads(l) for l in picks]
    L.logger(col.port, tag="suricata", message=picks[0].decode())            # UDP
    L.logger(col.port, tag="suricata", tcp=True, message=picks[1].decode())  # TCP, LF
    L.logger(col.port, tag="Suricata", tcp=True, octet_count=True, rfc3164=True, procid="17",
             message=picks[2].decode())                                      # app name case
    L.send_tcp(col.port, picks[3] + b"\n")  # a bare Eve line: Suricata by its event_type
    n = len(picks)
    st = col.wait_syslog(lambda s: s["dispatched"] >= n, 60, "%d messages dispatched" % n)
    L.check_eq(st["sources"], {"suricata": {"messages": n, "no_script": 0}}, "syslog.sources")
    L.check(st["calls"] >= n, "syslog.calls %d < %d" % (st["calls"], n))
    L.check_eq(st["errors"], 0, "syslog.errors (script errors)")

    # tprint(alert): one log line per value, "\t[key] type value"
    def printed():
        t = col.stderr_text()
        return all("zflow-collector: script syslog/suricata: \t[event_type] string %s" %
                   e["event_type"] in t and "\t[src_ip] string %s" % e["src_ip"] in t
                   for e in evs) and t
    text = L.wait_for(printed, 30, "the tprint output of every event in the log")
    prefix = "zflow-collector: script syslog/suricata: "
    # tprint lines: " table" and "\t[key] type value"; anything else of the script is an error
    lines = [l[len(prefix):] for l in text.splitlines()
             if l.startswith(prefix + " table") or l.startswith(prefix + "\t")]
    L.check_eq(sum(1 for l in lines if l == " table"), n, "top-level tables printed")
    sid = evs[0]["alert"]["signature_id"]
    L.check("\t[alert]\t[signature_id] number %d" % sid in lines,
            "nested alert.signature_id %d not printed as an integer (dkjson)" % sid)
    def no_errors(text):
        bad = [l for l in text.splitlines() if "syslog/suricata" in l and not
               (l.startswith(prefix + " table") or l.startswith(prefix + "\t"))]
        L.check(not bad, "script errors in the log:\n%s" % "\n".join(bad))
    no_errors(text)
    # (periodic stock scripts, e.g. system cpu_load, may raise alerts of their own)
    L.check(not col.alerts("subdir = 'syslog'"), "the example raised alerts: %s" %
            col.alerts("subdir = 'syslog'"))
    L.check(col.probe("syslog:suricata") is None, "the stock suricata.lua ran (flows seen)")
    L.check_eq(col.stop(), 0, "collector exit code")
    no_errors(col.stderr_text())  # teardown() ran at exit
    L.log("%d Eve lines printed by the DESIGN.md example (%d log lines)" % (n, len(lines)))


if __name__ == "__main__":
    L.main(run)
