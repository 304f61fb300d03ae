#!/usr/bin/env bash
# make bench-privacy: the privacy-utility curve of member-level DP on the
# NCF MovieLens-1M benchmark, through the real fedrec-aggregator and
# fedrec-client processes over loopback with secure aggregation on.
#
# For each model kind in FR_MODELS (mf, the SGD-trained factorisation,
# and ials, the least-squares one) and for 10 and 100 IID stores it
# trains once without DP and once for each epsilon in FR_EPSILONS
# (delta 1e-6, dp_members 6040, every member in every round). The noise multiplier for each epsilon is planned with
# `fedrec-ctl privacy noise` for FR_DP_ROUNDS rounds; the aggregator's
# privacy ledger then stops training when the next round would exceed the
# budget (rounds is set far above what any budget affords). Model ials
# releases one noised sum per epoch and plans for FR_IALS_DP_ROUNDS (2). Every store is
# scored with `fedrec-client score` and HR@10 / NDCG@10 are computed over
# all 6,040 users as in bench/quality.sh. Besides the figures the table
# shows the rounds each budget afforded, the noise multiplier z, the noise
# std-dev of the sum per coordinate (from the aggregator's log) and that of
# the mean update (divided by q * dp_members), and the noise norm of the
# mean update over all parameters. The curve is drawn to
# bench-run/privacy/curve.svg (bench/privacy_plot.awk).
#
# usage: bench/privacy.sh BIN_DIR
#   FR_MODELS="mf ials"  FR_EPSILONS="1 2 4 8 16"  FR_PRIV_STORES="10 100"
#   FR_BENCH_SEEDS="1"
#   FR_PRIV_NODP=1 (also the no-DP reference)  FR_VALIDATE=1 (score the
#   validation hold-out instead of test: for tuning; the figures then come
#   from the stores' reports, --dp_report_metrics=yes)
# Needs ../shared/data/ncf-ml-1m (or FR_ML1M_DIR); skips cleanly without it.
set -euo pipefail

