#!/usr/bin/env bash
# compose.podman: the container demo (compose/docker-compose.yml) end to end with podman and
# podman-compose. Builds the local Debian 12 base image (compose/build-base-image.sh, cached),
# brings the stack up with images built from this tree, waits until the collector has flows from
# probe-a, probe-b and probe-c and stores IDS alerts from the suricata syslog source (also one
# joined to a probe-c flow by Community ID), prints them, and tears everything down: containers,
# networks, the data volume and the images it built, on every path. Then runs the systemd units
# of compose/systemd/ under systemd in a container of the zflow image (units_test.sh run).
#
# Usage: tests/compose/compose_test.sh
# Environment: COMPOSE_TEST_WAIT (seconds to wait for the data, default 300),
#              COMPOSE_TEST_KEEP=1 (leave the stack running for a look; remove it by hand).
# Exit: 0 pass, 1 fail, 77 skipped (not root, or podman cannot run containers here).
# Installs nothing: podman podman-compose runc buildah debootstrap
# golang-github-containernetworking-plugin-dnsname come from .ci/deps.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPOSE_FILE=$ROOT/compose/docker-compose.yml
WAIT=${COMPOSE_TEST_WAIT:-300}
PROJECT=zflowtest$$
export ZFLOW_TAG=compose-test-$$
T0=$(date +%s)

log() { echo "compose.podman: [$(( $(date +%s) - T0 ))s] $*"; }
fail() { echo "compose.podman: FAIL: $*" >&2; exit 1; }
skip() { echo "compose.podman: SKIP: $*" >&2; exit 77; }

for t in podman podman-compose runc debootstrap python3; do
  command -v "$t" >/dev/null || fail "$t is not installed (bash .ci/deps.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, and rootful podman with CNI networks)"

WORK=$(mktemp -d /tmp/zflow-compose-test.XXXXXX)
# The container engine configuration known to work on the CI machines: runc (crun is not
# installed), and explicit ulimits (the default nofile limit of the engine is refused there).
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits=["nofile=20000:20000","nproc=4096:4096"]

[engine]
runtime="runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
# The services find each other by name: podman's CNI network backend (Debian 12's default) needs
# the dnsname plugin for that (and probe-entrypoint.sh reorders the resolvers of the probes, which
# are on two networks); netavark needs aardvark-dns.
backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null || true)
if [ "$backend" = cni ] && [ ! -x /usr/lib/cni/dnsname ]; then
  rm -rf "$WORK"
  fail "no container DNS: install golang-github-containernetworking-plugin-dnsname (bash .ci/deps.sh)"
fi
if [ "$backend" = netavark ] && [ ! -x /usr/lib/podman/aardvark-dns ]; then
  rm -rf "$WORK"
  fail "no container DNS: install aardvark-dns"
fi

pcompose() { podman-compose -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }
cname() { echo "${PROJECT}_$1_1"; }
COLLECTOR=$(cname collector)
SERVICES=(collector probe-a client-a probe-b client-b probe-c replay-c suricata-syslog)

