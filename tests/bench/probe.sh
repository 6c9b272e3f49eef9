#!/usr/bin/env bash
# Probe benchmark: packets/s of zflow-probe reading a capture file, next to tcpdump (the
# libpcap read ceiling) and softflowd, plus the probe's resident memory per active flow.
# A report, not a test: it exits 0 even when a target is missed, non-zero only when a tool
# fails to run.
#
# Usage: tests/bench/probe.sh [BUILD_DIR]      (default build/release, built if needed)
# Environment:
#   ZFLOW_SHARED_DIR     shared test data (default: ../shared beside the repository)
#   ZFLOW_BENCH_COPIES   times the big-mix capture is concatenated (default 10)
#   ZFLOW_BENCH_RUNS     runs per tool, the best is kept (default 3)
#   ZFLOW_BENCH_FLOWS    distinct UDP flows in the memory capture (default 300000)
# The timed commands are kept as strings and eval'ed; checks and cleanup are called indirectly.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build/release}
SHARED=${ZFLOW_SHARED_DIR:-$ROOT/../shared}
COPIES=${ZFLOW_BENCH_COPIES:-10}
RUNS=${ZFLOW_BENCH_RUNS:-3}
NFLOWS=${ZFLOW_BENCH_FLOWS:-300000}
SRC_PCAP=$SHARED/pcaps/generated__big-mix.pcap

die() { echo "bench: $*" >&2; exit 2; }

for t in tcpdump mergecap capinfos python3; do
  command -v "$t" >/dev/null || die "$t is not installed (bash .ci/deps.sh)"
done
[ -r "$SRC_PCAP" ] || die "cannot read $SRC_PCAP (set ZFLOW_SHARED_DIR)"

# ---- build ----------------------------------------------------------------------------
if [ ! -x "$BUILD/probe/zflow-probe" ]; then
  if [ $# -eq 0 ]; then
    echo "bench: building the release preset in $BUILD" >&2
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j 2) \
      || die "release build failed"
  else
    die "no zflow-probe in $BUILD/probe (build it first)"
  fi
fi
PROBE=$BUILD/probe/zflow-probe
SINK=$(find "$BUILD" -name zflow-ack-sink -type f -perm -u+x 2>/dev/null | head -n1)
[ -n "$SINK" ] || die "no zflow-ack-sink under $BUILD (target zflow-ack-sink, BUILD_TESTING=ON)"

