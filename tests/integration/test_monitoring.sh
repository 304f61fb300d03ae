#!/usr/bin/env bash
# test_monitoring.sh - the aggregator's HTTP endpoint as its real users see
# it. A federation runs on loopback (the aggregator and four protected
# stores, built as scripts/demo.sh builds them); then
#  (a) a real Prometheus scrapes /metrics every second, and its query API
#      must show the target up and at least two completed rounds;
#  (b) the aggregator is paused (fedrec-ctl), so the figures hold still, and
#      headless Chromium loads the status page: the DOM must show the round
#      count, the paused state, the four connected stores and a chart point
#      per completed round; a screenshot is kept as a test artefact.
# Every process started here is stopped on exit, failure included.
# usage: test_monitoring.sh BIN_DIR ARTIFACT_DIR
# Exit 77 (skipped) when prometheus, chromium or curl is missing:
# `scripts/deps.sh test` installs them.
set -euo pipefail

BIN=${1:?usage: test_monitoring.sh BIN_DIR ARTIFACT_DIR}
ART=${2:?usage: test_monitoring.sh BIN_DIR ARTIFACT_DIR}
BIN=$(cd "$BIN" && pwd)
STORES=4
ITEMS=300
MEMBERS=${FR_MONITORING_MEMBERS:-600}
RECENT=60 # AGG_RECENT_ROUNDS: the chart shows at most this many rounds

for tool in prometheus chromium curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "test_monitoring: SKIP: $tool is not installed (scripts/deps.sh test)"
    exit 77
  fi
done

T=$(mktemp -d /tmp/fr-monitoring-XXXXXX)
mkdir -p "$ART" "$T"/{data,logs,stores}
rm -rf "$ART/monitoring-logs" # from an earlier failed run
pids=()

cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    rm -rf "$ART/monitoring-logs"
    cp -r "$T/logs" "$ART/monitoring-logs" 2>/dev/null || true
    echo "test_monitoring: logs kept in $ART/monitoring-logs" >&2
    tail -n 15 "$T"/logs/aggregator.log >&2 2>/dev/null || true
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "test_monitoring: FAIL: $*" >&2
  exit 1
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND until it
# succeeds, failing with DESCRIPTION after SECONDS.
wait_for() {
  local what=$1 secs=$2
  local end=$((SECONDS + secs))
  shift 2
  until "$@"; do
    [ $SECONDS -lt $end ] || fail "$what (waited ${secs}s)"
    sleep 0.5
  done
}