STACK_UP=0
stack_down() {
  [ "$STACK_UP" = 1 ] || return 0
  STACK_UP=0
  local t ids left
  t=$(date +%s)
  pcompose down -v >"$WORK/down.log" 2>&1
  # what podman-compose 1.0 leaves behind: networks, anything half-created
  ids=$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT")
  [ -z "$ids" ] || podman rm -f -v $ids >/dev/null 2>&1
  ids=$(podman network ls -q --filter "label=io.podman.compose.project=$PROJECT")
  [ -z "$ids" ] || podman network rm -f $ids >/dev/null 2>&1
  ids=$(podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT")
  [ -z "$ids" ] || podman volume rm -f $ids >/dev/null 2>&1
  left=$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT" | wc -l)
  log "stack torn down in $(( $(date +%s) - t ))s (containers left: $left)"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "${COMPOSE_TEST_KEEP:-0}" = 1 ]; then
    log "kept: project $PROJECT, images tagged $ZFLOW_TAG, CONTAINERS_CONF=$CONTAINERS_CONF"
    exit "$rc"
  fi
  stack_down
  podman rmi -f "localhost/zflow:$ZFLOW_TAG" "localhost/zflow-demo:$ZFLOW_TAG" >/dev/null 2>&1
  log "images $ZFLOW_TAG removed; the base image localhost/zflow-debian:12 and the build cache are kept"
  rm -rf "$WORK"
  log "total $(( $(date +%s) - T0 ))s, exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. The base image, built locally (debootstrap once, then from the cached tarball).
t=$(date +%s)
bash "$ROOT/compose/build-base-image.sh" --engine podman ||
  fail "compose/build-base-image.sh failed"
log "base image ready in $(( $(date +%s) - t ))s; podman network backend: ${backend:-?}"

# 2. Can this machine run containers at all?
if ! out=$(podman run --rm --network none localhost/zflow-debian:12 true 2>&1); then
  skip "podman cannot run a container here: $(echo "$out" | tail -3 | tr '\n' ' ')"
fi
if ! out=$(podman network create "${PROJECT}_probe" 2>&1) ||
   ! out=$(podman run --rm --network "${PROJECT}_probe" localhost/zflow-debian:12 true 2>&1); then
  podman network rm -f "${PROJECT}_probe" >/dev/null 2>&1 || true
  skip "podman cannot attach a container to a bridge network here: $(echo "$out" | tail -3 | tr '\n' ' ')"
fi
podman network rm -f "${PROJECT}_probe" >/dev/null 2>&1 || true

# 3. Build the images from this tree and start the stack.
t=$(date +%s)
pcompose build >"$WORK/build.log" 2>&1 || true
podman image exists "localhost/zflow:$ZFLOW_TAG" && podman image exists "localhost/zflow-demo:$ZFLOW_TAG" || {
  tail -40 "$WORK/build.log" >&2; fail "the images did not build (log above)"; }
BUILD_S=$(( $(date +%s) - t ))
log "images built in ${BUILD_S}s"
t=$(date +%s)
STACK_UP=1
pcompose up -d >"$WORK/up.log" 2>&1 || { tail -40 "$WORK/up.log" >&2; fail "podman-compose up failed"; }
log "stack started in $(( $(date +%s) - t ))s"

diagnose() {
  echo "--- containers" >&2
  podman ps -a --filter "label=io.podman.compose.project=$PROJECT" \
    --format '{{.Names}} {{.Status}}' >&2
  for s in "${SERVICES[@]}"; do
    echo "--- logs of $s" >&2
    podman logs --tail 25 "$(cname "$s")" >&2 2>&1
  done
}

# 4. Wait for flows from the three probes and the syslog source's alerts.
check() {
  podman exec "$COLLECTOR" cat /var/lib/zflow/status.json >"$WORK/status.json" 2>/dev/null || return 1
  podman exec "$COLLECTOR" zflow-collector --alerts 100000 --json --data-dir /var/lib/zflow \
    >"$WORK/alerts.json" 2>/dev/null || return 1
  python3 - "$WORK/status.json" "$WORK/alerts.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
alerts = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
flows = {}
for p in status.get("registry", {}).get("probes", []):
    flows[p["probe_id"]] = (p.get("up"), sum(i.get("flows_new", 0) for i in p.get("interfaces", [])))
ids = [a for a in alerts if a["script_key"] == "suricata"]
joined = [a for a in ids if a["probe_id"] == "probe-c"]
missing = [p for p in ("probe-a", "probe-b", "probe-c")
           if not (p in flows and flows[p][0] and flows[p][1] > 0)]
print("probes:", ", ".join("%s %s %d flows" % (k, "up" if v[0] else "DOWN", v[1])
                           for k, v in sorted(flows.items())) or "none",
      "| suricata alerts: %d (joined to probe-c flows: %d) | alerts: %d"
      % (len(ids), len(joined), len(alerts)))
sys.exit(0 if not missing and ids and joined else 1)
PY
}

t=$(date +%s)
ok=0
while [ $(( $(date +%s) - t )) -lt "$WAIT" ]; do
  sleep 5
  if ! podman container exists "$COLLECTOR" ||
     [ "$(podman inspect -f '{{.State.Running}}' "$COLLECTOR" 2>/dev/null)" != true ]; then
    diagnose; fail "the collector is not running"
  fi
  if line=$(check 2>&1); then ok=1; log "$line"; break; fi
  [ -z "$line" ] || log "waiting: $line"
done
WAIT_S=$(( $(date +%s) - t ))
if [ "$ok" != 1 ]; then
  diagnose
  fail "after ${WAIT_S}s the collector still lacks flows from probe-a, probe-b and probe-c or suricata alerts (joined to probe-c)"
fi
log "data complete ${WAIT_S}s after start"

# 5. Show what a user sees: the collector's log and the alert command.
echo "--- collector log (tail)"
podman logs --tail 8 "$COLLECTOR" 2>&1
for p in probe-a probe-b probe-c; do
  echo "--- $p log (head)"
  podman logs "$(cname "$p")" 2>&1 | head -4
done
echo "--- zflow-collector --alerts 12"
podman exec "$COLLECTOR" zflow-collector --alerts 12 --data-dir /var/lib/zflow
echo "--- alerts per script and probe"
python3 - "$WORK/alerts.json" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    a = json.loads(l)
    c[(a["script_key"], a["probe_id"] or "-", a["alert_type"])] += 1
for (script, probe, typ), n in sorted(c.items()):
    print("%6d  %-20s %-16s %s" % (n, script, probe, typ))
PY
[ "${COMPOSE_TEST_KEEP:-0}" = 1 ] || stack_down

# 6. The systemd units of "deploying for real", run under systemd in a container of the image.
t=$(date +%s)
units=ran
bash "$ROOT/tests/compose/units_test.sh" run "localhost/zflow:$ZFLOW_TAG" || {
  rc=$?
  [ "$rc" = 77 ] || fail "the systemd units do not work (above)"
  units="skipped (systemd cannot run in a container here)"
}
UNITS_S=$(( $(date +%s) - t ))
log "PASS: images ${BUILD_S}s, data ${WAIT_S}s after start, systemd units $units in ${UNITS_S}s"
