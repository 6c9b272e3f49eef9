#!/usr/bin/env python3
"""syslog.threads: the syslog scripts on several dispatcher threads (--syslog-workers 3), each
with its own Lua state: over one TCP connection, Eve-like JSON events of 300 flows (20 numbered
events each, the flows interleaved) and 3000 numbered plain messages of the same source; a
script checks in each state that every flow's events and the plain messages arrive in order,
setup() runs once per state and teardown() once per state at exit; the flows spread over the
threads (status syslog.per_thread); the listener's counters are in the status; --list-scripts
of the running collector shows the syslog script's calls; alert JSON keeps integers beyond
2^50 exact, floats or not."""
import json
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sysloglib as L  # noqa: E402

THREADS = 3
FLOWS, PER_FLOW, PLAIN = 300, 20, 3000

# In each state: the last sequence number per flow (JSON events, sharded by flow_id) and of
# the plain messages (sharded by source); a number that does not follow is out of order.
ORDER_LUA = r"""
local zs = require "zflow_syslog"
local cjson = require "cjson.safe"
local m = { hooks = {} }
local last = {}
function m.setup()
   zs.count("setup")
   return true
end
function m.hooks.handleEvent(message)
   local key, seq
   local ev = cjson.decode(message)
   if type(ev) == "table" then
      key, seq = string.format("flow %d", ev.flow_id), ev.seq
   else
      key, seq = message:match("^(%S+) (%d+)$")
      seq = tonumber(seq)
   end
   if (last[key] or 0) + 1 == seq then zs.count("in_order") else zs.count("out_of_order") end
   last[key] = seq
end
function m.teardown()
   print("teardown of one state")
   return true
end
return m
"""

# One alert whose details hold integers past 2^50, as integers and as floats.
BIGINT_LUA = r"""
local alerts_api = require "alerts_api"
local m = { hooks = {} }
function m.hooks.handleEvent(message)
   alerts_api.store({ entity = "syslog", entity_value = "bigint" },
      { alert_type = "bigint_test", score = 1, message = message,
        json = { i = 1031464864740687, f = 1031464864740687.0, neg = -2.0^53,
                 max = math.maxinteger, frac = 0.1, third = 1 / 3 } })
end
return m
"""


def run():
    a = L.args(__doc__)
    env = L.Env("threads")
    sdir = env.scripts_dir("scripts", {"syslog/ordcheck.lua": ORDER_LUA,
                                       "syslog/bigint.lua": BIGINT_LUA})
    col = L.Collector(env, a.collector, "c", scripts_dirs=[sdir], installdir=a.source,
                      extra=["--syslog-workers", str(THREADS)]).start()
    st = col.syslog()
    L.check_eq(st.get("threads"), THREADS, "syslog.threads")
    L.check_eq(st["counters"].get("ordcheck/setup"), THREADS, "setup() calls (one per state)")

    head = b"<134>1 2026-11-27T00:00:00Z sensor ordcheck - - - "
    frames, p = [], 0
    for k in range(1, PER_FLOW + 1):
        for f in range(FLOWS):
            fid = 1031464864740687 + f * 7919
            frames.append(L.octet(head + b'{"flow_id":%d,"event_type":"x","seq":%d}' % (fid, k)))
            if f % 2 and p < PLAIN:  # the plain messages between the flows' events
                p += 1
                frames.append(L.octet(head + b"plain %d" % p))
    while p < PLAIN:
        p += 1
        frames.append(L.octet(head + b"plain %d" % p))
    total = FLOWS * PER_FLOW + PLAIN
    L.check_eq(len(frames), total, "frames built")
    L.send_tcp(col.port, b"".join(frames))
    s = col.wait_syslog(lambda s: s["dispatched"] >= total, 120, "%d messages dispatched" % total)
    L.check_eq(s["dispatched"], total, "syslog.dispatched")
    L.check_eq(s["queue_full"], 0, "syslog.queue_full")
    L.check_eq(s["counters"].get("ordcheck/out_of_order", 0), 0,
               "messages out of order (per flow, per source)")
    L.check_eq(s["counters"].get("ordcheck/in_order"), total, "messages in order")
    busy = [t["dispatched"] for t in s["per_thread"]]
    L.check_eq(len(busy), THREADS, "syslog.per_thread entries")
    L.check_eq(sum(busy), total, "per_thread dispatched add up")
    L.check(sum(1 for n in busy if n >= FLOWS) >= 2, "the flows did not spread: %s" % busy)
    lst = s.get("listener")
    L.check(lst is not None, "no listener counters in the status: %s" % list(s))
    L.check(lst["tcp_messages"] >= total and lst["tcp_accepted"] >= 1,
            "listener counters: %s" % lst)

    # the runtime file (every 2 s) has the syslog states' counters: --list-scripts shows them
    def listed():
        rows = [r for r in col.list_scripts() if r["subdir"] == "syslog" and r["key"] == "ordcheck"]
        return rows and rows[0]["live"] and rows[0]["calls"] >= total and rows[0]
    row = L.wait_for(listed, 30, "--list-scripts to show the live calls of syslog/ordcheck")
    L.check_eq(row["errors"], 0, "syslog/ordcheck errors")

    L.logger(col.port, tag="bigint", tcp=True, message="big integers")
    rows = col.wait_alerts(1, "alert_type = 'bigint_test'")
    L.check_eq(rows[0]["json"], '{"f":1031464864740687,"frac":0.1,"i":1031464864740687,'
               '"max":9223372036854775807,"neg":-9007199254740992,"third":0.3333333333333333}',
               "alert JSON of integers past 2^50")
    json.loads(rows[0]["json"])

    L.check_eq(col.stop(), 0, "collector exit code")
    L.check_eq(col.stderr_text().count("teardown of one state"), THREADS,
               "teardown() calls (one per state)")
    L.log("%d messages on %d threads (%s), all in order" % (total, THREADS, busy))


if __name__ == "__main__":
    L.main(run)
