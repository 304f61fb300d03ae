#!/usr/bin/env bash
# Secure rounds through regions at scale, next to one flat aggregator.
#
# For each size N in FR_REG_SIZES (default 1000 5000 10000): one central
# fedrec-aggregator, FR_REG_REGIONS (10) regional fedrec-aggregator
# processes (mode regional) under it, and N / regions simulated stores
# under each region (fedrec-simstores: real ZeroMQ CURVE connections with
# their own keys, synthetic updates, no training), all on loopback. The
# model has n_items * (dim + 1) ~ 100,000 parameters, as in
# bench/secagg_load.sh. For each size in FR_REG_FLAT_SIZES (default 1000
# 5000) the same round runs with one flat aggregator and all its stores
# (bench/secagg_load.sh).
#
# Per size it prints the round time (the central's "round 1 completed ...
# seconds=": from choosing the regions to the decoded total), the central's
# phase timeline, each region's own round (from the central's round start
# to its sum going up) and phases, the bytes per store and per region (the
# aggregators' /metrics counters over the whole run: HELLOs, round
# messages, masked inputs), the peak RSS (VmHWM) and CPU seconds of every
# aggregator, and the simulators' CPU seconds. A summary table at the end
# sets each size against the flat aggregator at 1,000 stores (the goal:
# 10,000 stores through regions within 2x of it, every regional aggregator
# under 512 MiB).
#
# Everything shares the machine: on a 2-core host the regions' rounds and
# the simulators' mask expansion run one after another in effect, so the
# round time there measures the total CPU work more than the design's
# parallelism; the CPU seconds printed say where it went.
#
# usage: bench/regions.sh BIN_DIR   (make bench-regions passes build/bin)
# Environment: FR_REG_SIZES ("1000 5000 10000"), FR_REG_REGIONS (10),
#   FR_REG_FLAT_SIZES ("1000 5000"; "" for none), FR_REG_ITEMS (3125),
#   FR_REG_DIM (31), FR_REG_DROP (0: fraction of stores silent after their
#   shares), FR_REG_HEARTBEAT_TIMEOUT_MS (30000: how long a silent store
#   takes to count as gone, on every aggregator), FR_REG_TIMEOUT_S (1800 per size), FR_REG_PORT (7800),
#   FR_REG_DIR (run directory; default a fresh one under /tmp, removed at
#   the end unless FR_REG_KEEP=1), FR_REG_KEYS (a directory that keeps the
#   key pairs between runs: only missing ones are made; default inside the
#   run directory).
set -euo pipefail

