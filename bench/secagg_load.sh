#!/usr/bin/env bash
# A real secure round at scale: one fedrec-aggregator and FR_LOAD_STORES
# (default 1,000) simulated stores over ZeroMQ CURVE on loopback, a model of
# n_items * (dim + 1) ~ 100,000 parameters, and 10 % of the stores falling
# silent right after sending their shares (the costly dropout: their mask
# keys are rebuilt and their pairwise masks removed). The stores are
# fedrec-simstores processes (no training; synthetic updates), each holding
# FR_LOAD_STORES / FR_LOAD_PROCS connections with their own keys.
#
# Prints the stores in the round, how many dropped, the round time (the
# aggregator's own "round 1 completed ... S s": from choosing the stores to
# the decoded sum), a per-phase timeline from the aggregator's log, the
# aggregator's peak RSS (its exit log line; VmHWM sampled every 0.1 s as a
# cross-check, and when the largest sample was taken) and CPU time, and
# each simulator process's counters, peak RSS and CPU time. The simulators
# share the machine with the aggregator, so on a small machine the masked
# input phase measures their ChaCha20 work as much as the aggregator's.
#
# usage: bench/secagg_load.sh BIN_DIR   (make bench-secagg-load passes build/bin)
# Environment: FR_LOAD_STORES (1000), FR_LOAD_PROCS (4), FR_LOAD_DROP (0.1),
#   FR_LOAD_ITEMS (3125), FR_LOAD_DIM (31), FR_LOAD_ROUNDS (1),
#   FR_LOAD_HEARTBEAT_TIMEOUT_MS (10000: how long a silent store takes to
#   count as gone), FR_LOAD_TIMEOUT_S (900), FR_LOAD_PORT (7700),
#   FR_LOAD_DIR (run directory; default a fresh one under /tmp, removed at
#   the end unless FR_LOAD_KEEP=1).
set -euo pipefail

