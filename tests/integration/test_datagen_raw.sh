#!/usr/bin/env bash
# test_datagen_raw.sh - fedrec-datagen's two output formats.
#  (a) --format fedrec (and no --format) writes exactly what it always did:
#      the sha256 of a small run is pinned;
#  (b) --format raw writes POS exports in the online-retail shape: the
#      header, the field count of every record (RFC 4180 quoting), both time
#      formats, C invoices with negative quantities, guest rows, "17850.0"
#      ids, a product master listing every product code used, expected.txt
#      equal to an independent recount of the files, and the same member
#      purchases (members, items, times) as the fedrec run with the seed;
#  (c) a bad --format is refused.
# usage: test_datagen_raw.sh BIN_DIR
set -euo pipefail

BIN=${1:?usage: test_datagen_raw.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
T=$(mktemp -d /tmp/fr-datagen-XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
  echo "test_datagen_raw: FAIL: $*" >&2
  exit 1
}

# (a) the output of the code before --format existed, for these arguments
SMALL="--stores 2 --seed 7 --members 30 --items 60 --interactions 5"
PINNED=cf4c07e3998f24e4166e3ff39a9e31f6aba7df28c609e6cd3ccf763e68de3a25
for fmt in "" "--format fedrec" "--format=fedrec"; do
  rm -rf "$T/f"
  # shellcheck disable=SC2086
  "$BIN/fedrec-datagen" $SMALL $fmt --out "$T/f" >"$T/f.out" ||
    fail "fedrec run '$fmt' failed"
  got=$(cat "$T/f/store-01.csv" "$T/f/store-02.csv" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$PINNED" ] || fail "fedrec output '$fmt' changed: $got"
  [ "$(ls "$T/f" | tr '\n' ' ')" = "store-01.csv store-02.csv " ] ||
    fail "fedrec run '$fmt' wrote other files: $(ls "$T/f")"
  grep -q "wrote 2 files, 299 rows, 60 items to $T/f" "$T/f.out" ||
    fail "fedrec summary changed: $(cat "$T/f.out")"
done

# (c) refusals
if "$BIN/fedrec-datagen" $SMALL --format csv --out "$T/x" 2>"$T/err"; then
  fail "--format csv was accepted"
fi
grep -q -- "--format: 'csv'" "$T/err" || fail "no --format message: $(cat "$T/err")"

# (b) raw exports, and the fedrec run they must agree with
ARGS="--stores 2 --seed 7 --members 150 --items 200 --interactions 10"
# shellcheck disable=SC2086
"$BIN/fedrec-datagen" $ARGS --format raw --out "$T/raw" >"$T/raw.out" ||
  fail "raw run failed"
grep -q "wrote 2 raw exports, .* rows, 200 items, products.csv and expected.txt" \
  "$T/raw.out" || fail "raw summary: $(cat "$T/raw.out")"
# shellcheck disable=SC2086
"$BIN/fedrec-datagen" $ARGS --out "$T/fed" >/dev/null || fail "fedrec run failed"
# the same seed again: the same bytes
# shellcheck disable=SC2086
"$BIN/fedrec-datagen" $ARGS --format raw --out "$T/raw2" >/dev/null
diff -r "$T/raw" "$T/raw2" >/dev/null || fail "raw output differs between runs"

# awk's own field count, quotes honoured (no quoted line ends in this data)
for f in "$T"/raw/store-0[12].csv; do
  awk -v F="$f" '{
      n = 1; q = 0
      for (i = 1; i <= length($0); i++) {
        c = substr($0, i, 1)
        if (c == "\"") q = !q
        else if (c == "," && !q) n++
      }
      if (n != 8 || q) { print F ":" NR ": " n " fields"; bad = 1; exit 1 }
    }' "$f" || fail "field count"
done

python3 - "$T" "$ARGS" <<'EOF' || fail "raw export checks"
import calendar, csv, datetime, re, sys
from collections import defaultdict

T, args = sys.argv[1], sys.argv[2].split()
items = int(args[args.index("--items") + 1])
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
          "UnitPrice", "CustomerID", "Country"]
DROP = re.compile(r"^(POST|DOT|M|C2|D|S|B|CRUK|PADS|AMAZONFEE|BANK CHARGES|gift_.*)$")
ISO = "%Y-%m-%d %H:%M:%S"
US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})$")
errors = []

def check(cond, what):
    if not cond:
        errors.append(what)

def unix(text):
    m = US.match(text)
    if m:
        mo, d, y, h, mi = map(int, m.groups())
        return calendar.timegm((y, mo, d, h, mi, 0)), "us"
    dt = datetime.datetime.strptime(text, ISO)
    return calendar.timegm(dt.timetuple()), "iso"

def canon(cid):
    m = re.fullmatch(r"(\d+)\.0+", cid)
    return m.group(1) if m else cid

with open(f"{T}/raw/products.csv", newline="") as f:
    prod = list(csv.reader(f))
check(prod[0] == ["StockCode", "Description", "UnitPrice"], "products header")
codes = [r[0] for r in prod[1:]]
check(len(codes) == items and len(set(codes)) == items, "products: one line per item")
check(all(len(r) == 3 and re.fullmatch(r"\d+\.\d\d", r[2]) for r in prod[1:]),
      "products: fields")
check(all(c == c.upper() for c in codes), "products: upper-case codes")
check(sum(bool(re.fullmatch(r"\d{5}", c)) for c in codes) > items // 2,
      "products: mostly 5 digits")
