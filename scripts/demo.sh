#!/usr/bin/env bash
# A local federation on generated demo data: one aggregator and five store
# clients on loopback, ten rounds under secure aggregation, then the
# per-round quality next to a popularity baseline and the top-10 items for
# one member. Each store is a protected store (fedrec-client init) that
# imports a raw POS export as it is (InvoiceNo, StockCode, Description,
# Quantity, InvoiceDate, UnitPrice, CustomerID, Country: string SKUs,
# date-time text, returns, guest rows, "17850.0"-style ids) through the
# built-in online-retail profile; head office builds the item catalogue
# from its product master and the aggregator serves it. The members'
# consents: all demo members agree to training, about four in five to
# marketing.
# usage: scripts/demo.sh BIN_DIR   (make demo passes build/bin)
set -euo pipefail

BIN=${1:?usage: scripts/demo.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
STORES=${FR_DEMO_STORES:-5}
ROUNDS=${FR_DEMO_ROUNDS:-10}
ITEMS=500
RUN=${FR_DEMO_DIR:-demo-run}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${FR_DEMO_PORT:-7600}
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
ENDPOINT="tcp://127.0.0.1:$PORT"

rm -rf "$RUN"
mkdir -p "$RUN"/{data,logs,state}
chmod 700 "$RUN"

echo "== synthetic purchase data"
"$BIN/fedrec-datagen" --format raw --stores "$STORES" --seed 42 --items "$ITEMS" --out "$RUN/data"

echo "== the item catalogue, from head office's product master"
"$BIN/fedrec-catalogue" build --master "$RUN/data/products.csv" --out "$RUN/catalogue" |
  sed -n 's/^\(items written\|id\): /   \1: /p'

echo "== aggregator key, and $STORES protected stores (keys, data key, sealed state)"
"$BIN/fedrec-keygen" --name aggregator --dir "$RUN/keys" >/dev/null 2>&1
: > "$RUN/allowlist"
for i in $(seq -f "%02g" 1 "$STORES"); do
  st="$RUN/stores/store$i"
  mkdir -p "$RUN/stores"
  "$BIN/fedrec-client" init --store "$st" --name "store$i" --n_items "$ITEMS" \
    --connect "$ENDPOINT" --server_key "$RUN/keys/aggregator.pub" \
    2>/dev/null >> "$RUN/allowlist"
  cp "$RUN/catalogue" "$st/catalogue" # as head office hands it out
  "$BIN/fedrec-client" import --store "$st" --profile online-retail \
    "$RUN/data/store-$i.csv" > "$RUN/logs/import$i.txt"
  # Consent records as the store's sign-up desk would export them (the
  # CustomerID column; guests have none).
  python3 - "$RUN/data/store-$i.csv" > "$RUN/data/consents-$i.csv" <<'PY'
import csv, sys
seen = set()
for n, row in enumerate(csv.DictReader(open(sys.argv[1], newline=""))):
    cid = row["CustomerID"].strip()
    if not cid or cid.split(".")[0] in seen:
        continue
    seen.add(cid.split(".")[0])
    print(f"{cid},training,grant")
    if len(seen) % 5:
        print(f"{cid},marketing,grant")
PY
  "$BIN/fedrec-client" consent import --store "$st" "$RUN/data/consents-$i.csv" >/dev/null
done
echo "== store01's import summary (the raw export, every row's outcome)"
grep -E "^(discarded column|rows read|kept|guest|non-product|zero|rows with|member ids seen|imported|pairs_fully|rows_outside)" \
  "$RUN/logs/import01.txt" | sed 's/^/   /'

cat > "$RUN/aggregator.conf" <<CONF
listen $ENDPOINT
key_file $RUN/keys/aggregator.key
allowlist $RUN/allowlist
state_dir $RUN/state/aggregator
catalogue $RUN/catalogue
n_items $ITEMS
dim 32
rounds $ROUNDS
min_stores 4
fraction 1.0
start_delay_ms 1500
heartbeat_timeout_ms 3000
round_timeout_ms 30000
http_listen 127.0.0.1:0
log_format json
CONF

echo "== starting the aggregator on $ENDPOINT and $STORES store clients"
"$BIN/fedrec-aggregator" --config "$RUN/aggregator.conf" 2> "$RUN/logs/aggregator.log" &
agg=$!
pids+=("$agg")
for i in $(seq -f "%02g" 1 "$STORES"); do
  "$BIN/fedrec-client" run --store "$RUN/stores/store$i" --heartbeat_ms 500 \
    2> "$RUN/logs/store$i.log" &
  pids+=("$!")
done

# Once round 3 is in, what an operator sees (fedrec-ctl and the HTTP page).
shown=0
deadline=$((SECONDS + 110))
while kill -0 "$agg" 2>/dev/null; do
  if [ $shown -eq 0 ] && grep -q '"round 3 completed' "$RUN/logs/aggregator.log"; then
    shown=1
    port=$(sed -n 's/.*http listening on .* (port=\([0-9]*\)).*/\1/p' "$RUN/logs/aggregator.log" | head -1)
    echo
    echo "== fedrec-ctl status (status page: http://127.0.0.1:$port/, metrics: /metrics)"
    "$BIN/fedrec-ctl" --config "$RUN/aggregator.conf" status || true
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "demo: the aggregator did not finish in time; see $RUN/logs" >&2
    exit 1
  fi
  sleep 0.2
done
wait "$agg" || { echo "demo: the aggregator failed; see $RUN/logs/aggregator.log" >&2; exit 1; }
pids=("${pids[@]:1}")
cleanup
pids=()

echo
echo "== per-round quality (weighted over stores; leave-one-out, 99 sampled negatives)"
awk -F'\t' 'NR == 1 { printf "%5s %6s %9s %8s %9s %12s %14s %8s\n", "round", "stores", "examples", "HR@10", "NDCG@10", "pop HR@10", "pop NDCG@10", "seconds"; next }
            { printf "%5d %6d %9d %8.4f %9.4f %12.4f %14.4f %8.2f\n", $1, $3, $4, $5, $6, $7, $8, $10 }' \
  "$RUN/state/aggregator/history.tsv"

member=$(awk -F, '$2 == "marketing" { print $1; exit }' "$RUN/data/consents-01.csv")
echo
echo "== top-10 recommendations for member $member of store01 (items not yet bought)"
"$BIN/fedrec-client" recommend --store "$RUN/stores/store01" --member "$member" --top 10 2>/dev/null
echo
echo "== the store's audit trail"
"$BIN/fedrec-client" audit verify --store "$RUN/stores/store01"
echo
echo "demo finished; logs and state are in $RUN/"