alive() { kill -0 "$1" 2>/dev/null; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- the federation ------------------------------------------------------

"$BIN/fedrec-keygen" --name aggregator --dir "$T/keys" >/dev/null 2>&1 ||
  fail "fedrec-keygen failed"
# A few hundred members a store: a secure round takes a fraction of a
# second, so rounds complete while Prometheus starts.
"$BIN/fedrec-datagen" --stores "$STORES" --seed 21 --members "$MEMBERS" \
  --items "$ITEMS" --interactions 20 --out "$T/data" >/dev/null ||
  fail "fedrec-datagen failed"
ZPORT=$((20000 + RANDOM % 20000))
while ! port_free "$ZPORT"; do ZPORT=$((ZPORT + 1)); done
ENDPOINT="tcp://127.0.0.1:$ZPORT"
: >"$T/allowlist"
for i in $(seq -f "%02g" 1 "$STORES"); do
  st="$T/stores/store$i"
  "$BIN/fedrec-client" init --store "$st" --name "store$i" --n_items "$ITEMS" \
    --connect "$ENDPOINT" --server_key "$T/keys/aggregator.pub" \
    2>/dev/null >>"$T/allowlist" || fail "fedrec-client init store$i failed"
  "$BIN/fedrec-client" import --store "$st" "$T/data/store-$i.csv" \
    >/dev/null || fail "fedrec-client import store$i failed"
  awk -F, 'NR > 1 && !seen[$1]++ { print $1 ",training,grant" }' \
    "$T/data/store-$i.csv" >"$T/data/consents-$i.csv"
  "$BIN/fedrec-client" consent import --store "$st" \
    "$T/data/consents-$i.csv" >/dev/null ||
    fail "fedrec-client consent import store$i failed"
done

# Far more rounds than the test needs, so the aggregator is still serving
# when the checks run: it is paused, then stopped with SIGTERM at the end.
cat >"$T/aggregator.conf" <<CONF
listen $ENDPOINT
key_file $T/keys/aggregator.key
allowlist $T/allowlist
state_dir $T/state
http_listen 127.0.0.1:0
n_items $ITEMS
dim 16
rounds 100000
min_stores $STORES
fraction 1.0
local_epochs 1
start_delay_ms 1000
heartbeat_timeout_ms 3000
round_timeout_ms 30000
stop_grace_ms 5000
CONF

"$BIN/fedrec-aggregator" --config "$T/aggregator.conf" \
  2>"$T/logs/aggregator.log" &
AGG=$!
pids+=("$AGG")
http_line() { grep -m1 "http listening on" "$T/logs/aggregator.log"; }
http_up() {
  alive "$AGG" || fail "the aggregator exited at start-up; see its log"
  http_line >/dev/null
}
wait_for "the aggregator never logged 'http listening on'" 20 http_up
HPORT=$(http_line | grep -o 'port=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$HPORT" ] || fail "no port in the aggregator's line: $(http_line)"
URL="http://127.0.0.1:$HPORT"
echo "aggregator: HTTP on $URL"

for i in $(seq -f "%02g" 1 "$STORES"); do
  "$BIN/fedrec-client" run --store "$T/stores/store$i" --heartbeat_ms 500 \
    2>"$T/logs/store$i.log" &
  pids+=("$!")
done

# The endpoint itself, before anything reads it.
ctype=$(curl -fsS -o /dev/null -w '%{content_type}' "$URL/metrics") ||
  fail "GET /metrics failed"
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] ||
  fail "/metrics Content-Type is '$ctype'"
healthy() { [ "$(curl -sS "$URL/healthz" 2>/dev/null)" = "ok" ]; }
wait_for "/healthz never answered ok" 10 healthy

# ---- (a) Prometheus --------------------------------------------------------

PPORT=$((ZPORT + 1))
while ! port_free "$PPORT"; do PPORT=$((PPORT + 1)); done
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fedrec
    static_configs:
      - targets: ['127.0.0.1:$HPORT']
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
  --web.listen-address="127.0.0.1:$PPORT" \
  >"$T/logs/prometheus.log" 2>&1 &
PROM=$!
pids+=("$PROM")
prom_ready() {
  alive "$PROM" || fail "prometheus exited; see its log"
  curl -fsS "http://127.0.0.1:$PPORT/-/ready" >/dev/null 2>&1
}
wait_for "prometheus never became ready" 30 prom_ready

# query PROMQL: prints the value of the first series of an instant query,
# or nothing.
query() {
  curl -fsS --get --data-urlencode "query=$1" \
    "http://127.0.0.1:$PPORT/api/v1/query" 2>/dev/null |
    sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}
at_least() { # PROMQL MIN
  local v
  alive "$AGG" || fail "the aggregator exited; see its log"
  v=$(query "$1")
  [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v + 0 >= m) }'
}
wait_for "Prometheus never saw 2 completed rounds" 60 \
  at_least 'fedrec_rounds_total{outcome="completed"}' 2
echo "prometheus: fedrec_rounds_total{outcome=\"completed\"} =" \
  "$(query 'fedrec_rounds_total{outcome="completed"}')"
[ "$(query 'up{job="fedrec"}')" = "1" ] ||
  fail "up{job=\"fedrec\"} is '$(query 'up{job="fedrec"}')', want 1"
# The histogram and the labelled families came through the parser too.
at_least 'fedrec_round_duration_seconds_count' 2 ||
  fail "fedrec_round_duration_seconds_count below 2"
[ "$(query 'fedrec_info{secagg="true"}')" = "1" ] ||
  fail "fedrec_info{secagg=\"true\"} missing"
