#!/bin/sh
# make_syslog_corpus.sh: seed corpus for fuzz_syslog from the syslog fixtures and Eve lines.
# usage: make_syslog_corpus.sh SHARED_DIR OUT_DIR
# Seeds: every logger capture, each RFC 5424 sample line and the sample file as one stream,
# every 10th Eve line bare, behind an RFC 3164 header (Suricata through a syslog daemon) and
# behind an RFC 5424 header, and every stats event bare. OUT_DIR must lie in a build tree; files
# are named by content hash (re-runs are idempotent).
set -eu
shared=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd -P)
[ -d "$shared/syslog" ] || { echo "make_syslog_corpus.sh: no $shared/syslog" >&2; exit 2; }
mkdir -p "$out"
case "$(cd "$out" && pwd -P)/" in
  "$here"/*) echo "make_syslog_corpus.sh: refusing to write into the source tree ($out)" >&2; exit 2 ;;
esac

# add: stores stdin as one seed named by its hash
add() {
  tmp="$out/.seed.$$"
  cat > "$tmp"
  mv "$tmp" "$out/$(sha1sum < "$tmp" | cut -c1-40)"
}

for f in "$shared"/syslog/logger-captures/*.bin; do
  add < "$f"
done
samples="$shared/syslog/vast__syslog-rfc5424-samples.log"
add < "$samples"
while IFS= read -r line; do
  printf '%s' "$line" | add
done < "$samples"
awk 'NR % 10 == 1' "$shared/eve/curated.eve.json" | while IFS= read -r line; do
  printf '%s' "$line" | add
  printf '<14>Nov 27 21:24:31 sensor suricata[1234]: %s\n' "$line" | add
  printf '<169>1 2026-11-27T21:24:31.5+01:00 sensor suricata 1234 EVE [eve@32473 type="alert"] %s' \
    "$line" | add
done
# the stats events (json_pick's input in suricata.lua), bare
grep '"event_type": *"stats"' "$shared/eve/curated.eve.json" | while IFS= read -r line; do
  printf '%s' "$line" | add
done
echo "make_syslog_corpus.sh: $(ls "$out" | wc -l) inputs in $out"
