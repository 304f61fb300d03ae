#!/usr/bin/env bash
# test_package.sh - the Debian package as dpkg, systemd and lintian see it.
# Builds the package (scripts/package.sh, the same steps as `make
# package`) in PKG_BUILD, then:
#  (a) the control fields, the conffiles and the maintainer scripts;
#  (b) extracted with dpkg -x into a temporary root: exactly the expected
#      files with the expected modes, stripped PIE programs, full RELRO;
#  (c) every manual page renders without a groff warning and has a NAME
#      line; each program's --help options appear in its page, each
#      option of a page is in the program's --help, and the two config
#      pages list exactly the keys of the programs' tables with their
#      types, defaults and ranges;
#  (d) the programs run from the temporary root (--help), and the shipped
#      configurations pass --check-config;
#  (e) the postinst, run against the temporary root (DPKG_ROOT), creates
#      the users and directories and hands aggregator.conf to group fedrec,
#      and a second run changes nothing; dpkg --root installs, upgrades
#      (keeping a changed conffile), removes and purges the package;
#  (f) systemd-analyze verify --root on both units in the temporary root;
#  (g) lintian: its findings are printed, an error (E:) fails the test.
# usage: test_package.sh SOURCE_DIR PKG_BUILD VERSION [CMAKE_ARGS...]
# Not root: the steps that need root ownership run under fakeroot.
set -euo pipefail

SRC=${1:?usage: test_package.sh SOURCE_DIR PKG_BUILD VERSION [CMAKE_ARGS...]}
PKG_BUILD=${2:?usage: test_package.sh SOURCE_DIR PKG_BUILD VERSION}
VERSION=${3:?usage: test_package.sh SOURCE_DIR PKG_BUILD VERSION}
shift 3

fail() {
  echo "test_package: FAIL: $*" >&2
  exit 1
}
step() { echo "test_package: $*"; }

# What the package must hold, file by file with its mode: a file missing,
# an extra one or another mode fails. Add a line with every new install().
EXPECTED_FILES='0640 etc/fedrec/aggregator.conf
0755 usr/bin/fedrec-aggregator
0755 usr/bin/fedrec-catalogue
0755 usr/bin/fedrec-client
0755 usr/bin/fedrec-ctl
0755 usr/bin/fedrec-datagen
0755 usr/bin/fedrec-keygen
0755 usr/bin/fedrec-split
0644 usr/lib/systemd/system/fedrec-aggregator.service
0644 usr/lib/systemd/system/fedrec-client@.service
0644 usr/lib/sysusers.d/fedrec.conf
0644 usr/lib/tmpfiles.d/fedrec.conf
0644 usr/share/doc/fedrec/ARCHITECTURE.md
0644 usr/share/doc/fedrec/CATALOGUE.md
0644 usr/share/doc/fedrec/IMPORT.md
0644 usr/share/doc/fedrec/MODEL.md
0644 usr/share/doc/fedrec/OPERATIONS.md
0644 usr/share/doc/fedrec/PRIVACY.md
0644 usr/share/doc/fedrec/README.md
0644 usr/share/doc/fedrec/SECAGG.md
0644 usr/share/doc/fedrec/SECURITY.md
0644 usr/share/doc/fedrec/changelog.Debian.gz
0644 usr/share/doc/fedrec/copyright
0644 usr/share/doc/fedrec/examples/aggregator-regional.conf
0644 usr/share/doc/fedrec/examples/aggregator.conf
0644 usr/share/doc/fedrec/examples/fedrec-alerts.yml
0644 usr/share/doc/fedrec/examples/prometheus.yml
0644 usr/share/doc/fedrec/examples/store.conf
0644 usr/share/lintian/overrides/fedrec
0644 usr/share/man/man1/fedrec-catalogue.1.gz
0644 usr/share/man/man1/fedrec-client.1.gz
0644 usr/share/man/man1/fedrec-ctl.1.gz
0644 usr/share/man/man1/fedrec-datagen.1.gz
0644 usr/share/man/man1/fedrec-keygen.1.gz
0644 usr/share/man/man1/fedrec-split.1.gz
0644 usr/share/man/man5/fedrec-aggregator.conf.5.gz
0644 usr/share/man/man5/fedrec-store.conf.5.gz
0644 usr/share/man/man8/fedrec-aggregator.8.gz'

# Each program and its manual page.
PROGRAMS='fedrec-aggregator man8/fedrec-aggregator.8
fedrec-client man1/fedrec-client.1
fedrec-ctl man1/fedrec-ctl.1
fedrec-keygen man1/fedrec-keygen.1
fedrec-datagen man1/fedrec-datagen.1
fedrec-split man1/fedrec-split.1
fedrec-catalogue man1/fedrec-catalogue.1'

