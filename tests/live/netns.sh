#!/usr/bin/env bash
# Live capture test: two network namespaces joined by a veth pair; zflow-probe captures on the
# end in namespace A while tcpreplay sends real captures from the end in namespace B. The flows
# the probe reports (conversations, per-direction packets and bytes) must equal what the same
# probe reports reading the same files with -r: nothing lost, nothing split, nothing added.
#
# Usage: tests/live/netns.sh PROBE_BIN
# Environment: ZFLOW_SHARED_DIR (default ../shared beside the repository).
# Exit: 0 pass, 1 fail, 77 skipped (network namespaces not permitted here).
set -euo pipefail

PROBE=${1:?usage: netns.sh PROBE_BIN}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=${ZFLOW_SHARED_DIR:-$ROOT/../shared}
# A TCP conversation set (HTTP, 13 connections) and a UDP one (QUIC, incl. a one-way flow).
FILES=("$SHARED/pcaps/zeek__http_bro.org.pcap" "$SHARED/pcaps/ndpi__quic.pcap")
IDLE=3600                 # wall-clock idle timeout, far longer than the replay
RING_MB=128               # capture ring: with MTU 65535 each slot is ~64 KiB

fail() { echo "live.netns: FAIL: $*" >&2; exit 1; }
skip() { echo "live.netns: SKIP: $*" >&2; exit 77; }

[ -x "$PROBE" ] || fail "no probe binary at $PROBE"
for f in "${FILES[@]}"; do [ -r "$f" ] || fail "cannot read $f (set ZFLOW_SHARED_DIR)"; done
for t in ip tcpreplay python3; do
  command -v "$t" >/dev/null || fail "$t is not installed (bash .ci/deps.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"

NSA=zflow-live-a-$$
NSB=zflow-live-b-$$
IFA=zfa$$
IFB=zfb$$
TMP=$(mktemp -d /tmp/zflow-live.XXXXXX)
PROBE_PID=""
NS_MADE=()

cleanup() {
  local rc=$?
  if [ -n "$PROBE_PID" ] && kill -0 "$PROBE_PID" 2>/dev/null; then
    kill -KILL "$PROBE_PID" 2>/dev/null || true
    wait "$PROBE_PID" 2>/dev/null || true
  fi
  local ns
  for ns in "${NS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- namespaces and the veth pair -------------------------------------------------------
ip netns add "$NSA" 2>"$TMP/err" || skip "network namespaces not permitted: $(cat "$TMP/err")"
NS_MADE+=("$NSA")
ip netns add "$NSB" 2>"$TMP/err" || skip "network namespaces not permitted: $(cat "$TMP/err")"
NS_MADE+=("$NSB")
ip link add "$IFA" mtu 65535 netns "$NSA" type veth peer name "$IFB" mtu 65535 netns "$NSB" \
  2>"$TMP/err" || skip "cannot create a veth pair: $(cat "$TMP/err")"
# No addresses and no IPv6: the kernel must send nothing (router solicitations, MLD, DAD) that
# the probe would see next to the replayed packets.
for pair in "$NSA:$IFA" "$NSB:$IFB"; do
  ns=${pair%%:*} ifc=${pair#*:}
  ip netns exec "$ns" sh -c "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
  ip -n "$ns" link set "$ifc" up || fail "cannot bring $ifc up in $ns"
done
IFINDEX=$(ip netns exec "$NSA" cat "/sys/class/net/$IFA/ifindex")

# ---- reference: the same probe reading the files ----------------------------------------
PROBE_OPTS=(--dump --idle-timeout "$IDLE" --update-interval 0)
: >"$TMP/ref.jsonl"
for f in "${FILES[@]}"; do
  "$PROBE" -r "$f" "${PROBE_OPTS[@]}" >>"$TMP/ref.jsonl" 2>"$TMP/ref.err" ||
    fail "probe -r $f failed: $(cat "$TMP/ref.err")"
done

# ---- live capture -------------------------------------------------------------------------
# ip netns exec execs the probe: $! is the probe's own PID.
ip netns exec "$NSA" "$PROBE" -i "$IFA" -B "$RING_MB" "${PROBE_OPTS[@]}" \
  >"$TMP/live.jsonl" 2>"$TMP/live.err" &
PROBE_PID=$!

# Ready when the probe holds a packet socket bound to IFA, running, with its ring mapped
# (libpcap maps the ring last in pcap_activate): from then on every packet is kept.
ready() {
  local fd link inode
  for fd in /proc/"$PROBE_PID"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    case $link in socket:\[*\]) ;; *) continue ;; esac
    inode=${link#socket:[}
    inode=${inode%]}
    awk -v ino="$inode" -v idx="$IFINDEX" 'NR > 1 && $9 == ino && $5 == idx && $6 == 1 {f = 1}
      END {exit !f}' "/proc/$PROBE_PID/net/packet" 2>/dev/null || continue
    grep -qF "socket:[$inode]" "/proc/$PROBE_PID/maps" 2>/dev/null && return 0
  done
  return 1
}
for ((i = 0; i < 300; i++)); do
  ready && break
  kill -0 "$PROBE_PID" 2>/dev/null || fail "the probe exited at start: $(cat "$TMP/live.err")"
  sleep 0.05
