#!/bin/sh
# make_corpus.sh: seed corpus for fuzz_decode from every capture in a directory.
# usage: make_corpus.sh MAKE_CORPUS_BIN PCAP_DIR OUT_DIR [MAX_PER_CAPTURE (0 = all)]
# OUT_DIR must lie in a build tree; files are named by content hash (re-runs are idempotent).
set -eu
bin=$1 pcaps=$2 out=$3 max=${4:-1000}
[ -x "$bin" ] || { echo "make_corpus.sh: $bin is not executable" >&2; exit 2; }
[ -d "$pcaps" ] || { echo "make_corpus.sh: no capture directory $pcaps" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd -P)
mkdir -p "$out"
case "$(cd "$out" && pwd -P)/" in
  "$here"/*) echo "make_corpus.sh: refusing to write into the source tree ($out)" >&2; exit 2 ;;
esac
set --
for f in "$pcaps"/*.pcap "$pcaps"/*.pcapng; do
  [ -f "$f" ] && set -- "$@" "$f"
done
[ $# -gt 0 ] || { echo "make_corpus.sh: no captures in $pcaps" >&2; exit 2; }
"$bin" "$out" "$max" "$@"
echo "make_corpus.sh: $(ls "$out" | wc -l) inputs in $out"
