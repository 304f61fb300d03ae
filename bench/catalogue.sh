#!/usr/bin/env bash
# The cost of a large catalogue (needs no data set).
#
# 1. The catalogue file: building one from a product master of N SKUs and
#    checking it (parse + index + id), at N = 100,000 and 1,048,576, next to
#    the floor of reading and hashing the same bytes (b2sum), as a ratio.
# 2. The model under each strategy (docs/CATALOGUE.md, "Large catalogues"):
#    every catalogue item trained (n_items = catalogue size) or only its head
#    (n_items = FR_CAT_HEAD, default 10,000), at dim FR_CAT_DIM (32):
#    parameters, and bytes per store per round (the masked update up, the
#    global model down), computed from the model's shape.
# 2b. A real federation of four stores at 100,000 items
#    (tests/integration/test_catalogue_federation.sh at dim FR_CAT_DIM): each
#    store's local training time as it logs it.
# 3. A real secure round of FR_CAT_STORES (100) simulated stores against one
#    fedrec-aggregator (bench/secagg_load.sh, no dropouts) for both
#    strategies: round time and the aggregator's peak RSS, as printed by
#    that script.
# usage: bench/catalogue.sh BIN_DIR   (make bench-catalogue passes build/bin)
# Environment: FR_CAT_DIM (32), FR_CAT_HEAD (10000), FR_CAT_STORES (100),
#   FR_CAT_SKIP_ROUNDS=1 to stop after part 2.
set -euo pipefail

BIN=${1:?usage: bench/catalogue.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
DIM=${FR_CAT_DIM:-32}
HEAD=${FR_CAT_HEAD:-10000}
STORES=${FR_CAT_STORES:-100}
T=$(mktemp -d /tmp/fr-bench-cat-XXXXXX)
trap 'rm -rf "$T"' EXIT

secs() { # seconds of wall time of "$@", to the millisecond
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

echo "== 1. catalogue files"
printf "%10s %10s %10s %10s %10s %8s\n" items MB build_s check_s floor_s ratio
for n in 100000 1048576; do
  python3 - "$T/master-$n.csv" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("StockCode,Description,Units\n")
    for i in range(n):
        f.write(f"{10000 + i}{'A' if i % 7 == 0 else ''},Product {i},{n - i}\n")
PY
  b=$(secs "$BIN/fedrec-catalogue" build --master "$T/master-$n.csv" \
        --rank-column Units --out "$T/cat-$n")
  c=$(secs "$BIN/fedrec-catalogue" check "$T/cat-$n")
  f=$(secs b2sum -l 256 "$T/cat-$n")
  mb=$(awk -v s="$(stat -c %s "$T/cat-$n")" 'BEGIN { printf "%.1f", s / 1e6 }')
  printf "%10d %10s %10s %10s %10s %8s\n" "$n" "$mb" "$b" "$c" "$f" \
    "$(awk -v c="$c" -v f="$f" 'BEGIN { printf "%.1f", (f > 0) ? c / f : 0 }')"
done

echo "== 2. model size per strategy (dim $DIM)"
printf "%-28s %10s %12s %14s %14s\n" strategy n_items parameters \
  "up MB/store" "down MB/store"
for s in "all 100000 items:100000" "head of 100000 ($HEAD):$HEAD"; do
  name=${s%%:*} n=${s##*:}
  p=$((n * (DIM + 1)))
  # up: one 32-bit word per parameter plus the weight (SecAgg+); down: the
  # global model, 32-bit floats
  printf "%-28s %10d %12d %14.2f %14.2f\n" "$name" "$n" "$p" \
    "$(awk -v p="$p" 'BEGIN { print (p + 1) * 4 / 1e6 }')" \
    "$(awk -v p="$p" 'BEGIN { print p * 4 / 1e6 }')"
done

echo "== 2b. a real store's local training at 100,000 items (dim $DIM, 40 members, one epoch)"
out=$(FR_CATFED_DIM=$DIM FR_CATFED_KEEP=1 \
  "$HERE/../tests/integration/test_catalogue_federation.sh" "$BIN" 2>&1) || {
  echo "$out" | tail -5; exit 1; }
kept=$(echo "$out" | sed -n 's/^kept: //p')
grep -h "trained in" "$kept"/store*.log | sed 's/.*\(round id [0-9]*: trained in [0-9.]* s\).*/   \1/'
rm -rf "$kept"

[ "${FR_CAT_SKIP_ROUNDS:-0}" = 1 ] && exit 0
echo "== 3. one secure round, $STORES simulated stores, no dropouts"
for n in 100000 "$HEAD"; do
  echo "-- n_items $n, dim $DIM"
  FR_LOAD_STORES=$STORES FR_LOAD_PROCS=2 FR_LOAD_DROP=0 FR_LOAD_ITEMS=$n \
    FR_LOAD_DIM=$DIM FR_LOAD_HEARTBEAT_TIMEOUT_MS=30000 \
    "$HERE/secagg_load.sh" "$BIN" 2>&1 |
    grep -Ei "round|rss|cpu|parameters|phase" | head -20
done
