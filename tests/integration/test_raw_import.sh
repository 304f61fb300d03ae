#!/usr/bin/env bash
# test_raw_import.sh - raw POS exports (fedrec-datagen --format raw: string
# SKUs, two date-time formats, C-invoice returns, guest rows, fees,
# "17850.0"-style ids) go into protected stores as they are, through the
# built-in online-retail profile.
#  (a) every row outcome and the member-id merges equal the generator's own
#      bookkeeping (expected.txt), for three stores (both time formats);
#  (b) --dry-run reports the same and writes nothing;
#  (c) a structural error (the mapped member column missing) refuses the
#      whole file, names the column, and changes nothing;
#  (d) an id spelt "N.0" in the export is the same member as "N": consent,
#      export and forget through either spelling reach the same data;
#  (e) --print-profile gives a file that --profile reads back to the same
#      outcome.
# usage: test_raw_import.sh BIN_DIR
set -euo pipefail

BIN=${1:?usage: test_raw_import.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
T=$(mktemp -d /tmp/fr-rawimp-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "test_raw_import: FAIL: $*" >&2
  exit 1
}
C="$BIN/fedrec-client"
field() { # field NAME FILE: the count a summary line "NAME: N" gives
  sed -n "s/^$1: //p" "$2" | head -1
}

"$BIN/fedrec-datagen" --format raw --stores 3 --seed 9 --members 300 \
  --items 400 --out "$T/data" >/dev/null || fail "datagen"
# stores 1..3: store 2 has M/D/YYYY H:MM times
grep -q '^[0-9C]*,[^,]*,.*,[0-9]*/[0-9]*/20[0-9][0-9] ' "$T/data/store-02.csv" ||
  fail "store 2 has no M/D/YYYY times"

for s in 1 2 3; do
  st="$T/st$s"
  "$C" init --store "$st" --name "store$s" --n_items 400 >/dev/null 2>&1 ||
    fail "init $s"
  exp=$(grep "^store-0$s.csv " "$T/data/expected.txt") ||
    fail "no expected line for store $s"
  want() { echo "$exp" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

  # (b) first a dry run: the same report, nothing written
  before=$(cd "$st" && sha256sum vault.sealed audit.log audit_head.sealed)
  "$C" import --store "$st" --profile online-retail --dry-run \
    "$T/data/store-0$s.csv" > "$T/dry$s.txt" 2>&1 || fail "dry run $s"
  grep -q "^dry run: nothing written" "$T/dry$s.txt" || fail "dry run header"
  [ "$before" = "$(cd "$st" && sha256sum vault.sealed audit.log audit_head.sealed)" ] ||
    fail "dry run changed store $s"

  "$C" import --store "$st" --profile online-retail "$T/data/store-0$s.csv" \
    > "$T/imp$s.txt" 2>&1 || fail "import $s: $(cat "$T/imp$s.txt")"
  for f in "$T/dry$s.txt" "$T/imp$s.txt"; do
    for pair in "rows read:rows_read" "kept purchase rows:purchase_rows" \
        "kept return rows:return_rows" "guest rows (no member id):guest_rows" \
        "non-product codes:nonproduct_rows" \
        "zero quantity rows:zero_quantity_rows" \
        "pairs_fully_returned:pairs_fully_returned" \
        "member ids seen under 2+ spellings:ids_merged" \
        "rows with a rewritten member id:rows_rewritten"; do
      name=${pair%%:*} key=${pair##*:}
      got=$(field "$name" "$f")
      [ "$got" = "$(want "$key")" ] ||
        fail "store $s $(basename "$f"): '$name' is '$got', want $(want "$key")"
    done
  done
  # the columns the profile does not store are reported dropped
  for col in InvoiceNo Description UnitPrice Country; do
    grep -q "^discarded column '$col'" "$T/imp$s.txt" ||
      fail "store $s: $col not reported discarded"
  done
done

# (c) a structural error: the member column renamed away; nothing changes
sed '1s/CustomerID/Customer/' "$T/data/store-01.csv" > "$T/broken.csv"
before=$(cd "$T/st1" && sha256sum vault.sealed audit.log)
if "$C" import --store "$T/st1" --profile online-retail "$T/broken.csv" \
    > "$T/broken.txt" 2>&1; then
  fail "a file without the member column was accepted"
fi
grep -q "CustomerID" "$T/broken.txt" || fail "refusal does not name the column: $(cat "$T/broken.txt")"
grep -q "nothing changed" "$T/broken.txt" || fail "refusal wording: $(cat "$T/broken.txt")"
[ "$before" = "$(cd "$T/st1" && sha256sum vault.sealed audit.log)" ] ||
  fail "a refused import changed the store"

# (d) one member under two spellings: "N.0" in the export, "N" at the desk
id=$(python3 - "$T/data/store-01.csv" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1], newline="")):
    c = row["CustomerID"]
    if c.endswith(".0"):
        print(c[:-2]); break
PY
)
[ -n "$id" ] || fail "no .0 id in store 1"
p1=$("$C" pseudonym --store "$T/st1" --member "$id")
p2=$("$C" pseudonym --store "$T/st1" --member "$id.0")
[ "$p1" = "$p2" ] || fail "'$id' and '$id.0' have two pseudonyms"
"$C" member export --store "$T/st1" --member "$id.0" > "$T/export.json" ||
  fail "export by the .0 spelling"
grep -q '"sku"' "$T/export.json" || fail "export holds no purchases"
"$C" member forget --store "$T/st1" --member "$id" >/dev/null 2>&1 ||
  fail "forget"
if "$C" member export --store "$T/st1" --member "$id.0" > /dev/null 2>&1; then
  fail "data of '$id.0' left after forgetting '$id'"
fi

# (e) the printed profile read back as a file gives the same outcome
"$C" import --print-profile online-retail > "$T/my.profile" || fail "print-profile"
"$C" import --store "$T/st2" --profile "$T/my.profile" --dry-run \
  "$T/data/store-02.csv" > "$T/again.txt" 2>&1 || fail "import with the file"
for name in "rows read" "kept purchase rows" "kept return rows" "non-product codes"; do
  [ "$(field "$name" "$T/again.txt")" = "$(field "$name" "$T/imp2.txt")" ] ||
    fail "profile file differs on '$name'"
done
if "$C" import --store "$T/st2" --profile no-such-profile "$T/data/store-02.csv" \
    > "$T/unknown.txt" 2>&1; then
  fail "an unknown profile was accepted"
fi
grep -q "unknown profile 'no-such-profile'" "$T/unknown.txt" || fail "unknown profile wording"
echo "test_raw_import: ok"
