#!/usr/bin/env bash
# The systemd units of compose/systemd/ (zflow-probe@.service, zflow-collector.service).
#
#   units_test.sh verify PROBE_BIN COLLECTOR_BIN
#       systemd-analyze verify of both units (ExecStart pointed at the given binaries): syntax,
#       directives, dependencies. No output is allowed.
#   units_test.sh run IMAGE
#       runs them for real under systemd in a podman container made FROM IMAGE (the zflow image,
#       with systemd added): the user from zflow.sysusers.conf, the collector with all its
#       hardening, a probe on the container's eth0 exporting to it, flows arriving, reload
#       (SIGHUP) and a clean stop of both. The caller sets CONTAINERS_CONF.
#
# Exit: 0 pass, 1 fail, 77 skipped (no systemd-analyze / podman cannot run systemd).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UNITS=$ROOT/compose/systemd
fail() { echo "compose.units: FAIL: $*" >&2; exit 1; }
skip() { echo "compose.units: SKIP: $*" >&2; exit 77; }
log() { echo "compose.units: $*"; }

mode=${1:?usage: units_test.sh verify PROBE_BIN COLLECTOR_BIN | run IMAGE}
WORK=$(mktemp -d /tmp/zflow-units.XXXXXX)
CONTAINER=""
IMAGE_MADE=""
cleanup() {
  [ -z "$CONTAINER" ] || podman rm -f -v "$CONTAINER" >/dev/null 2>&1 || true
  [ -z "$IMAGE_MADE" ] || podman rmi -f "$IMAGE_MADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

case "$mode" in
verify)
  probe=$(readlink -f "${2:?probe binary}")
  collector=$(readlink -f "${3:?collector binary}")
  command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
  for u in zflow-probe@.service zflow-collector.service; do
    sed -e "s#/usr/local/bin/zflow-probe#$probe#" -e "s#/usr/local/bin/zflow-collector#$collector#" \
      "$UNITS/$u" >"$WORK/$u"
  done
  cp "$WORK/zflow-probe@.service" "$WORK/zflow-probe@lo.service"
  out=$(cd "$WORK" && systemd-analyze verify zflow-collector.service zflow-probe@lo.service 2>&1) ||
    fail "systemd-analyze verify: $out"
  # only complaints about our units count (a host may have broken units of its own)
  if echo "$out" | grep -q zflow; then fail "systemd-analyze verify: $out"; fi
  log "systemd-analyze verify: both units clean"
  ;;
run)
  image=${2:?image}
  command -v podman >/dev/null || fail "podman is not installed"
  cp "$UNITS"/zflow-probe@.service "$UNITS"/zflow-collector.service "$UNITS"/zflow.sysusers.conf \
     "$UNITS"/probe.env.example "$WORK/"
  cat >"$WORK/Containerfile" <<EOF
FROM $image
RUN apt-get update -q && apt-get install -y -q --no-install-recommends systemd systemd-sysv procps \\
 && rm -rf /var/lib/apt/lists/* && userdel zflow
COPY zflow-probe@.service zflow-collector.service /etc/systemd/system/
COPY zflow.sysusers.conf /usr/lib/sysusers.d/zflow.conf
COPY probe.env.example /etc/zflow/probe-eth0.env
# no udev in a container: no device unit for eth0 to bind to
RUN sed -i 's#^COLLECTOR=.*#COLLECTOR=tcp://127.0.0.1:5556#' /etc/zflow/probe-eth0.env \\
 && sed -i '/^BindsTo=/d; s/^After=sys-subsystem-net-devices-%i.device /After=/' \\
      /etc/systemd/system/zflow-probe@.service \\
 && systemd-sysusers && systemctl enable zflow-collector zflow-probe@eth0
CMD ["/lib/systemd/systemd"]
EOF
  IMAGE_MADE=localhost/zflow-units-test:$$
  podman build -q -t "$IMAGE_MADE" "$WORK" >"$WORK/build.log" 2>&1 ||
    { tail -20 "$WORK/build.log" >&2; fail "could not build the systemd test image"; }
  CONTAINER=zflow-units-test-$$
  podman run -d --name "$CONTAINER" --systemd=always --cap-add NET_RAW --cap-add NET_ADMIN \
    "$IMAGE_MADE" >/dev/null || skip "podman cannot run systemd in a container here"
  inc() { podman exec "$CONTAINER" bash -c "$1"; }
  for _ in $(seq 60); do
    st=$(inc 'systemctl is-system-running' 2>/dev/null || true)
    case "$st" in running|degraded) break ;; esac
    sleep 1
  done
  case "$st" in running|degraded) ;; *) skip "systemd did not start in the container ($st)" ;; esac
  inc 'systemctl --no-pager --failed' || true
  for u in zflow-collector zflow-probe@eth0; do
    [ "$(inc "systemctl is-active $u" || true)" = active ] ||
      { inc "journalctl --no-pager -u $u | tail -20" >&2 || true; fail "$u is not active"; }
  done
  # traffic on eth0 for the probe: datagrams and connection attempts to the gateway
  inc 'gw=$(ip route | awk "/default/ { print \$3 }"); for i in 1 2 3 4 5; do
        echo zflow >/dev/udp/$gw/9999; (exec 3<>/dev/tcp/$gw/9) 2>/dev/null; sleep 0.3; done' || true
  ok=0
  for _ in $(seq 30); do
    if inc 'lua5.4 /usr/local/bin/zflow-status.lua /run/zflow/status.json' 2>/dev/null |
       grep -q 'edge-1 up [0-9.]* flows/s, [1-9]'; then ok=1; break; fi
    sleep 1
  done
  inc 'lua5.4 /usr/local/bin/zflow-status.lua /run/zflow/status.json' || true
  [ "$ok" = 1 ] || { inc 'journalctl --no-pager -u "zflow-*" | tail -30' >&2; fail "no flows from the probe"; }
  inc 'systemctl reload zflow-collector && sleep 1 && systemctl is-active zflow-collector' >/dev/null ||
    fail "reload failed"
  inc 'journalctl --no-pager -u zflow-collector | grep -q "Reloaded"' || fail "no reload in the journal"
  inc 'grep -q "^CapEff:.*0000000000003000" /proc/$(systemctl show -p MainPID --value zflow-probe@eth0)/status' ||
    fail "the probe does not run with exactly CAP_NET_RAW and CAP_NET_ADMIN"
  inc '[ "$(stat -c %U /var/lib/zflow/alerts.db)" = zflow ]' || fail "alerts.db is not zflow's"
  inc 'systemctl stop zflow-probe@eth0 zflow-collector'
  for u in zflow-collector zflow-probe@eth0; do
    r=$(inc "systemctl show -p Result --value $u")
    [ "$r" = success ] || fail "$u stopped with result $r"
  done
  log "systemd: both units run hardened, flows arrive, reload and stop are clean"
  ;;
*) fail "unknown mode $mode" ;;
esac
