#!/usr/bin/env bash
# bench/ials.sh - the iALS model kind on the NCF MovieLens-1M split, stores
# simulated in one process (bench_ml1m --model ials): the tuned settings on
# the test protocol at 10 stores (3 seeds), 100 stores, the non-IID splits
# (region, zipf), one store holding everyone (the centralised run of the
# same code) and an item step run to its exact solve; then the epoch time
# and member-solve rate against cblas_sgemm, next to the MF trainer's
# epoch at the same dimension.
#
#   bench/ials.sh BIN_DIR        (make bench-ials)
#
# Needs ../shared/data/ncf-ml-1m (or $FR_ML1M_DIR); skips cleanly without.
# Settings were chosen on the validation split (--validate), never on test:
# docs/MODEL.md "Implicit ALS".
set -euo pipefail

bin=${1:?usage: bench/ials.sh BIN_DIR}
data=${FR_ML1M_DIR:-../shared/data/ncf-ml-1m}
if [ ! -d "$data" ]; then
  echo "bench-ials: skipped: no data directory $data (set FR_ML1M_DIR)"
  exit 0
fi
: "${IALS_DIM:=192}" "${IALS_EPOCHS:=16}" "${IALS_CG:=3}"
: "${IALS_ALPHA0:=0.1}" "${IALS_LAMBDA:=0.01}" "${IALS_NU:=1}"
: "${THREADS:=$(nproc)}"
opts=(--model ials --dim "$IALS_DIM" --rounds "$IALS_EPOCHS"
      --cg "$IALS_CG" --alpha0 "$IALS_ALPHA0" --lambda "$IALS_LAMBDA"
      --nu "$IALS_NU" --threads "$THREADS")

run() { # label, extra options...
  local label=$1
  shift
  local out
  out=$("$bin/bench_ml1m" --test "${opts[@]}" "$@")
  local fin speed
  fin=$(grep '^FINAL' <<<"$out")
  speed=$(grep '^speed' <<<"$out")
  printf '%-26s %s %s  %s\n' "$label" \
    "$(sed -n 's/.*\(HR@10=[0-9.]*\).*/\1/p' <<<"$fin")" \
    "$(sed -n 's/.*\(NDCG@10=[0-9.]*\).*/\1/p' <<<"$fin")" \
    "$(sed -n 's/.*\(train_s=[0-9.]*\).*/\1/p' <<<"$fin")"
  last_speed=$speed
}

echo "iALS dim=$IALS_DIM epochs=$IALS_EPOCHS cg=$IALS_CG alpha0=$IALS_ALPHA0" \
     "lambda=$IALS_LAMBDA nu=$IALS_NU (test protocol)"
for seed in 1 2 3; do run "10 stores iid seed $seed" --stores 10 --seed "$seed"; done
run "100 stores iid" --stores 100
run "10 stores region" --stores 10 --split region
run "100 stores zipf" --stores 100 --split zipf
run "1 store (centralised)" --stores 1
run "10 stores, exact item step" --stores 10 --cg "$IALS_DIM"
run "10 stores (speed)" --stores 10
echo "$last_speed"

# The MF trainer's epoch at the same dimension: one local epoch per round.
mf=$("$bin/bench_ml1m" --test --stores 10 --dim "$IALS_DIM" --rounds 3 \
       --refit-epochs 0 --threads "$THREADS" | grep '^FINAL')
mf_s=$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' <<<"$mf")
ials_s=$(sed -n 's/^speed: epoch \([0-9.]*\) s.*/\1/p' <<<"$last_speed")
awk -v m="$mf_s" -v i="$ials_s" 'BEGIN {
  printf "epoch: iALS %.2f s, MF %.2f s (3 rounds of 1 local epoch: %.2f s each); iALS/MF %.2f\n",
         i, m, m / 3, i / (m / 3) }'