check(any(re.fullmatch(r"\d{5}[A-Z]", c) for c in codes), "products: suffixed codes")
check(any("," in r[1] for r in prod[1:]), "products: a description with a comma")
codes = set(codes)

expected = {}
for line in open(f"{T}/raw/expected.txt"):
    if line.startswith("#"):
        continue
    name, *kv = line.split()
    expected[name] = {k: int(v) for k, v in (x.split("=") for x in kv)}
check(sorted(expected) == ["store-01.csv", "store-02.csv"], "expected.txt stores")

formats, seen_lower = set(), False
for s in (1, 2):
    name = f"store-{s:02d}.csv"
    raw = open(f"{T}/raw/{name}", newline="").read()
    rows = list(csv.reader(raw.splitlines()))
    check(rows[0] == HEADER, f"{name}: header {rows[0]}")
    rows = rows[1:]
    check(all(len(r) == 8 for r in rows), f"{name}: 8 fields per record")
    n = defaultdict(int)
    spellings, net = defaultdict(set), defaultdict(int)
    purchases = defaultdict(list)  # (member, time) -> codes
    fmts, last_inv, inv_cust, countries = set(), 0, {}, set()
    cases = defaultdict(set)  # product code -> spellings written
    for r in rows:
        inv, sku, desc, qty, when, price, cid, country = r
        q = float(qty)
        t, fmt = unix(when)
        fmts.add(fmt)
        countries.add(country)
        check(re.fullmatch(r"C?\d{6}", inv), f"{name}: invoice {inv}")
        check(inv.startswith("C") == (q < 0), f"{name}: {inv} with quantity {qty}")
        num = int(inv.lstrip("C"))
        check(num >= last_inv, f"{name}: invoice numbers go back at {inv}")
        last_inv = num
        check(inv_cust.setdefault(inv, canon(cid)) == canon(cid),
              f"{name}: invoice {inv} for two customers")
        check(re.fullmatch(r"\d+\.\d\d", price), f"{name}: price {price}")
        check(re.fullmatch(r"(\d+(\.0)?)?", cid), f"{name}: customer id")
        up = sku.upper()
        seen_lower |= up != sku
        n["read"] += 1
        if not cid:
            n["guest"] += 1
        elif DROP.match(up):
            n["fee"] += 1
        elif q == 0:
            n["zero"] += 1
        else:
            n["purchase" if q > 0 else "return"] += 1
            spellings[canon(cid)].add(cid)
            n["rewritten"] += cid != canon(cid)
            net[(canon(cid), up)] += q
            if q > 0:
                purchases[(canon(cid), t)].append(up)
        if not DROP.match(up):
            check(up in codes, f"{name}: {sku} is not in products.csv")
            cases[up].add(sku)
    check(len(fmts) == 1, f"{name}: one time format per store, got {fmts}")
    check(len(countries) == 1, f"{name}: one country")
    formats |= fmts
    for kind in ("guest", "return", "fee", "rewritten"):
        check(n[kind] > 0, f"{name}: no {kind} rows")
    check(0.1 < n["guest"] / n["read"] < 0.3, f"{name}: guests {n['guest']}/{n['read']}")
    got = {"rows_read": n["read"], "purchase_rows": n["purchase"],
           "return_rows": n["return"], "guest_rows": n["guest"],
           "nonproduct_rows": n["fee"], "zero_quantity_rows": n["zero"],
           "pairs_fully_returned": sum(v <= 0 for v in net.values()),
           "ids_merged": sum(len(v) > 1 for v in spellings.values()),
           "rows_rewritten": n["rewritten"],
           "skus_case_merged": sum(len(v) > 1 for v in cases.values())}
    check(expected.get(name) == got, f"{name}: expected.txt {expected.get(name)} "
          f"but the files say {got}")
    check(got["pairs_fully_returned"] < got["return_rows"], f"{name}: no partial return")
    check(got["skus_case_merged"] > 0, f"{name}: no code in two cases")

    # the members' purchases are the fedrec run's: same members, times, items
    with open(f"{T}/fed/{name}", newline="") as f:
        fed = list(csv.DictReader(f))
    base = 12345 + (s - 1) * 100000
    sku_of, mine = {}, defaultdict(list)
    for r in fed:
        member = str(base + int(r["member_id"].split("-")[1]))
        t = int(r["timestamp"])
        if fmts == {"us"}:  # minutes only
            t -= t % 60
        mine[(member, t)].append(r["item_id"])
    check(len(fed) == n["purchase"] and mine.keys() == purchases.keys(),
          f"{name}: {len(fed)} fedrec purchases, {n['purchase']} raw")
    for key, its in mine.items():
        if len(its) == 1 and len(purchases[key]) == 1:
            sku = purchases[key][0]
            check(sku_of.setdefault(its[0], sku) == sku,
                  f"{name}: item {its[0]} under two codes")
    check(len(set(sku_of.values())) == len(sku_of), f"{name}: two items, one code")
    for key, its in mine.items():
        check(sorted(sku_of.get(i, "?") for i in its) == sorted(purchases[key]),
              f"{name}: purchases of {key} differ")

check(formats == {"iso", "us"}, f"time formats {formats}")
check(seen_lower, "no lower-case code")
for e in errors[:20]:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF

echo "test_datagen_raw: OK"