BIN=$(cd "${1:?usage: bench/privacy.sh BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ML=${FR_ML1M_DIR:-$ROOT/../shared/data/ncf-ml-1m}
if [ ! -e "$ML/ml-1m.test.negative.xz" ] && [ ! -e "$ML/ml-1m.test.negative" ]; then
  echo "bench-privacy: skipped: the NCF MovieLens-1M split is not in $ML (set FR_ML1M_DIR)"
  exit 0
fi
ML=$(cd "$ML" && pwd)
SEEDS=${FR_BENCH_SEEDS:-1}
MODELS=${FR_MODELS:-mf ials}
EPSILONS=${FR_EPSILONS:-1 2 4 8 16}
STORE_COUNTS=${FR_PRIV_STORES:-10 100}
NODP=${FR_PRIV_NODP:-1}
VALIDATE=${FR_VALIDATE:-0}
RUN=${FR_BENCH_DIR:-$ROOT/bench-run/privacy}
ITEMS=3706
MEMBERS=6040
TOPPOP=0.4533

# Without DP: the settings of bench/quality.sh (docs/MODEL.md).
DIM=${FR_DIM:-128}
ROUNDS=${FR_ROUNDS:-60}
EPOCHS=${FR_EPOCHS:-1}
LR=${FR_LR:-3}
LR_DECAY=${FR_LR_DECAY:-0.97}
NEG=${FR_NEG:-4}
L2=${FR_L2:-0.02}
REFIT=${FR_REFIT:-5}
# With DP (chosen on the validation hold-out at epsilon 8, 10 stores;
# docs/MODEL.md, "Privacy-utility curve").
DELTA=${FR_DP_DELTA:-1e-6}
DP_ROUNDS=${FR_DP_ROUNDS:-10}
DP_CLIP=${FR_DP_CLIP:-2}
DP_SERVER_LR=${FR_DP_SERVER_LR:-100}
DP_LR=${FR_DP_LR:-3}
DP_LR_DECAY=${FR_DP_LR_DECAY:-1}
DP_EPOCHS=${FR_DP_EPOCHS:-3}
DP_L2=${FR_DP_L2:-0.02}
DP_NEG=${FR_DP_NEG:-4}
DP_Q=${FR_DP_Q:-1}
DP_DROPS=${FR_DP_DROPS:-1}
EXTRA_AGG=${FR_EXTRA_AGG:-}
# Model ials. Without DP: the settings of bench/quality.sh FR_MODEL=ials.
# With DP (chosen with bench_ml1m --model ials --dp-z on the validation
# hold-out at epsilon 8; docs/MODEL.md "Under member-level DP"): one
# release per epoch, 2 epochs, dim 32. All members are clipped at 5, so
# the clip only scales the sums (the solve does not depend on it).
IALS_DIM=${FR_IALS_DIM:-192}
IALS_ROUNDS=${FR_IALS_ROUNDS:-64}
IALS_DP_DIM=${FR_IALS_DP_DIM:-32}
IALS_DP_ROUNDS=${FR_IALS_DP_ROUNDS:-2}
IALS_DP_CLIP=${FR_IALS_DP_CLIP:-5}
IALS_DP_ALPHA0=${FR_IALS_DP_ALPHA0:-0.2}
IALS_DP_LAMBDA=${FR_IALS_DP_LAMBDA:-0.003}

. "$ROOT/bench/common.sh"

# The noise multiplier that spends epsilon in DP_ROUNDS rounds (Gaussian
# accountant; the DDG one with n_target shares is within a few per cent).
noise_for() { # epsilon rounds
  "$BIN/fedrec-ctl" privacy noise --mechanism gaussian --epsilon "$1" \
    --sampling-rate "$DP_Q" --steps "$2" --delta "$DELTA" |
    sed 's/.*"noise_multiplier": *\([0-9.e+-]*\).*/\1/'
}

# Keeps a copy of every global model store 1 receives (written atomically,
# so a new inode is a new model): the per-round model changes give the
# signal and the noise of the mean update.
watch_models() { # dir
  local f="$1/state/store001/model.bin" last="" ino k=0
  mkdir -p "$1/models"
  while :; do
    ino=$(stat -c %i "$f" 2>/dev/null || true)
    if [ -n "$ino" ] && [ "$ino" != "$last" ]; then
      cp "$f" "$1/models/$(printf %03d "$k").bin" 2>/dev/null && { last=$ino; k=$((k + 1)); }
    fi
    sleep 0.2
  done
}

# Median over rounds of the L2 norm of the model change divided by
# server_lr: the norm of the noised mean update, |signal + noise|.
step_norm() { # dir server_lr
  local m prev="" out=() nb=$((ITEMS * (DIM + 1) * 4)) # 16-byte header, CRC after
  for m in "$1"/models/*.bin; do
    if [ -n "$prev" ]; then
      out+=("$(paste <(od -An -v -f -w4 -j16 -N "$nb" "$prev") <(od -An -v -f -w4 -j16 -N "$nb" "$m") |
        awk -v s="$2" '{ d = $2 - $1; t += d * d } END { printf "%.6g\n", sqrt(t) / s }')")
    fi
    prev=$m
  done
  printf "%s\n" "${out[@]:-0}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

run_one() { # model stores seed eps ("-": no DP)
  local model=$1 stores=$2 seed=$3 eps=$4 tag dir port t0 i s z=- rounds dpconf=""
  local batch=128 lr=$LR decay=$LR_DECAY epochs=$EPOCHS l2=$L2 neg=$NEG slr=1
  local dim=$DIM clip=$DP_CLIP planned=$DP_ROUNDS kind=""
  [ "$stores" -gt 60 ] && batch=32
  tag=$([ "$eps" = - ] && echo nodp || echo "eps$eps")
  dir="$RUN/$model-$tag-$stores-seed$seed"
  rounds=$ROUNDS
  if [ "$model" = ials ]; then
    dim=$IALS_DIM rounds=$IALS_ROUNDS clip=$IALS_DP_CLIP planned=$IALS_DP_ROUNDS
    kind="model ials
ials_alpha0 0.1
ials_lambda 0.01"
    [ "$eps" != - ] && dim=$IALS_DP_DIM && kind="model ials
ials_alpha0 $IALS_DP_ALPHA0
ials_lambda $IALS_DP_LAMBDA"
  fi
  if [ "$eps" != - ]; then
    # ials plans its 2 releases for 1.5 % less: the DDG accountant
    # charges slightly more than the Gaussian one, and a second release
    # planned exactly would not fit the budget (MF loses 1 of 10 instead)
    if [ "$model" = ials ]; then
      z=$(noise_for "$(awk -v e="$eps" 'BEGIN { print e * 0.985 }')" "$planned")
    else
      z=$(noise_for "$eps" "$planned")
    fi
    rounds=100000 # the ledger stops training
    lr=$DP_LR decay=$DP_LR_DECAY epochs=$DP_EPOCHS l2=$DP_L2 neg=$DP_NEG slr=$DP_SERVER_LR
    dpconf="dp_epsilon_budget $eps
dp_delta $DELTA
dp_members $MEMBERS
dp_clip $clip
dp_noise_multiplier $z
dp_sampling_rate $DP_Q
dp_max_dropouts $DP_DROPS
dp_colluders 0"
  fi
  rm -rf "$dir"; mkdir -p "$dir/logs" "$dir/state"
  "$BIN/fedrec-split" --ncf "$ML" --rule iid --stores "$stores" \
      --seed "$seed" --out "$dir/split" > "$dir/logs/split.txt"
  "$BIN/fedrec-keygen" --name aggregator --dir "$dir/keys" >/dev/null 2>&1
  : > "$dir/allowlist"
  for i in $(seq 1 "$stores"); do
    s=$(printf "%03d" "$i")
    "$BIN/fedrec-keygen" --name "store$s" --dir "$dir/keys" 2>/dev/null >> "$dir/allowlist"
  done
  port=$((17000 + RANDOM % 20000)); while ! port_free "$port"; do port=$((port + 1)); done
  cat > "$dir/aggregator.conf" <<CONF
listen tcp://127.0.0.1:$port
secagg_phase_timeout_ms 60000
key_file $dir/keys/aggregator.key
allowlist $dir/allowlist
state_dir $dir/agg
n_items $ITEMS
dim $dim
rounds $rounds
fraction 1.0
start_delay_ms 500
heartbeat_timeout_ms 30000
round_timeout_ms 600000
local_epochs $epochs
learning_rate $lr
lr_decay $decay
negatives $neg
l2 $l2
batch_size $batch
server_lr $slr
seed $seed
secagg yes
min_stores $stores
$kind
$dpconf
$EXTRA_AGG
CONF
  local cflags=()
  if [ "$VALIDATE" = 1 ]; then cflags=(--validate yes --dp_report_metrics yes); fi
  t0=$(date +%s%N)
  watch_models "$dir" & pids+=("$!")
  for i in $(seq 1 "$stores"); do
    s=$(printf "%03d" "$i")
    "$BIN/fedrec-client" run --connect "tcp://127.0.0.1:$port" \
      --key_file "$dir/keys/store$s.key" --server_key "$dir/keys/aggregator.pub" \
      --data "$dir/split/store-$s.csv" --test_file "$dir/split/store-$s.test" \
      --state_dir "$dir/state/store$s" --n_items "$ITEMS" --seed "$seed" \
      --refit_epochs "$REFIT" --heartbeat_ms 1000 "${cflags[@]}" \
      2> "$dir/logs/store$s.log" &
    pids+=("$!")
  done
  "$BIN/fedrec-aggregator" --config "$dir/aggregator.conf" 2> "$dir/logs/aggregator.log"
  # Every store refits its members to the last model. The round abandoned
  # when the budget runs out also says "rounds done": count completed ones.
  for i in $(seq 1 "$stores"); do
    s=$(printf "%03d" "$i")
    if [ "$model" = ials ]; then # one exact solve, when training is done
      while ! grep -q "members refit" "$dir/logs/store$s.log"; do sleep 0.1; done
      continue
    fi
    while ! grep -q "rounds done" "$dir/logs/store$s.log" ||
          [ "$(grep -c "members refit" "$dir/logs/store$s.log")" -lt "$(grep -c "completed with .*rounds done" "$dir/logs/store$s.log")" ]; do
      sleep 0.1
    done
  done
  local wall=$(( ($(date +%s%N) - t0) / 1000000 ))
  sleep 0.5 # the watcher's last copy
  cleanup
  local done_rounds
  done_rounds=$(grep -c '"round_completed"' "$dir/logs/aggregator.log" || true)
  # The noise std-dev of the sum per coordinate, as the aggregator logged it.
  local sd
  sd=$(grep -o 'noise std-dev [0-9.e+-]*' "$dir/logs/aggregator.log" | tail -1 | awk '{ print $3 }' || true)
  [ -n "$sd" ] || sd=0
  local h d
  if [ "$VALIDATE" = 1 ]; then
    # The stores' validation figures of the last round (their own members'
    # embeddings as trained in that round; no refit).
    read -r h d < <(grep '"round_completed"' "$dir/logs/aggregator.log" | tail -1 |
      sed 's/.*hr10=\([0-9.]*\) ndcg10=\([0-9.]*\).*/\1 \2/')
    echo "$MEMBERS 0 0" > "$dir/per-store.txt"
  else
    : > "$dir/per-store.txt"
    for i in $(seq 1 "$stores"); do
      s=$(printf "%03d" "$i")
      "$BIN/fedrec-client" score --input "$dir/split/store-$s.test" \
        --data "$dir/split/store-$s.csv" --state_dir "$dir/state/store$s" \
        --n_items "$ITEMS" > "$dir/scores-$s.tsv" 2>>"$dir/logs/score.log"
      score_store "$dir/split/store-$s.test" "$dir/scores-$s.tsv" >> "$dir/per-store.txt"
    done
    read -r h d < <(awk '{ u += $1; h += $2; d += $3 } END { printf "%.4f %.4f\n", h / u, d / u }' "$dir/per-store.txt")
  fi
  # Per round: the noise of the mean update (sd of the sum / (q * members),
  # its norm over all parameters), the median norm of the model change /
  # server_lr (= |mean update|, noise included) and the signal it implies,
  # sqrt(|mean update|^2 - |noise|^2), all in units of dp_clip.
  # (model ials moves no mean update: its columns are "-")
  local step=-; [ "$model" = mf ] && step=$(step_norm "$dir" "$slr")
  awk -v model="$model" -v st="$stores" -v seed="$seed" -v eps="$eps" -v z="$([ "$z" = - ] && echo - || printf "%.3g" "$z")" \
      -v r="$done_rounds" -v h="$h" -v d="$d" -v sd="$sd" -v q="$DP_Q" -v n="$MEMBERS" \
      -v np="$((ITEMS * (DIM + 1)))" -v wall="$wall" -v step="$step" \
      -v clip="$([ "$eps" = - ] && echo 1 || echo "$clip")" 'BEGIN {
      if (step == "-") {
        printf "%-5s %6d %-5s %4d %6s %6d %8.4f %8.4f %9.3g %9s %8s %8s %8s %8s %7.1f\n", model, st, eps, seed,
               z, r, h, d, sd, "-", "-", "-", "-", "-", wall / 1000
        exit
      }
      sm = sd / (q * n); nn = sm * sqrt(np) / clip; st2 = step / clip
      sig = st2 * st2 - nn * nn; sig = sig > 0 ? sqrt(sig) : 0
      printf "%-5s %6d %-5s %4d %6s %6d %8.4f %8.4f %9.3g %9.3g %8.3g %8.3g %8.3g %8s %7.1f\n", model, st, eps, seed,
             z, r, h, d, sd, sm, nn, st2, sig, (sig > 0 ? sprintf("%.3g", nn / sig) : "-"), wall / 1000 }' |
    tee -a "$RUN/results.txt"
}