BIN=${1:?usage: bench/secagg_load.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
STORES=${FR_LOAD_STORES:-1000}
PROCS=${FR_LOAD_PROCS:-4}
DROP=${FR_LOAD_DROP:-0.1}
ITEMS=${FR_LOAD_ITEMS:-3125}
DIM=${FR_LOAD_DIM:-31}
ROUNDS=${FR_LOAD_ROUNDS:-1}
HB_TIMEOUT=${FR_LOAD_HEARTBEAT_TIMEOUT_MS:-10000}
TIMEOUT_S=${FR_LOAD_TIMEOUT_S:-900}
KEEP=${FR_LOAD_KEEP:-0}
MIN_STORES=$((STORES * 8 / 10))
WIDTH=${#STORES}

if [ -n "${FR_LOAD_DIR:-}" ]; then
  RUN=$FR_LOAD_DIR
  rm -rf "$RUN"
  mkdir -p "$RUN"
else
  RUN=$(mktemp -d /tmp/fr-secagg-load.XXXXXX)
fi
chmod 700 "$RUN"
mkdir -p "$RUN"/{keys,logs,state}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then echo "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT INT TERM

# One descriptor per store connection on the aggregator, plus ZeroMQ's own.
need=$((STORES + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "secagg_load: ulimit -n is $(ulimit -n), $need needed" >&2; exit 1; }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${FR_LOAD_PORT:-7700}
while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
ENDPOINT="tcp://127.0.0.1:$PORT"

echo "== keys: aggregator and $STORES stores"
t0=$SECONDS
"$BIN/fedrec-keygen" --name aggregator --dir "$RUN/keys" >/dev/null 2>&1
names=()
for i in $(seq 1 "$STORES"); do names+=("$(printf "store%0${WIDTH}d" "$i")"); done
printf '%s\n' "${names[@]}" |
  xargs -P "$(nproc)" -I{} sh -c \
    '"$1" --name "$2" --dir "$3" > "$3/$2.line" 2>/dev/null' _ \
    "$BIN/fedrec-keygen" {} "$RUN/keys"
for n in "${names[@]}"; do cat "$RUN/keys/$n.line"; done > "$RUN/allowlist"
echo "   $(wc -l < "$RUN/allowlist") allow-list lines in $((SECONDS - t0)) s"

cat > "$RUN/aggregator.conf" <<CONF
listen $ENDPOINT
key_file $RUN/keys/aggregator.key
allowlist $RUN/allowlist
state_dir $RUN/state
log_level info
log_format human
n_items $ITEMS
dim $DIM
rounds $ROUNDS
min_stores $MIN_STORES
max_stores $((STORES > 1024 ? STORES : 1024))
fraction 1.0
start_delay_ms 5000
heartbeat_timeout_ms $HB_TIMEOUT
round_timeout_ms 600000
secagg_phase_timeout_ms 120000
retry_delay_ms 2000
CONF

params=$((ITEMS * (DIM + 1)))
echo "== aggregator on $ENDPOINT: model $ITEMS x $DIM + biases = $params parameters, min_stores $MIN_STORES"
"$BIN/fedrec-aggregator" --config "$RUN/aggregator.conf" 2> "$RUN/logs/aggregator.log" &
agg=$!
pids+=("$agg")
for _ in $(seq 50); do
  grep -q "listening on" "$RUN/logs/aggregator.log" 2>/dev/null && break
  sleep 0.1
done

echo "== $PROCS fedrec-simstores processes, $STORES stores, drop $DROP after the shares"
per=$(( (STORES + PROCS - 1) / PROCS ))
first=1
p=0
while [ "$first" -le "$STORES" ]; do
  count=$(( STORES - first + 1 < per ? STORES - first + 1 : per ))
  "$BIN/fedrec-simstores" --connect "$ENDPOINT" --server_key "$RUN/keys/aggregator.pub" \
    --key_dir "$RUN/keys" --first "$first" --count "$count" --width "$WIDTH" \
    --drop "$DROP" --rounds "$ROUNDS" --seed $((p + 1)) \
    2> "$RUN/logs/sim$p.log" &
  pids+=("$!")
  first=$((first + count))
  p=$((p + 1))
done

hwm=0
ticks=0
deadline=$((SECONDS + TIMEOUT_S))
while kill -0 "$agg" 2>/dev/null; do
  if [ $SECONDS -ge "$deadline" ]; then
    echo "secagg_load: no result after $TIMEOUT_S s; logs in $RUN/logs" >&2
    KEEP=1
    exit 1
  fi
  read -r v rss < <(awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { print h + 0, r + 0 }' \
                     "/proc/$agg/status" 2>/dev/null || echo 0 0)
  [ "$v" -gt "$hwm" ] && hwm=$v
  # utime + stime in clock ticks (fields 14 and 15; the name in field 2
  # has no spaces here)
  ticks=$(awk '{ print $14 + $15 }' "/proc/$agg/stat" 2>/dev/null || echo "$ticks")
  echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3N) $rss" >> "$RUN/logs/aggregator.rss"
  sleep 0.1
done
if ! wait "$agg"; then
  echo "secagg_load: the aggregator failed; see $RUN/logs/aggregator.log" >&2
  KEEP=1
  exit 1
fi
pids=("${pids[@]:1}")
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

log=$RUN/logs/aggregator.log
if ! grep -q "round 1 completed" "$log"; then
  echo "secagg_load: no round completed; see $log" >&2
  KEEP=1
  exit 1
fi

echo
echo "== result"
awk -v stores="$STORES" '
  function t(ts,   x) {  # seconds since midnight UTC, ms resolution
    x = substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + substr(ts, 18, 6)
    if (start && x < start - 43200) x += 86400  # the run passed midnight
    return x
  }
  r { next }  # the first completed round only
  / sending the round start to / {  # a (re)started round: begin afresh
    start = 0; start = t($1); np = 0; drops = ""; dropped = 0
  }
  / started securely: / {
    sent = t($1)
    for (i = 1; i <= NF; i++) {
      if ($i == "securely:") n = $(i + 1)
      if ($i == "neighbours") k = $(i - 1)
      if ($i == "threshold") th = $(i + 1) + 0
    }
  }
  / abandoned \(/ {
    why = $0; sub(/.*abandoned \(/, "", why); sub(/\).*/, "", why)
    abandoned++; whys = whys sprintf("%s%s", whys ? "; " : "", why)
  }
  / aborted after the / {
    why = $0; sub(/.*aborted after the /, "after the ", why)
    whys = whys sprintf("%s%s", whys ? "; " : "", why)
  }
  / dropped in the / {
    for (i = 1; i <= NF; i++) if ($i == "store(s)") d = $(i - 1)
    ph = $0; sub(/.* dropped in the /, "", ph); sub(/ phase$/, "", ph)
    drops = drops sprintf("%s%d in the %s phase", drops ? ", " : "", d, ph)
    dropped += d
  }
  / phase open, waiting for / {
    np++; pt[np] = t($1)
    ph = $0; sub(/.*round id [0-9]+: /, "", ph); sub(/ phase open.*/, "", ph); pname[np] = ph
    w = $0; sub(/.*waiting for /, "", w); sub(/ store.*/, "", w); pw[np] = w
  }
  / secure sum of / {
    decoded = t($1)
    inputs = $0; sub(/.*secure sum of /, "", inputs); sub(/ stores.*/, "", inputs)
    eb = $0; sub(/.*error bound /, "", eb); sub(/ per coordinate.*/, "", eb)
  }
  / round 1 completed / {
    r = 1; done = t($1)
    secs = $0
    if (secs ~ /seconds=/) { sub(/.*seconds=/, "", secs); sub(/ .*/, "", secs) }
    else { sub(/ s$/, "", secs); sub(/.* /, "", secs) }
  }
  END {
    printf "stores simulated            %d\n", stores
    printf "stores in the round         %d (%s neighbours each, threshold %d)\n", n, k, th
    printf "dropped                     %d (%s)\n", dropped, drops ? drops : "none"
    printf "inputs in the secure sum    %d (error bound %s per coordinate of the mean)\n", inputs, eb
    printf "round time                  %.2f s (aggregator: choosing the stores to the decoded sum)\n", secs
    if (abandoned)
      printf "attempts abandoned before   %d (%s); figures below are of the attempt that completed\n", abandoned, whys
    printf "\ntimeline of round 1 (s after the aggregator began sending the round start)\n"
    printf "  %7.2f  round start queued for all %d stores; advertise keys phase open\n", sent - start, n
    for (i = 1; i <= np; i++)
      printf "  %7.2f  %s phase open, waiting for %d stores\n", pt[i] - start, pname[i], pw[i]
    printf "  %7.2f  masks removed, secure sum decoded\n", decoded - start
    printf "  %7.2f  round completed: model updated, checkpoint written, round end queued\n", done - start
  }' "$log"
echo "aggregator peak RSS         $(grep -ho "peak RSS .*" "$log" | tail -n 1 | cut -c10-) (VmHWM sampled while it ran: $((hwm / 1024)) MiB)"
echo "aggregator CPU time         $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f s (all threads, to its last sample)", t / hz }')"
# Where the resident set peaked, from the samples taken every 0.1 s.
awk -v start="$(grep -h "sending the round start to" "$log" | head -n 1 | cut -c1-23)" '
  function t(ts) { return substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + substr(ts, 18, 6) }
  $2 > m { m = $2; at = $1 }
  END { if (m) printf "largest sampled VmRSS       %.1f MiB at %.2f s on the timeline\n", m / 1024, t(at) - t(start) }
' "$RUN/logs/aggregator.rss"

# When the live stores' last masked inputs went out, against the masked
# phase closing (which waits for the silent stores' heartbeats to lapse).
rid=$(sed -n 's/.*round 1 completed (id \([0-9]*\),.*/\1/p' "$log" | head -n 1)
last_mask=$(grep -h "round id $rid: all .* masked inputs of this process sent" "$RUN"/logs/sim*.log | sort | tail -n 1 | cut -c1-23)
masked_open=$(grep -h "round id $rid: masked input phase open" "$log" | head -n 1 | cut -c1-23)
sig_open=$(grep -h "round id $rid: consistency check phase open" "$log" | head -n 1 | cut -c1-23)
if [ -n "$last_mask" ] && [ -n "$sig_open" ]; then
  awk -v a="$masked_open" -v b="$last_mask" -v c="$sig_open" -v hb="$HB_TIMEOUT" '
    function t(ts) { return substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + substr(ts, 18, 6) }
    BEGIN {
      printf "\nmasked input phase: the last live input went out %.2f s after it opened;\n", t(b) - t(a)
      printf "it closed %.2f s later, once the silent stores had missed heartbeat_timeout_ms (%d ms)\n", t(c) - t(b), hb
    }'
fi
echo
echo "simulated store processes:"
grep -h "simstores: .* stores: \|simstores: peak RSS" "$RUN"/logs/sim*.log | sed 's/^[^ ]* [^ ]* [^ ]* /  /'