BIN=${1:?usage: bench/regions.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SIZES=${FR_REG_SIZES:-1000 5000 10000}
REGIONS=${FR_REG_REGIONS:-10}
FLAT_SIZES=${FR_REG_FLAT_SIZES-1000 5000}
ITEMS=${FR_REG_ITEMS:-3125}
DIM=${FR_REG_DIM:-31}
DROP=${FR_REG_DROP:-0}
TIMEOUT_S=${FR_REG_TIMEOUT_S:-1800}
KEEP=${FR_REG_KEEP:-0}
PORT=${FR_REG_PORT:-7800}
HB_TIMEOUT=${FR_REG_HEARTBEAT_TIMEOUT_MS:-30000}
HZ=$(getconf CLK_TCK)

max=0
for n in $SIZES; do
  if [ "$REGIONS" -lt 3 ] || [ $((n % REGIONS)) -ne 0 ] || [ $((n / REGIONS)) -lt 5 ]; then
    echo "regions: size $n does not split into $REGIONS regions (3 or more) of 5 or more stores" >&2
    exit 2
  fi
  [ "$n" -gt "$max" ] && max=$n
done
WIDTH=${#max}

if [ -n "${FR_REG_DIR:-}" ]; then
  RUN=$FR_REG_DIR
  rm -rf "$RUN"
  mkdir -p "$RUN"
else
  RUN=$(mktemp -d /tmp/fr-regions.XXXXXX)
fi
chmod 700 "$RUN"
KEYS=${FR_REG_KEYS:-$RUN/keys}
mkdir -p "$KEYS"
chmod 700 "$KEYS"

pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  if [ "$KEEP" = 1 ]; then echo "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT INT TERM

# Every store connection is a descriptor on its regional aggregator and
# on its simulator; one shell's limit covers them all.
need=$((max + 4096))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "regions: ulimit -n is $(ulimit -n), $need needed" >&2; exit 1; }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port() {
  PORT=$((PORT + 1))
  while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
}

# ---- keys: the stores' (shared by every size), the central's, the regions'
echo "== keys: $max stores, the central and $REGIONS regions"
t0=$SECONDS
names=()
for i in $(seq 1 "$max"); do names+=("$(printf "store%0${WIDTH}d" "$i")"); done
names+=(central aggregator)
for r in $(seq 1 "$REGIONS"); do names+=("region$r"); done
for n in "${names[@]}"; do [ -s "$KEYS/$n.line" ] || echo "$n"; done |
  xargs -P "$(nproc)" -I{} sh -c \
    '"$1" --name "$2" --dir "$3" > "$3/$2.line" 2>/dev/null' _ \
    "$BIN/fedrec-keygen" {} "$KEYS"
echo "   $(ls "$KEYS"/*.line | wc -l) key pairs ready in $((SECONDS - t0)) s"

# /metrics counter of an aggregator's HTTP port (0 when absent).
metric() {
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v m="$2" '$1 == m { v = $2 } END { printf "%.0f\n", v + 0 }'
}
http_port() {
  sed -n 's/.*http listening on .*(port=\([0-9]*\)).*/\1/p' "$1" | head -n 1
}
# "VMHWM_KIB CPU_SECONDS" of a live process.
usage_of() {
  local hwm ticks
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
  ticks=$(awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0)
  awk -v h="${hwm:-0}" -v t="${ticks:-0}" -v hz="$HZ" 'BEGIN { printf "%d %.1f\n", h, t / hz }'
}
# Children's CPU seconds of a finished process are not in /proc; the
# simulators are sampled as they run.
wait_for() {  # FILE PATTERN COUNT SECONDS
  local end=$((SECONDS + $4))
  while [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -lt "$3" ]; do
    [ $SECONDS -ge "$end" ] && return 1
    sleep 0.2
  done
}

# The central's timeline of round 1, from its log (as bench/secagg_load.sh).
timeline() {
  awk '
    function t(ts,   x) {
      x = substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + substr(ts, 18, 6)
      if (start && x < start - 43200) x += 86400
      return x
    }
    r { next }
    / sending the round start to / { start = 0; start = t($1); np = 0 }
    / participants cover / {
      cov = $0; sub(/.*round id [0-9]+: /, "", cov); sub(/ stores.*/, " stores", cov)
    }
    / phase open, waiting for / {
      np++; pt[np] = t($1)
      ph = $0; sub(/.*round id [0-9]+: /, "", ph); sub(/ phase open.*/, "", ph); pname[np] = ph
    }
    / secure sum of / { decoded = t($1) }
    / round 1 completed / { r = 1; done = t($1) }
    END {
      printf "   central timeline (s after its round start; %s)\n", cov
      for (i = 1; i <= np; i++) printf "     %7.2f  %s phase open\n", pt[i] - start, pname[i]
      printf "     %7.2f  total decoded\n     %7.2f  round completed\n", decoded - start, done - start
    }' "$1"
}

# A region's own round for central round id RID: seconds from the central's
# round start reaching it to its sum going up, and when its phases opened.
region_round() {  # LOG RID
  awk -v rid="$2" '
    function t(ts) { return substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + substr(ts, 18, 6) }
    index($0, "round id " rid " from the central") { start = t($1) }
    start && index($0, "round id " rid ": ") && / phase open, waiting for / {
      ph = $0; sub(/.*round id [0-9]+: /, "", ph); sub(/ phase open.*/, "", ph)
      line = line sprintf(" %s %.1f", ph, t($1) - start)
    }
    start && / went to the central / && !up { up = t($1) }
    END { printf "%.2f |%s\n", up ? up - start : -1, line }' "$1"
}

summary=()
flat1k=""

# ---- flat: one aggregator -------------------------------------------------
for n in $FLAT_SIZES; do
  echo
  echo "== flat: one aggregator, $n stores"
  out=$RUN/flat-$n.txt
  if ! FR_LOAD_STORES=$n FR_LOAD_PROCS=$(((n + 999) / 1000 > 4 ? (n + 999) / 1000 : 4)) FR_LOAD_DROP=$DROP \
       FR_LOAD_ITEMS=$ITEMS FR_LOAD_DIM=$DIM FR_LOAD_PORT=$PORT \
       FR_LOAD_TIMEOUT_S=$TIMEOUT_S FR_LOAD_KEEP=$KEEP \
       "$HERE/secagg_load.sh" "$BIN" > "$out" 2>&1; then
    sed 's/^/   /' "$out" | tail -n 20
    summary+=("$(printf "%-6s %6d %8s %9s %12s %s" flat "$n" "-" "failed" "-" "see above")")
    continue
  fi
  sed -n '/^== result/,$p' "$out" | sed '1d; s/^/   /'
  secs=$(sed -n 's/^round time *\([0-9.]*\) s.*/\1/p' "$out")
  rss=$(sed -n 's/.*VmHWM sampled while it ran: \([0-9]*\) MiB.*/\1/p' "$out")
  [ "$n" = 1000 ] && flat1k=$secs
  summary+=("$(printf "%-6s %6d %8s %9.2f %12s %s" flat "$n" 1 "$secs" "-" "${rss} MiB")")
done

# ---- regions ------------------------------------------------------------------
for n in $SIZES; do
  per=$((n / REGIONS))
  dir=$RUN/n$n
  rm -rf "$dir"
  mkdir -p "$dir"
  echo
  echo "== regions: $n stores, $REGIONS regions of $per"
  next_port
  central_ep="tcp://127.0.0.1:$PORT"
  for r in $(seq 1 "$REGIONS"); do cat "$KEYS/region$r.line"; done > "$dir/central.allowlist"
  cat > "$dir/central.conf" <<CONF
listen $central_ep
key_file $KEYS/central.key
allowlist $dir/central.allowlist
state_dir $dir/central
http_listen 127.0.0.1:0
log_level info
log_format human
n_items $ITEMS
dim $DIM
rounds 1
linger_ms 600000
min_stores $((REGIONS * 8 / 10 > 3 ? REGIONS * 8 / 10 : 3))
fraction 1.0
start_delay_ms 3000
heartbeat_timeout_ms $HB_TIMEOUT
round_timeout_ms $((TIMEOUT_S * 1000))
secagg_phase_timeout_ms $((TIMEOUT_S * 1000))
retry_delay_ms 2000
CONF
  mkdir -p "$dir/central"
  sims=()
  regs=()
  for r in $(seq 1 "$REGIONS"); do
    rd=$dir/region$r
    mkdir -p "$rd/state"
    first=$(((r - 1) * per + 1))
    for i in $(seq "$first" $((first + per - 1))); do
      cat "$KEYS/$(printf "store%0${WIDTH}d" "$i").line"
    done > "$rd/allowlist"
    next_port
    cat > "$rd/regional.conf" <<CONF
mode regional
upstream $central_ep
upstream_server_key $KEYS/central.pub
upstream_key_file $KEYS/region$r.key
upstream_heartbeat_ms 1000
upstream_reconnect_max_ms 1000
listen tcp://127.0.0.1:$PORT
key_file $KEYS/aggregator.key
allowlist $rd/allowlist
state_dir $rd/state
http_listen 127.0.0.1:0
log_level info
log_format human
min_stores $((per * 8 / 10))
max_stores $((per > 1024 ? per : 1024))
fraction 1.0
heartbeat_timeout_ms $HB_TIMEOUT
secagg_phase_timeout_ms $((TIMEOUT_S * 1000))
CONF
    "$BIN/fedrec-aggregator" --config "$rd/regional.conf" 2> "$rd/regional.log" &
    regs+=("$!")
    pids+=("$!")
    procs=$(((per + 999) / 1000))
    each=$(((per + procs - 1) / procs))
    s=$first
    p=0
    while [ "$s" -lt $((first + per)) ]; do
      c=$((first + per - s < each ? first + per - s : each))
      "$BIN/fedrec-simstores" --connect "tcp://127.0.0.1:$PORT" \
        --server_key "$KEYS/aggregator.pub" --key_dir "$KEYS" \
        --first "$s" --count "$c" --width "$WIDTH" --drop "$DROP" \
        --seed $((r * 100 + p)) --heartbeat_ms 2000 \
        2> "$rd/sim$p.log" &
      sims+=("$!")
      pids+=("$!")
      s=$((s + c))
      p=$((p + 1))
    done
  done
  # Every region's stores connected (their HELLOs in its /metrics) before
  # the central starts, so its first round finds whole regions.
  t0=$SECONDS
  for r in $(seq 1 "$REGIONS"); do
    rd=$dir/region$r
    wait_for "$rd/regional.log" "http listening on" 1 60 || {
      echo "regions: region$r did not start; see $rd/regional.log" >&2; KEEP=1; exit 1; }
    hp=$(http_port "$rd/regional.log")
    while [ "$(metric "$hp" fedrec_stores_connected)" -lt "$per" ]; do
      if [ $((SECONDS - t0)) -gt 600 ]; then
        echo "regions: region$r has $(metric "$hp" fedrec_stores_connected) of $per stores after 600 s" >&2
        KEEP=1; exit 1
      fi
      sleep 1
    done
  done
  echo "   $n stores connected to their regions in $((SECONDS - t0)) s"
  "$BIN/fedrec-aggregator" --config "$dir/central.conf" 2> "$dir/central.log" &
  central=$!
  pids+=("$central")
  if ! wait_for "$dir/central.log" "round 1 completed" 1 "$TIMEOUT_S"; then
    echo "regions: no round completed in $TIMEOUT_S s; logs in $dir" >&2
    KEEP=1
    exit 1
  fi
  # The central lingers after its one round (linger_ms), so every
  # counter is read with nothing more in flight.
  sleep 2
  rid=$(sed -n 's/.*round 1 completed (id \([0-9]*\),.*/\1/p' "$dir/central.log" | head -n 1)
  secs=$(sed -n 's/.*round 1 completed .*seconds=\([0-9.]*\).*/\1/p' "$dir/central.log" | head -n 1)
  chp=$(http_port "$dir/central.log")
  c_in=$(metric "$chp" fedrec_received_bytes_total)
  c_out=$(metric "$chp" fedrec_sent_bytes_total)
  read -r c_hwm c_cpu < <(usage_of "$central")
  r_in=0; r_out=0; r_hwm_max=0; r_cpu=0; r_lines=()
  for r in $(seq 1 "$REGIONS"); do
    rd=$dir/region$r
    hp=$(http_port "$rd/regional.log")
    i=$(metric "$hp" fedrec_received_bytes_total)
    o=$(metric "$hp" fedrec_sent_bytes_total)
    r_in=$((r_in + i)); r_out=$((r_out + o))
    read -r h c < <(usage_of "${regs[$((r - 1))]}")
    [ "$h" -gt "$r_hwm_max" ] && r_hwm_max=$h
    r_cpu=$(awk -v a="$r_cpu" -v b="$c" 'BEGIN { print a + b }')
    r_lines+=("$(printf "     region%-3d %6.1f MiB %7.1f s CPU  round %s" "$r" \
                 "$(awk -v h="$h" 'BEGIN { print h / 1024 }')" "$c" \
                 "$(region_round "$rd/regional.log" "$rid")")")
  done
  s_cpu=0
  for p in "${sims[@]}"; do
    read -r _ c < <(usage_of "$p")
    s_cpu=$(awk -v a="$s_cpu" -v b="$c" 'BEGIN { print a + b }')
  done
  grep -h " participants cover \| round 1 completed " "$dir/central.log" | sed 's/^[^ ]* [^ ]* [^ ]* /   /' | head -n 3
  echo "   round time                 $secs s (central: choosing the regions to the decoded total)"
  timeline "$dir/central.log"
  echo "   regions (peak RSS, CPU seconds to now, own round in s from the central's start | phases opened at s):"
  printf '%s\n' "${r_lines[@]}"
  awk -v ci="$c_in" -v co="$c_out" -v ri="$r_in" -v ro="$r_out" -v n="$n" -v R="$REGIONS" 'BEGIN {
    printf "   bytes per store            %.0f in, %.0f out (at its regional aggregator)\n", ri / n, ro / n
    printf "   bytes per region           %.0f in, %.0f out (at the central)\n", ci / R, co / R }'
  echo "   central                    peak RSS $((c_hwm / 1024)) MiB, CPU $c_cpu s"
  echo "   regional aggregators       largest peak RSS $((r_hwm_max / 1024)) MiB, CPU $r_cpu s in all"
  echo "   simulated stores           CPU $s_cpu s in all ($(nproc) cores on this machine)"
  summary+=("$(printf "%-6s %6d %8d %9.2f %12s %s" regions "$n" "$REGIONS" "$secs" \
                "$((r_hwm_max / 1024)) MiB" "central $((c_hwm / 1024)) MiB; CPU central $c_cpu s, regions $r_cpu s, stores $s_cpu s")")
  stop_all
done

echo
echo "== summary (goal: 10,000 stores within 2x of flat 1,000; every regional aggregator < 512 MiB)"
printf "%-6s %6s %8s %9s %12s %s\n" setup stores regions "round s" "regional RSS" "other"
for l in "${summary[@]}"; do
  echo "$l"
  if [ -n "$flat1k" ]; then
    set -- $l
    [ "$4" != failed ] && awk -v s="$4" -v f="$flat1k" 'BEGIN { printf "%51s %.2fx flat 1,000\n", "", s / f }'
  fi
done