[ "$(query 'fedrec_stores_connected')" = "$STORES" ] ||
  fail "fedrec_stores_connected is '$(query fedrec_stores_connected)'"

# ---- (b) paused, the status page in Chromium --------------------------------

"$BIN/fedrec-ctl" --config "$T/aggregator.conf" pause \
  >"$T/logs/ctl.log" 2>&1 || fail "fedrec-ctl pause failed: $(cat "$T/logs/ctl.log")"
paused() {
  alive "$AGG" || fail "the aggregator exited; see its log"
  curl -fsS "$URL/" 2>/dev/null | grep -q 'id="state">paused<'
}
wait_for "the status page never showed the paused state" 30 paused
wait_for "Prometheus never saw fedrec_paused 1" 15 at_least fedrec_paused 1

chrome() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync \
    --user-data-dir="$T/chrome" "$@" 2>>"$T/logs/chromium.log"
}
chrome --dump-dom "$URL/" >"$T/dom.html" || fail "chromium --dump-dom failed"
cp "$T/dom.html" "$ART/status-page.html"
dom_id() { # ID: the text of the element with that id
  sed -n "s/.*id=\"$1\">\([^<]*\)<.*/\1/p" "$T/dom.html" | head -1
}
completed=$(dom_id rounds-completed)
state=$(dom_id state)
connected=$(dom_id stores-connected)
echo "status page: state=$state completed=$completed connected=$connected"
[ -n "$completed" ] && [ "$completed" -ge 2 ] ||
  fail "status page shows '$completed' completed rounds, want >= 2"
[ "$state" = "paused" ] || fail "status page state is '$state', want paused"
[ "$completed" = "$(query fedrec_rounds_completed)" ] ||
  fail "status page shows $completed rounds, Prometheus" \
    "$(query fedrec_rounds_completed)"
[ "$connected" = "$STORES" ] ||
  fail "status page shows '$connected' connected stores, want $STORES"
for i in $(seq -f "%02g" 1 "$STORES"); do
  grep -q "<tr data-store=\"store$i\"><td>store$i</td><td class=\"yes\">yes<" \
    "$T/dom.html" || fail "status page does not list store$i as connected"
done
# One chart point and one bar per completed round (the most recent
# $RECENT), numbered up to the completed count.
shown=$((completed < RECENT ? completed : RECENT))
points=$(grep -o '<circle class="hr10" data-round="[0-9]*"' "$T/dom.html" |
  wc -l)
bars=$(grep -o '<rect class="secs" data-round="[0-9]*"' "$T/dom.html" | wc -l)
[ "$points" -eq "$shown" ] ||
  fail "chart has $points HR@10 points for $completed completed rounds"
[ "$bars" -eq "$shown" ] ||
  fail "chart has $bars duration bars for $completed completed rounds"
for r in $(seq $((completed - shown + 1)) "$completed"); do
  grep -q "<circle class=\"hr10\" data-round=\"$r\"" "$T/dom.html" ||
    fail "chart has no point for round $r"
done
grep -q 'id="secagg">on' "$T/dom.html" || fail "secure aggregation not shown on"
grep -q 'id="dp">no DP guarantee<' "$T/dom.html" || fail "DP line missing"
grep -q 'id="paused">yes' "$T/dom.html" || fail "paused not shown"

SHOT="$ART/status-page.png"
rm -f "$SHOT"
chrome --screenshot="$SHOT" --window-size=1280,1000 "$URL/" >/dev/null ||
  fail "chromium --screenshot failed"
[ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
  fail "no PNG screenshot at $SHOT"
echo "status page screenshot: $SHOT"

# ---- a clean stop ----------------------------------------------------------

kill -TERM "$AGG"
stopped() { ! alive "$AGG"; }
wait_for "the aggregator did not stop on SIGTERM" 20 stopped
rc=0
wait "$AGG" || rc=$?
pids=("${pids[@]:1}")
[ "$rc" -eq 0 ] || fail "the aggregator exited with $rc after SIGTERM"
echo "test_monitoring: ok"
