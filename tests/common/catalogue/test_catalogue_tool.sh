#!/usr/bin/env bash
# test_catalogue_tool.sh - fedrec-catalogue as an operator runs it: a
# catalogue built from a product master (quoting, a byte order mark, CR LF,
# excludes, duplicates, an invalid row, ranking, --top, upper-casing), one
# merged from store count files, `id` and `check` on good and bad files, and
# the exit codes (0 done, 1 failure, 2 usage).
# usage: test_catalogue_tool.sh BIN_DIR
set -euo pipefail

BIN=${1:?usage: test_catalogue_tool.sh BIN_DIR}
TOOL="$BIN/fedrec-catalogue"
T=$(mktemp -d /tmp/fr-cattool-XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
  echo "test_catalogue_tool: FAIL: $*" >&2
  exit 1
}

# expect RC CMD...: runs CMD, output in $T/out and $T/err, checks the status.
expect() {
  local want=$1 rc=0
  shift
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq "$want" ] || {
    cat "$T/out" "$T/err" >&2
    fail "exit $rc, want $want: $*"
  }
}

has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "no \"$2\" in $1"; }; }

# The catalogue's SKUs (everything after the header), one per line.
skus() { tail -n +2 "$1" | tr '\n' ' '; }

# ---- from a product master ----
printf '\xef\xbb\xbfStockCode,Description,UnitsSold\n' >"$T/master.csv"
cat >>"$T/master.csv" <<'EOF'
85123A,"WHITE HANGING HEART, T-LIGHT",100
71053,WHITE METAL LANTERN,300
POST,POSTAGE,5000
85123a,lower-case copy,50
"22423","REGENCY CAKESTAND
3 TIER ""BIG""",200
,no code,5
85123A,second copy,999
 22720 ,spaced,300
BANK CHARGES,fee,400
gift_0001_40,voucher,700
21730,bad rank,lots
EOF
sed -i 's/$/\r/' "$T/master.csv" # CR LF throughout

expect 0 "$TOOL" build --master "$T/master.csv" --rank-column unitssold \
  --exclude 'POST|BANK CHARGES|gift_.*' --sku-case upper --out "$T/a.cat"
has "$T/out" "items written: 4"
has "$T/out" "rows read: 11"
has "$T/out" "duplicates: 2"
has "$T/out" "excluded: 3"
has "$T/out" "invalid: 2 (empty SKU: 1, rank is not a number: 1)"
[ "$(head -n 1 "$T/a.cat")" = "fedrec-catalogue 1" ] || fail "header"
# Rank descending, ties in file order; the first 85123A (100) wins.
[ "$(skus "$T/a.cat")" = "71053 22720 22423 85123A " ] ||
  fail "master order: $(skus "$T/a.cat")"
id=$(sed -n 's/^id: //p' "$T/out")
[ "${#id}" -eq 64 ] || fail "id line"

# The id is BLAKE2b-256 of the file's bytes, and `id` agrees.
expect 0 "$TOOL" id "$T/a.cat"
[ "$(cat "$T/out")" = "$id 4" ] || fail "id output: $(cat "$T/out")"
if command -v python3 >/dev/null; then
  py=$(python3 -c 'import hashlib,sys
print(hashlib.blake2b(open(sys.argv[1],"rb").read(),digest_size=32).hexdigest())' "$T/a.cat")
  [ "$py" = "$id" ] || fail "id is not BLAKE2b-256 of the file"
fi

# File order, case kept (85123a is its own item), --top 3.
expect 0 "$TOOL" build --master "$T/master.csv" --top 3 --out "$T/b.cat"
[ "$(skus "$T/b.cat")" = "85123A 71053 POST " ] ||
  fail "file order: $(skus "$T/b.cat")"
has "$T/out" "dropped by --top: 6"
has "$T/out" "invalid: 1 (empty SKU: 1)"

# A named SKU column.
printf 'code,sku\nX1,ignored\nX2,ignored2\n' >"$T/named.csv"
expect 0 "$TOOL" build --master "$T/named.csv" --sku-column CODE \
  --out "$T/n.cat"
[ "$(skus "$T/n.cat")" = "X1 X2 " ] || fail "--sku-column"

# ---- from store count files ----
printf 'sku,count\n85123A,10.5\n71053,4\n22423,1\n' >"$T/store1.csv"
printf '71053,6.5\r\n85123A,0.5\r\nPOST,99\r\n47566,11\r\n' >"$T/store2.csv"
expect 0 "$TOOL" build --counts "$T/store1.csv" "$T/store2.csv" \
  --exclude POST --out "$T/c.cat"
# Totals: 85123A 11, 47566 11, 71053 10.5, 22423 1 (ties by SKU).
[ "$(skus "$T/c.cat")" = "47566 85123A 71053 22423 " ] ||
  fail "counts order: $(skus "$T/c.cat")"
has "$T/out" "rows read: 7"
has "$T/out" "duplicates (summed): 2"
has "$T/out" "excluded: 1"
expect 0 "$TOOL" check "$T/c.cat"
has "$T/out" "ok, 4 items"

# ---- refusals ----
printf 'fedrec-catalogue 1\nA\nB\nA\n' >"$T/dup.cat"
expect 1 "$TOOL" check "$T/dup.cat"
has "$T/err" "dup.cat:4: duplicate SKU \"A\" (first at line 2)"
printf 'fedrec-catalogue 1\nA\nB \n' >"$T/space.cat"
expect 1 "$TOOL" id "$T/space.cat"
has "$T/err" "space.cat:3: leading or trailing space"
printf 'sku\nA\n' >"$T/nohdr.cat"
expect 1 "$TOOL" check "$T/nohdr.cat"
has "$T/err" "nohdr.cat:1: not a catalogue"
expect 1 "$TOOL" check "$T/missing.cat"
printf 'StockCode,Qty\nA,1\nB,"2\n' >"$T/open.csv"
expect 1 "$TOOL" build --master "$T/open.csv" --out "$T/x.cat"
has "$T/err" "open.csv:3: unterminated quoted field"
printf 'StockCode,Qty\nA,1\nB,2,3\n' >"$T/wide.csv"
expect 1 "$TOOL" build --master "$T/wide.csv" --out "$T/x.cat"
has "$T/err" "wide.csv:3: 3 fields, the header has 2"
printf 'Description\nA\n' >"$T/nosku.csv"
expect 1 "$TOOL" build --master "$T/nosku.csv" --out "$T/x.cat"
has "$T/err" "no SKU column"
[ ! -e "$T/x.cat" ] || fail "a refused build wrote its output"
printf 'POST,1\n' >"$T/onlypost.csv"
expect 1 "$TOOL" build --counts "$T/onlypost.csv" --exclude POST \
  --out "$T/x.cat"
has "$T/err" "no items left"

# ---- usage ----
expect 2 "$TOOL"
expect 2 "$TOOL" build --out "$T/x.cat"
expect 2 "$TOOL" build --master "$T/master.csv" --counts "$T/store1.csv" \
  --out "$T/x.cat"
expect 2 "$TOOL" build --counts "$T/store1.csv" --rank-column n \
  --out "$T/x.cat"
expect 2 "$TOOL" build --master "$T/master.csv" --top 0 --out "$T/x.cat"
expect 2 "$TOOL" build --master "$T/master.csv" --sku-case lower \
  --out "$T/x.cat"
expect 2 "$TOOL" build --master "$T/master.csv" --exclude '(' \
  --out "$T/x.cat"
expect 2 "$TOOL" frobnicate
expect 0 "$TOOL" --help
has "$T/out" "usage:"
echo "test_catalogue_tool: ok"