done
ready || fail "the probe did not open $IFA within 15 s: $(cat "$TMP/live.err")"

ip netns exec "$NSB" tcpreplay -i "$IFB" --topspeed "${FILES[@]}" >"$TMP/replay.out" 2>&1 ||
  fail "tcpreplay failed: $(tail -n 5 "$TMP/replay.out")"
SENT=$(awk '/Successful packets:/ {s += $3} END {print s + 0}' "$TMP/replay.out")
FAILED_TX=$(awk '/Failed packets:/ {s += $3} END {print s + 0}' "$TMP/replay.out")
[ "$FAILED_TX" = 0 ] || fail "tcpreplay could not send $FAILED_TX packets: $(cat "$TMP/replay.out")"

# The probe stops reading at SIGTERM: wait until it has emptied its ring, i.e. its main thread
# is asleep and uses (almost) no CPU for three samples in a row.
cpu_ns() { awk '{print $1}' "/proc/$PROBE_PID/task/$PROBE_PID/schedstat" 2>/dev/null || echo 0; }
state() { sed 's/.*) //' "/proc/$PROBE_PID/task/$PROBE_PID/stat" 2>/dev/null | cut -d' ' -f1; }
quiet=0
last=$(cpu_ns)
for ((i = 0; i < 300 && quiet < 3; i++)); do
  sleep 0.1
  kill -0 "$PROBE_PID" 2>/dev/null || fail "the probe died: $(cat "$TMP/live.err")"
  cur=$(cpu_ns)
  if [ "$(state)" = S ] && [ $((cur - last)) -lt 2000000 ]; then quiet=$((quiet + 1)); else quiet=0; fi
  last=$cur
done

kill -TERM "$PROBE_PID"
for ((i = 0; i < 200; i++)); do
  kill -0 "$PROBE_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$PROBE_PID" 2>/dev/null && fail "the probe did not exit within 20 s of SIGTERM"
rc=0
wait "$PROBE_PID" || rc=$?
PROBE_PID=""
[ "$rc" = 0 ] || fail "the probe exited with $rc after SIGTERM: $(cat "$TMP/live.err")"

# ---- compare ------------------------------------------------------------------------------
if python3 - "$TMP/ref.jsonl" "$TMP/live.jsonl" "$TMP/live.err" "$SENT" <<'EOF'
import collections, json, sys
ref_path, live_path, err_path, sent = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
FIELDS = ("c2s_packets", "c2s_bytes", "s2c_packets", "s2c_bytes")

def flows(path):
    out = collections.Counter()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            e = json.loads(line)
            if e.get("event") != "end":
                continue
            key = "%s %s:%s -> %s:%s" % (e["l4_proto"], e["client_ip"], e["client_port"],
                                         e["server_ip"], e["server_port"])
            out[(key,) + tuple(int(e.get(k, 0)) for k in FIELDS)] += 1
    return out

ref, live = flows(ref_path), flows(live_path)
summary = {}
with open(err_path) as f:
    for line in f:
        if line.startswith("zflow-probe: summary "):
            summary = json.loads(line[len("zflow-probe: summary "):])
pk = lambda c: sum((k[1] + k[3]) * n for k, n in c.items())
print("live.netns: tcpreplay sent %d packets; probe -r: %d flows / %d packets in flows; "
      "live: %d flows / %d packets in flows, %s packets captured"
      % (sent, sum(ref.values()), pk(ref), sum(live.values()), pk(live), summary.get("packets")))
ok = True
if not ref:
    print("live.netns: the reference run reported no flow"); ok = False
if summary.get("packets") != sent:
    print("live.netns: the live probe captured %s packets, tcpreplay sent %d"
          % (summary.get("packets"), sent)); ok = False
fmt = lambda k: "%s  c2s %d pkts/%d B  s2c %d pkts/%d B" % k
for k in sorted(ref - live):
    print("  only in -r   : " + fmt(k)); ok = False
for k in sorted(live - ref):
    print("  only in live : " + fmt(k)); ok = False
sys.exit(0 if ok else 1)
EOF
then
  echo "live.netns: PASS"
else
  fail "the live flows differ from the -r flows (listed above)"
fi