# ---- (e) as root (or fakeroot): extract, run the postinst, check owners --
# Called as `test_package.sh --as-root DEB ROOT CTRL`.
if [ "${SRC}" = --as-root ]; then
  DEB=$PKG_BUILD ROOT=$VERSION CTRL=$1
  dpkg -x "$DEB" "$ROOT"
  dpkg-deb -e "$DEB" "$CTRL"
  id_of() { # NAME FILE: the id of NAME in a passwd or group file
    while IFS=: read -r name _ id _; do
      [ "$name" = "$1" ] && { echo "$id"; return 0; }
    done <"$2"
    return 1
  }
  owner_is() { # PATH MODE UID GID
    local got
    got=$(stat -c '%a %u %g' "$ROOT/$1")
    [ "$got" = "$2 $3 $4" ] || fail "$1: mode uid gid $got, expected $2 $3 $4"
  }
  [ "$(stat -c '%u %g' "$ROOT/etc/fedrec/aggregator.conf")" = "0 0" ] ||
    fail "aggregator.conf is not root:root in the package"
  DPKG_ROOT=$ROOT sh "$CTRL/postinst" configure ||
    fail "postinst configure failed"
  uid=$(id_of fedrec "$ROOT/etc/passwd") || fail "postinst made no user fedrec"
  gid=$(id_of fedrec "$ROOT/etc/group") || fail "postinst made no group fedrec"
  suid=$(id_of fedrec-store "$ROOT/etc/passwd") ||
    fail "postinst made no user fedrec-store"
  sgid=$(id_of fedrec-store "$ROOT/etc/group") ||
    fail "postinst made no group fedrec-store"
  grep -q "^fedrec:x:$uid:$gid:.*:/var/lib/fedrec-aggregator:" \
    "$ROOT/etc/passwd" || fail "user fedrec: $(grep '^fedrec:' "$ROOT/etc/passwd")"
  owner_is etc/fedrec 755 0 0
  owner_is etc/fedrec/aggregator.conf 640 0 "$gid"
  owner_is var/lib/fedrec-aggregator 700 "$uid" "$gid"
  owner_is var/lib/fedrec-store 700 "$suid" "$sgid"
  # A second configure (an upgrade) changes nothing, and a group an
  # administrator chose for aggregator.conf is kept.
  cp "$ROOT/etc/passwd" "$CTRL/passwd.before"
  chgrp "$sgid" "$ROOT/etc/fedrec/aggregator.conf"
  DPKG_ROOT=$ROOT sh "$CTRL/postinst" configure ||
    fail "second postinst configure failed"
  cmp -s "$ROOT/etc/passwd" "$CTRL/passwd.before" ||
    fail "a second postinst changed /etc/passwd"
  owner_is etc/fedrec/aggregator.conf 640 0 "$sgid"
  owner_is var/lib/fedrec-aggregator 700 "$uid" "$gid"
  DPKG_ROOT=$ROOT sh "$CTRL/prerm" remove || fail "prerm remove failed"
  DPKG_ROOT=$ROOT sh "$CTRL/postrm" purge || fail "postrm purge failed"
  rm -f "$CTRL/passwd.before"
  # dpkg itself, on an empty system in DROOT (dependencies not there):
  # install, an upgrade keeps a changed conffile, remove keeps it, purge
  # removes it and leaves the state directories.
  DROOT=$CTRL/dpkg-root
  mkdir -p "$DROOT/var/lib/dpkg/info" "$DROOT/var/lib/dpkg/updates"
  : >"$DROOT/var/lib/dpkg/status"
  dpkg_r() {
    dpkg --root="$DROOT" --force-script-chrootless --force-depends \
      --log=/dev/null "$@" >"$CTRL/dpkg.out" 2>&1 ||
      { cat "$CTRL/dpkg.out" >&2; fail "dpkg $*"; }
  }
  dpkg_r -i "$DEB"
  [ -x "$DROOT/usr/bin/fedrec-aggregator" ] || fail "dpkg -i installed no programs"
  echo '# changed here' >>"$DROOT/etc/fedrec/aggregator.conf"
  dpkg_r --force-confold -i "$DEB"
  [ "$(tail -n 1 "$DROOT/etc/fedrec/aggregator.conf")" = '# changed here' ] ||
    fail "reinstalling replaced a changed aggregator.conf"
  dpkg_r -r fedrec
  [ ! -e "$DROOT/usr/bin/fedrec-aggregator" ] || fail "dpkg -r left the programs"
  [ -f "$DROOT/etc/fedrec/aggregator.conf" ] || fail "dpkg -r removed the conffile"
  dpkg_r -P fedrec
  [ ! -e "$DROOT/etc/fedrec/aggregator.conf" ] || fail "purge left aggregator.conf"
  [ -d "$DROOT/var/lib/fedrec-aggregator" ] && [ -d "$DROOT/var/lib/fedrec-store" ] ||
    fail "purge removed the state directories"
  rm -rf "$DROOT" "$CTRL/dpkg.out"
  exit 0
