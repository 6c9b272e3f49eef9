#!/usr/bin/env bash
# Collector benchmark: flows/s that zflow-collector applies with zero lost messages, its CPU per
# 100k flows/s and its resident memory per active flow, (a) without any script and (b) with every
# stock flow script enabled, with 1 and 2 workers, driven by 2..4 zflow-loadgen processes
# (synthetic probes through the real exporter: batches of 512, acknowledgements honoured,
# resends on timeout). A report, not a test: it exits 0 even when a target is missed, non-zero
# only when a tool fails to run.
#
# Usage: tests/bench/collector.sh [BUILD_DIR]
#   default BUILD_DIR build/bench-collector, configured as Release and (re)built with -j2;
#   a given BUILD_DIR is used as it is (it needs zflow-collector and zflow-loadgen).
# Environment:
#   ZFLOW_BENCH_FLOWS    flows per loadgen per throughput run without scripts (default 400000)
#   ZFLOW_BENCH_STOCK_FLOWS  the same with the stock scripts (default 100000)
#   ZFLOW_BENCH_ACTIVE   flows open at a time per loadgen in the throughput runs (default 1000)
#   ZFLOW_BENCH_LOADGENS loadgen counts tried (default "2 3 4")
#   ZFLOW_BENCH_WORKERS  worker counts tried (default "1 2")
#   ZFLOW_BENCH_MEM_FLOWS active flows of the memory run (default 1000000; 0 = skip)
#   ZFLOW_BENCH_L7       1 (default): flows are new + l7 + end; 0: new + end
#   ZFLOW_BENCH_ALERT_EVERY_FLOW 1: keep the blacklisted script's default list, which holds the
#                        loadgen's server network (one alert per flow); default: a list it misses
#   ZFLOW_BENCH_INSTALLDIR where the stock scripts are (default: this source tree)
#   ZFLOW_BENCH_PERF     1: perf record -g the collector during the best run of each mode and
#                        print its hottest symbols (needs perf)
# Targets on the reference machine (2 shared cores): >= 300k flows/s without scripts,
# >= 100k flows/s with all stock scripts.
# shellcheck disable=SC2317  # cleanup runs from the EXIT trap
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FLOWS=${ZFLOW_BENCH_FLOWS:-400000}
STOCK_FLOWS=${ZFLOW_BENCH_STOCK_FLOWS:-100000}
ACTIVE=${ZFLOW_BENCH_ACTIVE:-1000}
LOADGENS=${ZFLOW_BENCH_LOADGENS:-"2 3 4"}
WORKERS=${ZFLOW_BENCH_WORKERS:-"1 2"}
MEM_FLOWS=${ZFLOW_BENCH_MEM_FLOWS:-1000000}
L7=${ZFLOW_BENCH_L7:-1}
PERF=${ZFLOW_BENCH_PERF:-0}
STOCK_INST=${ZFLOW_BENCH_INSTALLDIR:-$ROOT}
TARGET_NONE=300000
TARGET_STOCK=100000

die() { echo "bench: $*" >&2; exit 2; }
command -v python3 >/dev/null || die "python3 is not installed"

