#!/usr/bin/env bash
# test_catalogue_federation.sh - a 100,000-item catalogue through a real
# federation: fedrec-catalogue builds it from a product master, one
# fedrec-aggregator serves it (n_items 100000, secure aggregation) and three
# protected stores whose exports name string SKUs import them, fetch the
# catalogue the round names, train one round under it and exit (--until-done).
# Checks:
#  - the catalogue built from the master has the id fedrec-catalogue prints,
#    and every store ends with a byte-identical copy;
#  - before the store has the catalogue, the legacy rule counts the rows
#    whose SKU is not a decimal below n_items as outside;
#    after, a dry run counts exactly the rows whose SKU the master lacks
#    (NEW-*), and writes nothing;
#  - the round completes with all four stores, secure;
#  - recommend names SKUs from the catalogue, segment takes one;
#  - the aggregator refuses to restart its model under another catalogue.
# usage: test_catalogue_federation.sh BIN_DIR
#   (bench/catalogue.sh runs it with FR_CATFED_DIM=32 FR_CATFED_KEEP=1 and
#   reads the stores' training times)
set -euo pipefail

BIN=${1:?usage: test_catalogue_federation.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
T=$(mktemp -d /tmp/fr-catfed-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "${FR_CATFED_KEEP:-0}" = 1 ]; then echo "kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() {
  echo "test_catalogue_federation: FAIL: $*" >&2
  for f in "$T"/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
  done
  exit 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=$((20000 + RANDOM % 20000))
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
EP="tcp://127.0.0.1:$PORT"
ITEMS=100000
STORES=4

# A product master of 100,000 SKUs in rank order, and per store an export
# with string SKUs: purchases of the first 3,000 SKUs (the popular head),
# some of the tail, and rows of products the master does not list (NEW-*).
python3 - "$T" "$ITEMS" "$STORES" <<'PY'
import random, sys
t, items, stores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(5)
skus = ["%05d%s" % (10000 + i, "" if i % 7 else "A") for i in range(items)]
with open(f"{t}/products.csv", "w") as f:
    f.write("StockCode,Description\n")
    for i, s in enumerate(skus):
        f.write(f'{s},"Product {i}, boxed"\n')
for s in range(1, stores + 1):
    new = legacy_out = 0
    with open(f"{t}/export-{s}.csv", "w") as f:
        f.write("member_id,item_id,timestamp,quantity\n")
        for m in range(40):
            for k in range(12):
                r = rng.random()
                if r < 0.05:
                    sku = "NEW-%d" % rng.randrange(9)
                    new += 1
                elif r < 0.15:
                    sku = skus[rng.randrange(3000, items)]
                else:
                    sku = skus[int(rng.paretovariate(1.2)) % 3000]
                if not (sku.isdigit() and int(sku) < items):
                    legacy_out += 1
                ts = 1700000000 + m * 1000 + k
                f.write(f"{s * 1000 + m},{sku},{ts},1\n")
    with open(f"{t}/new-{s}.txt", "w") as f:
        f.write(f"{new}\n")
    with open(f"{t}/legacy-{s}.txt", "w") as f:
        f.write(f"{legacy_out}\n")
PY

"$BIN/fedrec-catalogue" build --master "$T/products.csv" --out "$T/catalogue" \
  > "$T/build.log" 2>&1 || fail "catalogue build"
read -r CAT_ID CAT_N < <("$BIN/fedrec-catalogue" id "$T/catalogue")
[ "$CAT_N" = "$ITEMS" ] || fail "catalogue has $CAT_N items"
grep -q "$CAT_ID" "$T/build.log" || fail "build did not print the id"

"$BIN/fedrec-keygen" --name aggregator --dir "$T/keys" >/dev/null 2>&1
: > "$T/allowlist"
for s in $(seq 1 $STORES); do
  st="$T/st$s"
  "$BIN/fedrec-client" init --store "$st" --name "store$s" --n_items $ITEMS \
    --connect "$EP" --server_key "$T/keys/aggregator.pub" \
    >> "$T/allowlist" 2>/dev/null || fail "init store $s"
  "$BIN/fedrec-client" import --store "$st" "$T/export-$s.csv" \
    > "$T/import$s.log" 2>&1 || fail "import store $s"
  # without a catalogue the legacy rule holds: a decimal SKU below n_items
  # is that item, anything else is outside
  grep -q "^rows_outside_catalogue: $(cat "$T/legacy-$s.txt")$" "$T/import$s.log" ||
    fail "store $s: before the catalogue: $(cat "$T/import$s.log")"
  awk -F, 'NR > 1 && !seen[$1]++ { print $1 ",training,grant";
           print $1 ",marketing,grant" }' "$T/export-$s.csv" > "$T/consent$s.csv"
  "$BIN/fedrec-client" consent import --store "$st" "$T/consent$s.csv" \
    >/dev/null 2>&1 || fail "consent store $s"
done

cat > "$T/aggregator.conf" <<CONF
listen $EP
key_file $T/keys/aggregator.key
allowlist $T/allowlist
state_dir $T/agg
catalogue $T/catalogue
n_items $ITEMS
dim ${FR_CATFED_DIM:-4}
rounds 1
min_stores $STORES
fraction 1.0
start_delay_ms 1000
heartbeat_timeout_ms 5000
round_timeout_ms 120000
linger_ms 5000
http_listen 127.0.0.1:0
CONF
"$BIN/fedrec-aggregator" --config "$T/aggregator.conf" 2> "$T/aggregator.log" &
agg=$!
pids+=("$agg")
sleep 0.5
kill -0 "$agg" 2>/dev/null || fail "aggregator did not start"
spids=()
for s in $(seq 1 $STORES); do
  timeout 200 "$BIN/fedrec-client" run --store "$T/st$s" --heartbeat_ms 300 \
    --until-done \
    2> "$T/store$s.log" &
  spids+=("$!")
  pids+=("$!")