# ---- temp files and processes, cleaned on every exit ----------------------------------
TMP=$(mktemp -d /tmp/zflow-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- inputs ---------------------------------------------------------------------------
BIG=$TMP/big-mix-x$COPIES.pcap
inputs=()
for ((i = 0; i < COPIES; i++)); do inputs+=("$SRC_PCAP"); done
mergecap -a -F pcap -w "$BIG" "${inputs[@]}" || die "mergecap failed"
PACKETS=$(capinfos -c -M "$BIG" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
if [ -z "$PACKETS" ] || [ "$PACKETS" -eq 0 ]; then die "capinfos could not count $BIG"; fi

# Many distinct UDP 5-tuples, one packet each (memory per flow), and a tiny baseline.
gen_udp_flows() { # N FILE
  python3 - "$1" "$2" <<'EOF'
import struct, sys
n, path = int(sys.argv[1]), sys.argv[2]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF
eth = bytes.fromhex("020000000002" "020000000001" "0800")
payload = b"zflowbch"
with open(path, "wb", buffering=1 << 20) as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t0 = 1700000000
    for i in range(n):
        src = 0x0A000001 + i // 50000          # 10.0.0.1, 10.0.0.2, ...
        sport = 1024 + i % 50000
        ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + 8 + len(payload), i & 0xFFFF, 0, 64, 17,
                         0, src, 0xC0A80001)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", sport, 9999, 8 + len(payload), 0) + payload
        frame = eth + ip + udp
        us = i % 1000000
        f.write(struct.pack("<IIII", t0 + i // 1000000, us, len(frame), len(frame)))
        f.write(frame)
EOF
}
MANY=$TMP/udp-$NFLOWS-flows.pcap
TINY=$TMP/udp-100-flows.pcap
gen_udp_flows "$NFLOWS" "$MANY" || die "could not generate $MANY"
gen_udp_flows 100 "$TINY" || die "could not generate $TINY"

# ---- the acknowledging collector ------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SINK" --listen "tcp://127.0.0.1:$PORT" >"$TMP/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
for ((i = 0; i < 100; i++)); do
  ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
  kill -0 "$SINK_PID" 2>/dev/null || die "zflow-ack-sink exited: $(cat "$TMP/sink.log")"
  sleep 0.05
done
ss -Hltn "sport = :$PORT" | grep -q . || die "zflow-ack-sink does not listen on port $PORT"
ENDPOINT=tcp://127.0.0.1:$PORT

# ---- timing ---------------------------------------------------------------------------
summary_field() { # FILE FIELD: a number from the probe's summary line
  sed -n 's/^zflow-probe: summary //p' "$1" | tail -n1 |
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"
}
check_probe_read() { # every packet of the file read
  [ "$(summary_field "$1" packets)" = "$PACKETS" ]
}
check_probe_export() { # ... and every batch acknowledged
  check_probe_read "$1" && [ "$(summary_field "$1" unacked_batches)" = 0 ] &&
    [ "$(summary_field "$1" sent_flows)" -gt 0 ]
}

# The tools: name, a check of the run's stderr (or "-"), the command.
NAMES=() CHECKS=() CMDS=()
tool() { NAMES+=("$1"); CHECKS+=("$2"); CMDS+=("$3"); }
tool "tcpdump -r -w /dev/null" - 'tcpdump -r "$BIG" -w /dev/null'
HAVE_SOFTFLOWD=0
if command -v softflowd >/dev/null; then
  HAVE_SOFTFLOWD=1
  # -c none: no control socket (else it waits on it); -d: foreground, exits at EOF;
  # -p: its own pid file (softflowd unlinks it at exit); -6: IPv6 too; -m: no flow limit.
  tool "softflowd -r" - 'softflowd -r "$BIG" -c none -d -6 -m 1000000 -p "$TMP/softflowd.pid"'
fi
tool "zflow-probe --no-l7 export" check_probe_export \
  '"$PROBE" -r "$BIG" --no-l7 --collector "$ENDPOINT" --probe-id bench-nol7'
tool "zflow-probe --no-l7 --dump" check_probe_read '"$PROBE" -r "$BIG" --no-l7 --dump'
tool "zflow-probe L7 export" check_probe_export \
  '"$PROBE" -r "$BIG" --collector "$ENDPOINT" --probe-id bench-l7'
tool "zflow-probe L7 --dump" check_probe_read '"$PROBE" -r "$BIG" --dump'

# RUNS rounds, each running every tool once (so a burst of load on this shared machine does
# not fall on one tool's runs only); the best wall time of each tool is kept.
declare -A BEST CPU BROKEN
TIMEFORMAT='%3R %3U %3S'   # bash's time: wall, user and system seconds of the command
for ((r = 1; r <= RUNS; r++)); do
  for i in "${!NAMES[@]}"; do
    name=${NAMES[$i]} check=${CHECKS[$i]}
    [ -n "${BROKEN[$name]:-}" ] && continue
    if ! { time eval "${CMDS[$i]}" >/dev/null 2>"$TMP/err"; } 2>"$TMP/time"; then
      echo "bench: $name failed (run $r): $(tail -n 3 "$TMP/err")" >&2
      BROKEN[$name]=1
      continue
    fi
    if [ "$check" != "-" ] && ! "$check" "$TMP/err"; then
      echo "bench: $name: run $r gave a wrong result: $(tail -n 3 "$TMP/err")" >&2
      BROKEN[$name]=1
      continue
    fi
    read -r wall user sys <"$TMP/time"
    best=${BEST[$name]:-}
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN {exit !(a < b)}'; then
      BEST[$name]=$wall
      CPU[$name]=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.3f", u + s}')
    fi
  done
done
FAILED=()
ROWS=()
for name in "${NAMES[@]}"; do
  if [ -n "${BROKEN[$name]:-}" ]; then
    FAILED+=("$name")
    unset "BEST[$name]"
  else
    ROWS+=("$name")
  fi
done

# ---- memory per flow ------------------------------------------------------------------
# peak_rss FILE: prints "RSS_KB FLOWS" for a --no-l7 run that keeps every flow active.
peak_rss() {
  local args=(-r "$1" --no-l7 --idle-timeout 86400 --update-interval 0 --dump)
  local kb
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$TMP/time" "$PROBE" "${args[@]}" >/dev/null 2>"$TMP/err" || return 1
    kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$TMP/time")
  else # sample VmHWM (the peak) until the process exits
    "$PROBE" "${args[@]}" >/dev/null 2>"$TMP/err" &
    local pid=$! hwm
    PIDS+=("$pid")
    kb=0
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$hwm" ] && [ "$hwm" -gt "$kb" ] && kb=$hwm
      sleep 0.01
    done
    wait "$pid" || return 1
  fi
  echo "$kb $(summary_field "$TMP/err" flows)"
}
RSS_OK=1
if read -r rss_many flows_many < <(peak_rss "$MANY") &&
  read -r rss_tiny flows_tiny < <(peak_rss "$TINY") &&
  [ -n "$flows_many" ] && [ -n "$flows_tiny" ] && [ "$flows_many" -gt "$flows_tiny" ]; then
  BPF=$(((rss_many - rss_tiny) * 1024 / (flows_many - flows_tiny)))
else
  echo "bench: the memory runs failed: $(tail -n 3 "$TMP/err")" >&2
  FAILED+=("zflow-probe memory")
  RSS_OK=0
fi

# ---- report ---------------------------------------------------------------------------
pps() { awk -v p="$PACKETS" -v s="$1" 'BEGIN {printf "%.0f", p / s}'; }
TCPDUMP_S=${BEST["tcpdump -r -w /dev/null"]:-}
echo
echo "zflow probe benchmark: $(basename "$SRC_PCAP") x$COPIES = $PACKETS packets," \
  "best of $RUNS runs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-28s %10s %9s %9s %11s %11s\n' tool packets seconds "cpu s" pps "% tcpdump"
for name in "${ROWS[@]}"; do
  s=${BEST[$name]}
  pct="-"
  [ -n "$TCPDUMP_S" ] && pct=$(awk -v a="$TCPDUMP_S" -v b="$s" 'BEGIN {printf "%.1f", 100 * a / b}')
  printf '%-28s %10s %9.3f %9.3f %11s %11s\n' "$name" "$PACKETS" "$s" "${CPU[$name]}" "$(pps "$s")" \
    "$pct"
done
echo "(seconds: best wall time; cpu s: user + system time of that run; targets use wall time)"
if [ "$RSS_OK" = 1 ]; then
  echo
  echo "memory (--no-l7, flows kept active): $flows_many flows peak RSS ${rss_many} KiB," \
    "$flows_tiny flows ${rss_tiny} KiB -> $BPF bytes/flow"
fi

echo
echo "targets:"
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
NOL7_S=${BEST["zflow-probe --no-l7 export"]:-}
L7_S=${BEST["zflow-probe L7 export"]:-}
SF_S=${BEST["softflowd -r"]:-}
if [ -n "$NOL7_S" ] && [ -n "$TCPDUMP_S" ]; then
  pct=$(awk -v a="$TCPDUMP_S" -v b="$NOL7_S" 'BEGIN {printf "%.1f", 100 * a / b}')
  ok=$(awk -v p="$pct" 'BEGIN {print (p >= 75) ? 1 : 0}')
  printf '  %-52s %s (%s%%)\n' "L7 off export >= 75% of the tcpdump read rate" "$(verdict "$ok")" "$pct"
else
  printf '  %-52s %s\n' "L7 off export >= 75% of the tcpdump read rate" "n/a (a run failed)"
fi
if [ -n "$L7_S" ] && [ -n "$SF_S" ]; then
  ok=$(awk -v a="$L7_S" -v b="$SF_S" 'BEGIN {print (a < b) ? 1 : 0}')
  printf '  %-52s %s (%s vs %s pps)\n' "L7 on export faster than softflowd" "$(verdict "$ok")" \
    "$(pps "$L7_S")" "$(pps "$SF_S")"
else
  why="a run failed"
  [ "$HAVE_SOFTFLOWD" = 0 ] && why="softflowd not installed"
  printf '  %-52s %s\n' "L7 on export faster than softflowd" "n/a ($why)"
fi
if [ "$RSS_OK" = 1 ]; then
  ok=$((BPF <= 300 ? 1 : 0))
  printf '  %-52s %s (%s B)\n' "<= 300 bytes per active flow (--no-l7)" "$(verdict "$ok")" "$BPF"
else
  printf '  %-52s %s\n' "<= 300 bytes per active flow (--no-l7)" "n/a (a run failed)"
fi

if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "bench: FAILED to run: ${FAILED[*]}" >&2
  exit 1
fi
exit 0