mkdir -p "$RUN"
T0=$(date +%s)
{
  echo "# no DP: dim $DIM rounds $ROUNDS epochs $EPOCHS lr $LR decay $LR_DECAY negatives $NEG l2 $L2 refit $REFIT"
  echo "# DP: delta $DELTA members $MEMBERS q $DP_Q clip $DP_CLIP noise planned for $DP_ROUNDS rounds, server_lr $DP_SERVER_LR lr $DP_LR decay $DP_LR_DECAY epochs $DP_EPOCHS l2 $DP_L2 negatives $DP_NEG dropouts $DP_DROPS $([ "$VALIDATE" = 1 ] && echo "VALIDATION hold-out") $EXTRA_AGG"
  echo "# ials: no DP dim $IALS_DIM rounds $IALS_ROUNDS (alpha0 0.1 lambda 0.01 cg 3); DP dim $IALS_DP_DIM clip $IALS_DP_CLIP alpha0 $IALS_DP_ALPHA0 lambda $IALS_DP_LAMBDA noise planned for $IALS_DP_ROUNDS rounds"
  printf "%-5s %6s %-5s %4s %6s %6s %8s %8s %9s %9s %8s %8s %8s %8s %7s\n" model stores eps seed z rounds HR@10 NDCG@10 \
    "sd(sum)" "sd(mean)" "|n|/C" "|u|/C" "|s|/C" "n/s" "wall s"
} | tee "$RUN/results.txt"
for model in $MODELS; do
  for stores in $STORE_COUNTS; do
    for seed in $SEEDS; do
      [ "$NODP" = 1 ] && run_one "$model" "$stores" "$seed" -
      for e in $EPSILONS; do run_one "$model" "$stores" "$seed" "$e"; done
    done
  done
done
if [ "$VALIDATE" != 1 ]; then
  awk -v toppop="$TOPPOP" -f "$ROOT/bench/privacy_plot.awk" "$RUN/results.txt" > "$RUN/curve.svg"
  echo "plot: $RUN/curve.svg"
fi
echo "wall time: $(( $(date +%s) - T0 )) s"