fi

for tool in dpkg-deb dpkg-shlibdeps file lintian systemd-analyze \
            systemd-sysusers systemd-tmpfiles man lexgrog readelf scdoc; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (scripts/deps.sh test installs it)"
done
AS_ROOT=()
if [ "$(id -u)" -ne 0 ]; then
  command -v fakeroot >/dev/null ||
    fail "fakeroot is not installed (scripts/deps.sh test installs it)"
  AS_ROOT=(fakeroot --)
fi

T=$(mktemp -d /tmp/fr-package-XXXXXX)
trap 'rm -rf "$T"' EXIT
ROOT=$T/root
CTRL=$T/control

# ---- build ---------------------------------------------------------------
t0=$(date +%s)
DEB=$("$SRC/scripts/package.sh" "$PKG_BUILD" "$@" | tail -n 1)
[ -f "$DEB" ] || fail "scripts/package.sh made no package"
ARCH=$(dpkg --print-architecture)
[ "$(basename "$DEB")" = "fedrec_${VERSION}-1_${ARCH}.deb" ] ||
  fail "package file $(basename "$DEB"), expected fedrec_${VERSION}-1_${ARCH}.deb"
step "built $DEB ($(stat -c %s "$DEB") bytes) in $(($(date +%s) - t0)) s"

# ---- (e) first: it extracts the package the rest looks at ------------
"${AS_ROOT[@]}" "$0" --as-root "$DEB" "$ROOT" "$CTRL"
step "postinst: users fedrec and fedrec-store, directories and the" \
     "config's group made in the temporary root; a second run is a no-op;" \
     "dpkg --root install, upgrade, remove, purge"