done
for i in "${!spids[@]}"; do
  wait "${spids[$i]}" || fail "store $((i + 1)) exited $?"
done
wait "$agg" || fail "aggregator exited $?"

grep -q "round 1 completed" "$T/aggregator.log" ||
  fail "no completed round"
for s in $(seq 1 $STORES); do
  cmp -s "$T/catalogue" "$T/st$s/catalogue" ||
    fail "store $s catalogue differs from the aggregator's"
  grep -q "catalogue_fetched\|fetched from the aggregator" "$T/store$s.log" ||
    fail "store $s did not log the fetch"
  # with the catalogue: exactly the NEW-* rows are outside; nothing written
  before=$(sha256sum "$T/st$s/vault.sealed" "$T/st$s/audit.log")
  "$BIN/fedrec-client" import --store "$T/st$s" --dry-run "$T/export-$s.csv" \
    > "$T/dry$s.log" 2>&1 || fail "dry run store $s"
  want=$(cat "$T/new-$s.txt")
  grep -q "^rows_outside_catalogue: $want$" "$T/dry$s.log" ||
    fail "store $s: want $want outside: $(cat "$T/dry$s.log")"
  grep -q "^dry run: nothing written" "$T/dry$s.log" || fail "dry run header"
  [ "$before" = "$(sha256sum "$T/st$s/vault.sealed" "$T/st$s/audit.log")" ] ||
    fail "dry run changed store $s"
done
# The round was secure and had all four stores.
grep -Eq "round 1 completed .*: $STORES/$STORES stores" "$T/aggregator.log" ||
  fail "round summary: $(grep 'round 1' "$T/aggregator.log")"
grep -Eq "started securely: $STORES stores" "$T/aggregator.log" ||
  fail "the round was not secure"
grep -Eq "secure sum of $STORES stores decoded" "$T/aggregator.log" ||
  fail "no secure sum of $STORES stores"

# The model in the state directory belongs to its catalogue: a restart
# under another catalogue (the same SKUs in another order) is refused.
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
lines = open(f"{t}/products.csv").read().splitlines()
open(f"{t}/products2.csv", "w").write("\n".join([lines[0]] + lines[:0:-1]) + "\n")
PY
"$BIN/fedrec-catalogue" build --master "$T/products2.csv" --out "$T/catalogue2" \
  >/dev/null 2>&1 || fail "second catalogue"
sed "s|^catalogue .*|catalogue $T/catalogue2|" "$T/aggregator.conf" > "$T/agg2.conf"
if timeout 20 "$BIN/fedrec-aggregator" --config "$T/agg2.conf" 2> "$T/agg2.log"; then
  fail "the aggregator started its old model under another catalogue"
fi
grep -q "trained under catalogue ${CAT_ID:0:16}" "$T/agg2.log" ||
  fail "refusal wording: $(tail -3 "$T/agg2.log")"

"$BIN/fedrec-client" recommend --store "$T/st1" --member 1000 --top 5 \
  > "$T/rec.txt" 2> "$T/rec.log" || fail "recommend: $(cat "$T/rec.log")"
head -1 "$T/rec.txt" | grep -q $'^rank\titem_id\tsku\tscore$' ||
  fail "recommend header: $(head -1 "$T/rec.txt")"
[ "$(wc -l < "$T/rec.txt")" = 6 ] || fail "recommend lines: $(cat "$T/rec.txt")"
python3 - "$T" <<'PY' || fail "recommended SKUs are not the catalogue's"
import sys
t = sys.argv[1]
cat = open(f"{t}/catalogue").read().split("\n")[1:]
for line in open(f"{t}/rec.txt").read().splitlines()[1:]:
    rank, idx, sku, score = line.split("\t")
    assert cat[int(idx)] == sku, line
PY
# segment by SKU: the members most likely to want a recommended SKU
sku=$(sed -n '2p' "$T/rec.txt" | cut -f3)
"$BIN/fedrec-client" segment --store "$T/st1" --sku "$sku" --top 3 \
  > "$T/seg.txt" 2> "$T/seg.log" || fail "segment --sku: $(cat "$T/seg.log")"
head -1 "$T/seg.txt" | grep -q $'^rank\tmember_pseudonym\tscore$' ||
  fail "segment header: $(head -1 "$T/seg.txt")"
[ "$(wc -l < "$T/seg.txt")" -ge 2 ] || fail "segment listed nobody"
if "$BIN/fedrec-client" segment --store "$T/st1" --sku NO-SUCH-SKU \
    > /dev/null 2> "$T/seg2.log"; then
  fail "segment accepted an unknown SKU"
fi
grep -q "SKU 'NO-SUCH-SKU' is not in the catalogue" "$T/seg2.log" ||
  fail "unknown SKU wording: $(cat "$T/seg2.log")"
echo "test_catalogue_federation: ok ($ITEMS items, $STORES stores, id ${CAT_ID:0:16})"