# ---- build ----------------------------------------------------------------------------
if [ $# -eq 0 ]; then
  BUILD=$ROOT/build/bench-collector
  echo "bench: building Release in $BUILD" >&2
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null \
    || die "configure failed"
  cmake --build "$BUILD" -j2 --target zflow-collector zflow-loadgen >/dev/null \
    || die "build failed"
else
  BUILD=$(cd "$1" && pwd)
fi
COLLECTOR=$BUILD/collector/zflow-collector
LOADGEN=$BUILD/tests/tools/zflow-loadgen
[ -x "$COLLECTOR" ] || die "no $COLLECTOR"
[ -x "$LOADGEN" ] || die "no $LOADGEN (target zflow-loadgen, BUILD_TESTING=ON)"

# ---- temp files and processes, cleaned on every exit ----------------------------------
TMP=$(mktemp -d /tmp/zflow-bench-collector.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # PID -> utime + stime of the whole process (every thread), in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
thread_ticks() { # PID -> "tid name ticks" per thread
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ < "$t/comm")" \
      "$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat")"
  done
}

# ---- the two script setups ------------------------------------------------------------
# (a) no scripts: an installdir whose scripts tree is empty (no flag disables the stock scripts)
EMPTY_INST=$TMP/empty-install
mkdir -p "$EMPTY_INST/scripts/callbacks/flow" "$EMPTY_INST/scripts/lua/modules"
# (b) every stock flow script: the source tree as installdir, plus a scripts_config.json that
# enables the ones disabled by default (written into each data dir)
STOCK_CFG=$TMP/stock_scripts_config.json
"$COLLECTOR" --list-scripts --json --installdir "$STOCK_INST" --data-dir "$TMP/list" > "$TMP/list.json" \
  2> "$TMP/list.err" || die "--list-scripts failed: $(cat "$TMP/list.err")"
python3 - "$TMP/list.json" "$STOCK_CFG" > "$TMP/stock.txt" <<'EOF'
import json, os, sys
scripts = [s for s in json.load(open(sys.argv[1])) if s["subdir"] == "flow"]
cfg = {"flow": {s["key"]: {"enabled": True} for s in scripts if s["loaded"]}}
# zflow-loadgen's servers are 192.0.2.x (RFC 5737), which is on blacklisted's default list: every
# synthetic flow would raise an alert. Keep the script running, with a list the load misses.
if "blacklisted" in cfg["flow"] and os.environ.get("ZFLOW_BENCH_ALERT_EVERY_FLOW") != "1":
    cfg["flow"]["blacklisted"]["value"] = {"items": ["203.0.113.0/24", "2001:db8::/32"]}
json.dump(cfg, open(sys.argv[2], "w"))
runs = [s["key"] for s in scripts if s["loaded"]]
broken = [s["key"] for s in scripts if not s["loaded"]]
off = [s["key"] for s in scripts if s["loaded"] and not s["enabled"]]
print("%d stock flow scripts loaded (%d default-disabled, enabled here)%s%s" % (
    len(runs), len(off), ": " + " ".join(runs) if runs else "",
    "; NOT loadable: " + " ".join(broken) if broken else ""))
EOF
STOCK_DESC=$(cat "$TMP/stock.txt")
echo "bench: stock setup: $STOCK_DESC" >&2

# ---- one run ----------------------------------------------------------------------------
# run MODE WORKERS NLOADGENS FLOWS ACTIVE -> prints one JSON line; with PERF_OUT set, perf records
# the collector for 4 s into that file. MODE: none | stock.
run() {
  local mode=$1 workers=$2 n=$3 flows=$4 active=$5 tag="$1-w$2-n$3-a$5"
  local dir=$TMP/$tag port inst
  mkdir -p "$dir/data"
  port=$(free_port)
  if [ "$mode" = none ]; then inst=$EMPTY_INST; else inst=$STOCK_INST; cp "$STOCK_CFG" "$dir/data/scripts_config.json"; fi
  "$COLLECTOR" --listen "tcp://127.0.0.1:$port" --installdir "$inst" --data-dir "$dir/data" \
    --workers "$workers" --status-file "$dir/status.json" --summary-interval 0 \
    2> "$dir/collector.err" &
  local cpid=$!
  PIDS+=("$cpid")
  local i
  for ((i = 0; i < 300; i++)); do  # ready: the status file exists (socket bound, scripts loaded)
    [ -s "$dir/status.json" ] && break
    kill -0 "$cpid" 2>/dev/null || die "collector failed to start: $(cat "$dir/collector.err")"
    sleep 0.05
  done
  [ -s "$dir/status.json" ] || die "collector not ready after 15 s"
  local idle_rss cpu0 t0 t1 cpu1 peak_rss=0 r
  idle_rss=$(rss_kb "$cpid")
  cpu0=$(cpu_ticks "$cpid")
  thread_ticks "$cpid" > "$dir/threads0"
  t0=$(date +%s.%N)
  local lpids=() l7flag=()
  [ "$L7" = 1 ] && l7flag=(--l7)
  for ((i = 1; i <= n; i++)); do
    "$LOADGEN" --collector "tcp://127.0.0.1:$port" --probe-id "lg$i" --flows "$flows" \
      --active "$active" --seed "$i" "${l7flag[@]}" > "$dir/lg$i.json" 2> "$dir/lg$i.err" &
    lpids+=($!)
    PIDS+=($!)
  done
  if [ "$PERF" = 1 ] && [ -n "${PERF_OUT:-}" ] && command -v perf >/dev/null; then
    perf record -g -o "$PERF_OUT" -p "$cpid" -- sleep 4 >/dev/null 2>&1 &
    PIDS+=($!)
  fi
  # sample the collector's RSS while the loadgens run
  while :; do
    local alive=0
    for i in "${lpids[@]}"; do kill -0 "$i" 2>/dev/null && alive=1; done
    r=$(rss_kb "$cpid" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak_rss" ] && peak_rss=$r
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for i in "${lpids[@]}"; do wait "$i" || true; done
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$cpid")
  thread_ticks "$cpid" > "$dir/threads1"
  kill -TERM "$cpid"
  wait "$cpid" || true
  python3 - "$dir" "$mode" "$workers" "$n" "$flows" "$active" "$t0" "$t1" "$cpu0" "$cpu1" \
    "$clk_tck" "$idle_rss" "$peak_rss" <<'EOF'
import glob, json, os, sys
d, mode, w, n, flows, active, t0, t1, c0, c1, tck, idle, peak = sys.argv[1:]
n, flows, active, w = int(n), int(flows), int(active), int(w)
lg = []
for p in sorted(glob.glob(os.path.join(d, "lg*.json"))):
    try:
        lg.append(json.loads(open(p).read().strip().splitlines()[-1]))
    except (ValueError, IndexError):
        lg.append({"drained": False, "dropped_batches": -1, "resent_batches": -1, "seconds": 0})
st = json.load(open(os.path.join(d, "status.json")))
lost = sum(p["lost"] for p in st["registry"]["probes"])
wall = float(t1) - float(t0)
secs = max([x.get("seconds", 0) for x in lg] + [0.001])
total = flows * n
fps = total / secs
cpu = (int(c1) - int(c0)) / int(tck)
# per thread: the main thread (tid = pid) is ingest (receive, decode, dispatch, ack); the
# workers are the threads named flow-worker-N; ZMQbg/IO is libzmq's I/O thread
def snap(name):
    out = {}
    for line in open(os.path.join(d, name)):
        tid, comm, ticks = line.split()
        out[tid] = (comm, int(ticks))
    return out
th0, th1 = snap("threads0"), snap("threads1")
pid = min(th1, key=int)
busy = {tid: (th1[tid][1] - th0.get(tid, (None, 0))[1]) / int(tck) / wall for tid in th1}
ingest_share = busy[pid]
worker_share = max([v for t, v in busy.items() if th1[t][0].startswith("flow-worker-")] or [0])
zmq_share = sum(v for t, v in busy.items() if th1[t][0].startswith("ZMQbg/IO"))
ok = (len(lg) == n and all(x.get("drained") and x.get("dropped_batches") == 0 for x in lg)
      and lost == 0 and sum(p["flow_events"] for p in st["registry"]["probes"]) ==
      sum(x.get("events", 0) for x in lg))
print(json.dumps({
    "mode": mode, "workers": w, "loadgens": n, "flows": total, "active": active,
    "seconds": round(secs, 3), "flows_per_s": round(fps), "zero_loss": ok, "lost": lost,
    "resent": sum(x.get("resent_batches", 0) for x in lg),
    "dropped": sum(x.get("dropped_batches", 0) for x in lg),
    "queue_full": st["ingest"]["queue_full"],
    "cpu_s": round(cpu, 2), "cpu_cores": round(cpu / wall, 2),
    "cpu_per_100k": round(cpu / wall * 100000 / fps, 2) if fps else None,
    "ingest_thread": round(ingest_share, 2), "busiest_worker": round(worker_share, 2),
    "zmq_io": round(zmq_share, 2),
    "idle_rss_kb": int(idle), "peak_rss_kb": int(peak),
    "rss_per_active_flow_b": round((int(peak) - int(idle)) * 1024 / (active * n), 1),
    "hook_calls": sum(x["hook_calls"] for x in st["workers"]),
    "alerts": sum(x["alerts"] for x in st["workers"]),
    "duplicates": st["ingest"]["duplicates"], "inflight_resends": st["ingest"]["inflight_resends"],
    "script_errors": sum(x["script_errors"] for x in st["workers"]),
}))
EOF
}

# ---- throughput -------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$TMP/results.jsonl
: > "$RESULTS"
echo "bench: $FLOWS flows per loadgen ($STOCK_FLOWS with scripts), $ACTIVE active, l7=$L7; loadgens {$LOADGENS}, workers {$WORKERS}" >&2
for mode in none stock; do
  for w in $WORKERS; do
    for n in $LOADGENS; do
      f=$FLOWS
      [ "$mode" = stock ] && f=$STOCK_FLOWS
      line=$(run "$mode" "$w" "$n" "$f" "$ACTIVE")
      echo "$line" >> "$RESULTS"
      echo "bench: $line" >&2
    done
  done
done

# ---- memory per active flow --------------------------------------------------------------
# Peak RSS also holds the decoded batches queued in the collector (up to workers x queue-size
# batches), so two runs with MEM_FLOWS/10 and MEM_FLOWS active flows are compared: the
# difference of their peaks over the difference of active flows is the cost of a flow.
if [ "$MEM_FLOWS" -gt 0 ]; then
  for mode in none stock; do
    for a in $((MEM_FLOWS / 10)) "$MEM_FLOWS"; do
      line=$(run "$mode" 2 1 $((a * 2)) "$a")
      echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["memrun"]=True; print(json.dumps(d))' >> "$RESULTS"
      echo "bench: memory: $line" >&2
    done
  done
fi

# ---- perf on the best zero-loss run of each mode -------------------------------------------
PERF_TXT=$TMP/perf.txt
: > "$PERF_TXT"
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
  for mode in none stock; do
    best=$(python3 - "$RESULTS" "$mode" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rs = [r for r in rs if r["mode"] == sys.argv[2] and r["zero_loss"] and not r.get("memrun")]
if rs:
    b = max(rs, key=lambda r: r["flows_per_s"])
    print(b["workers"], b["loadgens"])
EOF
)
    [ -n "$best" ] || continue
    # shellcheck disable=SC2086
    set -- $best
    f=$FLOWS
    [ "$mode" = stock ] && f=$STOCK_FLOWS
    PERF_OUT=$TMP/perf-$mode.data run "$mode" "$1" "$2" "$f" "$ACTIVE" >/dev/null
    {
      echo "perf, $mode, workers $1, loadgens $2 (self time, top symbols):"
      perf report -i "$TMP/perf-$mode.data" --stdio --no-children --sort dso,symbol 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | head -n 15 || true
      echo
    } >> "$PERF_TXT"
  done
fi

# ---- report --------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$RESULTS" "$TARGET_NONE" "$TARGET_STOCK" "$STOCK_DESC" "$(nproc)" "$LOAD_START" \
  "$LOAD_END" "$BUILD" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tn, ts, desc, cores = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print("zflow-collector benchmark, %s (%s cores, load average %s at the start, %s at the end; "
      "the loadgens share the cores with the collector)" % (sys.argv[8], cores, sys.argv[6],
                                                            sys.argv[7]))
print("stock: %s" % desc)
print()
hdr = ("mode", "workers", "loadgens", "flows", "flows/s", "zero loss", "resent", "dups",
       "cpu cores", "cpu/100k f/s", "ingest thr", "max worker", "zmq io", "alerts")
fmt = "%-6s %7s %8s %9s %9s %9s %6s %6s %9s %12s %10s %10s %6s %8s"
print(fmt % hdr)
for r in rs:
    if r.get("memrun"):
        continue
    print(fmt % (r["mode"], r["workers"], r["loadgens"], r["flows"], r["flows_per_s"],
                 "yes" if r["zero_loss"] else "NO", r["resent"], r["duplicates"],
                 r["cpu_cores"], r["cpu_per_100k"], r["ingest_thread"], r["busiest_worker"],
                 r["zmq_io"], r["alerts"]))
print("(resent: batches the loadgens sent again after 5 s without an ack; dups: resent copies "
      "the collector decoded after applying the original; ingest thr / max worker / zmq io: "
      "busy fraction of one core)")
print()
for mode in ("none", "stock"):
    m = sorted((r for r in rs if r.get("memrun") and r["mode"] == mode), key=lambda r: r["active"])
    for r in m:
        print("memory, %-5s: %8d active flows: RSS idle %6.1f MiB, peak %7.1f MiB (zero loss: %s)"
              % (mode, r["active"], r["idle_rss_kb"] / 1024, r["peak_rss_kb"] / 1024,
                 "yes" if r["zero_loss"] else "NO"))
    if len(m) >= 2 and m[-1]["active"] > m[0]["active"]:
        per = (m[-1]["peak_rss_kb"] - m[0]["peak_rss_kb"]) * 1024 / (m[-1]["active"] - m[0]["active"])
        print("memory, %-5s: %.0f B of RSS per active flow (peak difference / active difference); "
              "%.0f B counting the whole peak over idle at %d flows" %
              (mode, per, m[-1]["rss_per_active_flow_b"], m[-1]["active"]))
print()
for mode, target in (("none", tn), ("stock", ts)):
    ok = [r for r in rs if r["mode"] == mode and r["zero_loss"] and not r.get("memrun")]
    if not ok:
        print("%-5s: no zero-loss run  -> MISS (target %d flows/s)" % (mode, target))
        continue
    b = max(ok, key=lambda r: r["flows_per_s"])
    print("%-5s: best zero-loss %7d flows/s (workers %d, loadgens %d, %.2f cores per 100k "
          "flows/s)  target %d -> %s" % (mode, b["flows_per_s"], b["workers"], b["loadgens"],
                                         b["cpu_per_100k"], target,
                                         "PASS" if b["flows_per_s"] >= target else "MISS"))
EOF
if [ -s "$PERF_TXT" ]; then echo; cat "$PERF_TXT"; fi
exit 0