# ---- (a) control -------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = fedrec ] || fail "Package: $(field Package)"
[ "$(field Version)" = "${VERSION}-1" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$ARCH" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
[ "$(field Priority)" = optional ] || fail "Priority: $(field Priority)"
[[ "$(field Maintainer)" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] ||
  fail "Maintainer: '$(field Maintainer)' is not 'NAME <EMAIL>'"
desc=$(field Description)
[ "$(printf '%s\n' "$desc" | head -n 1)" = \
  "federated training of a retail recommendation model" ] ||
  fail "Description synopsis: $(printf '%s\n' "$desc" | head -n 1)"
[ "$(printf '%s\n' "$desc" | wc -l)" -gt 5 ] || fail "no extended description"
depends=$(field Depends)
for lib in libc6 libzmq5 libsodium23 libprotobuf-c1 libopenblas0 \
           libmicrohttpd12 libsystemd0; do
  [[ ", $depends," =~ ,\ $lib[\ ,] ]] ||
    fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
[ "$(field Recommends)" = systemd ] || fail "Recommends: $(field Recommends)"
[ "$(cat "$CTRL/conffiles")" = /etc/fedrec/aggregator.conf ] ||
  fail "conffiles: $(cat "$CTRL/conffiles")"
for s in postinst prerm postrm; do
  [ "$(stat -c %a "$CTRL/$s")" = 755 ] || fail "$s is not 0755"
  sh -n "$CTRL/$s" || fail "$s: shell syntax"
  head -n 1 "$CTRL/$s" | grep -qx '#!/bin/sh' || fail "$s: not #!/bin/sh"
done
step "control: fedrec ${VERSION}-1 $ARCH, Depends: $depends"

# ---- (b) files -----------------------------------------------------------
# The files of the package itself (the postinst added passwd and group).
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub("^\\./", "", $6); print $6 }' |
  sort >"$T/listed"
(cd "$ROOT" && xargs -a "$T/listed" stat -c '%a %n' |
  awk '{ printf "%04d %s\n", $1, $2 }') >"$T/files"
if ! diff <(printf '%s\n' "$EXPECTED_FILES" | sort -k2) "$T/files" >"$T/diff"; then
  cat "$T/diff" >&2
  fail "package contents differ from the expected list (< expected, > found)"
fi
bad_dirs=$(dpkg-deb -c "$DEB" | awk '$1 ~ /^d/ && $1 != "drwxr-xr-x" { print }')
[ -z "$bad_dirs" ] || fail "directories not 0755: $bad_dirs"
dpkg-deb -c "$DEB" | awk '$2 != "root/root" { exit 1 }' ||
  fail "a file in the package is not owned by root/root"
cmp -s "$ROOT/etc/fedrec/aggregator.conf" \
  "$ROOT/usr/share/doc/fedrec/examples/aggregator.conf" ||
  fail "/etc/fedrec/aggregator.conf differs from its example"
for p in "$ROOT"/usr/bin/*; do
  sections=$(readelf -SW "$p")
  ! grep -qE '\.symtab|\.debug_|\.comment' <<<"$sections" ||
    fail "$(basename "$p") is not stripped"
  readelf -hW "$p" | grep -q 'Type: *DYN' || fail "$(basename "$p") is not PIE"
  readelf -dW "$p" | grep -qE 'BIND_NOW|FLAGS_1.*NOW' ||
    fail "$(basename "$p") is not linked with -z now"
  readelf -lW "$p" | grep -q GNU_RELRO ||
    fail "$(basename "$p") is not linked with -z relro"
done
step "files: $(wc -l <"$T/files") with the expected modes; programs stripped," \
     "PIE, full RELRO"

# ---- (c) manual pages ----------------------------------------------------
MAN=$ROOT/usr/share/man
render() { # PAGE.gz: the page as text, one line per paragraph
  MANWIDTH=1000 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$1"
}
for page in "$MAN"/man*/*.gz; do
  name=$(basename "$page" .gz)
  gzip -t "$page" || fail "$name: not gzip"
  # gzip -9n: no file name, no time stamp (bytes 4-7 of the header).
  [ "$(od -An -tu1 -j3 -N5 "$page" | tr -s ' ')" = " 0 0 0 0 0" ] ||
    fail "$name: gzip header has a name or time stamp (not gzip -n)"
  render "$page" >"$T/page" 2>"$T/warn" || fail "$name: man -l failed"
  [ ! -s "$T/warn" ] || { cat "$T/warn" >&2; fail "$name: groff warnings"; }
  [ "$(wc -l <"$T/page")" -gt 10 ] || fail "$name: renders almost empty"
  lexgrog "$page" | grep -q "\"${name%.*} - " ||
    fail "$name: no whatis entry: $(lexgrog "$page")"
done

# The --OPTION words of a text, one per line.
options() { grep -oE -- '--[a-z][a-z0-9_-]*[a-z0-9]' | sort -u; }
# The configuration keys of a program's --help: KEY TYPE DEFAULT MIN MAX.
help_keys() {
  sed -nE 's/^  --([a-z0-9_]+)=(.*) \(([a-z]+)(, (.*[^.])\.\.([^.].*))?\)$/\1 \3 \2 \5 \6/p' |
    sed -E 's/ "" / empty /'
}
# The same from a config page: terms "KEY (TYPE[, MIN..MAX]; default D)".
page_keys() {
  sed -nE 's/^ {7}([a-z][a-z0-9_]*) \(([a-z]+)(, ([^;]*[^.;])\.\.([^.;][^;]*))?; default (.*)\)$/\1 \2 \6 \4 \5/p'
}
# Both lists must name the same keys with the same type, default and
# range (numbers compared as numbers: 2^63 - 1 prints as 2^63 in --help).
same_keys() { # HELP_KEYS PAGE_KEYS WHAT
  awk -v what="$3" '
    NR == FNR { h[$1] = $0; next }
    {
      if (!($1 in h)) { print what ": " $1 " is not a key of the program"; bad = 1; next }
      split(h[$1], a, " "); delete h[$1]
      if (a[2] != $2 || a[3] != $3 || (a[4] "") != ($4 "") && a[4] + 0 != $4 + 0 ||
          (a[5] "") != ($5 "") && a[5] + 0 != $5 + 0) {
        print what ": " $1 ": page says \"" $2 " " $4 ".." $5 " default " $3 \
              "\", --help says \"" a[2] " " a[4] ".." a[5] " default " a[3] "\""
        bad = 1
      }
    }
    END { for (k in h) { print what ": key " k " is not documented"; bad = 1 }
          exit bad }' "$1" "$2"
}

while read -r prog page; do
  bin=$ROOT/usr/bin/$prog
  "$bin" --help >"$T/help" 2>&1 || fail "$prog --help exited $? from the root"
  grep -qi usage "$T/help" || fail "$prog --help prints no usage"
  render "$MAN/$page.gz" >"$T/page" 2>/dev/null
  help_keys <"$T/help" >"$T/hkeys"
  keys_re='^$'
  if [ -s "$T/hkeys" ]; then
    conf=man5/$prog.conf.5
    [ "$prog" = fedrec-client ] && conf=man5/fedrec-store.conf.5
    render "$MAN/$conf.gz" | page_keys >"$T/pkeys"
    same_keys "$T/hkeys" "$T/pkeys" "$(basename "$conf")" ||
      fail "$(basename "$conf") and $prog --help disagree"
    keys_re="^--($(cut -d' ' -f1 "$T/hkeys" | paste -sd'|'))$"
  fi
  # Options of --help that are not configuration keys: in the page.
  options <"$T/help" | grep -vE "$keys_re" >"$T/hopts" || true
  options <"$T/page" >"$T/popts"
  missing=$(comm -23 "$T/hopts" "$T/popts" | paste -sd' ')
  [ -z "$missing" ] || fail "$page does not document $prog's $missing"
  # Options the page gives the program (SYNOPSIS, OPTIONS, COMMANDS; the
  # examples may show other programs' options): in --help, but for --help
  # and, with a configuration table, --config, --check-config and
  # --dump-config, which the shared parser adds.
  generic='^--help$'
  [ -s "$T/hkeys" ] && generic='^--(help|config|check-config|dump-config)$'
  awk '/^[A-Z]/ { own = /^(SYNOPSIS|OPTIONS|.*COMMANDS)$/ } own' "$T/page" |
    options >"$T/popts"
  extra=$(comm -13 <(options <"$T/help") "$T/popts" | grep -vE "$generic" |
          grep -vE "$keys_re" | paste -sd' ' || true)
  [ -z "$extra" ] || fail "$page documents $extra, which $prog --help lacks"
done <<<"$PROGRAMS"
step "manual pages: $(ls "$MAN"/man*/*.gz | wc -l) render without warnings;" \
     "options and config keys agree with each program's --help"

# ---- (d) the shipped configurations ----------------------------------
"$ROOT/usr/bin/fedrec-aggregator" --config "$ROOT/etc/fedrec/aggregator.conf" \
  --catalogue= --check-config >"$T/out" 2>&1 ||
  { cat "$T/out" >&2; fail "/etc/fedrec/aggregator.conf fails --check-config"; }
"$ROOT/usr/bin/fedrec-client" run \
  --config "$ROOT/usr/share/doc/fedrec/examples/store.conf" --check-config \
  >"$T/out" 2>&1 ||
  { cat "$T/out" >&2; fail "examples/store.conf fails --check-config"; }
step "configuration: aggregator.conf and store.conf pass --check-config"

# ---- (f) systemd-analyze verify in the temporary root --------------------
# The root gets what a Debian system has around the package: the merged
# /usr links, the systemd package's units (sysinit.target, ...) and kill,
# which ExecReload names. The units' man: links must resolve in the root.
for d in bin lib sbin; do
  [ -e "$ROOT/$d" ] || ln -s "usr/$d" "$ROOT/$d"
done
mkdir -p "$ROOT/usr/sbin"
cp "$(type -P kill)" "$ROOT/usr/bin/kill"
for dir in /usr/lib/systemd/system /lib/systemd/system; do
  [ -d "$dir" ] && cp -rn "$dir/." "$ROOT/usr/lib/systemd/system/"
done
for unit in fedrec-aggregator.service fedrec-client@store01.service; do
  if ! MANPATH=$MAN systemd-analyze verify --root="$ROOT" "$unit" \
       >"$T/verify" 2>&1; then
    cat "$T/verify" >&2
    fail "systemd-analyze verify $unit"
  fi
  if [ -s "$T/verify" ]; then
    sed "s/^/test_package: systemd-analyze: /" "$T/verify"
  fi
done
step "systemd-analyze verify --root: both units pass"

# ---- (g) lintian ------------------------------------------------------
# Exit 0: no error; 1: errors (printed above the failure); else lintian
# itself failed. Overrides, with their reasons, are in
# deploy/debian/lintian-overrides.
rc=0
lintian -I --pedantic --show-overrides --fail-on error "$DEB" \
  >"$T/lintian" 2>&1 || rc=$?
sed 's/^/test_package: lintian: /' "$T/lintian"
case $rc in
0) ! grep -q '^E: ' "$T/lintian" || fail "lintian reports errors" ;;
1) fail "lintian reports errors" ;;
*) fail "lintian failed (exit $rc)" ;;
esac
step "lintian: 0 errors, $(grep -c '^W: ' "$T/lintian" || true) warnings," \
     "$(grep -c '^I: ' "$T/lintian" || true) notes," \
     "$(grep -c '^O: ' "$T/lintian" || true) overridden"
step "ok in $(($(date +%s) - t0)) s"
