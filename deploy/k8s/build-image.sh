#!/usr/bin/env bash
# Builds the aggregators' image (deploy/k8s/Containerfile) from the Debian
# package `make package` left in build-pkg/:
#
#   deploy/k8s/build-image.sh [IMAGE]     default IMAGE: fedrec:VERSION
#
# VERSION is the package's (fedrec_VERSION_ARCH.deb). The build context is
# a temporary directory with only the .deb and the Containerfile, so none
# of the source or build trees is sent to the builder. Uses podman, or
# docker when podman is missing ($BUILDER overrides).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pkgdir=${FEDREC_PKG_DIR:-$here/../../build-pkg}
shopt -s nullglob
debs=("$pkgdir"/fedrec_*.deb)
if [ ${#debs[@]} -ne 1 ]; then
  echo "$0: expected exactly one fedrec_*.deb in $pkgdir (found" \
       "${#debs[@]}): run 'make package', or remove the old ones" >&2
  exit 1
fi
deb=${debs[0]}
version=$(basename "$deb" .deb | cut -d_ -f2)
image=${1:-fedrec:$version}
builder=${BUILDER:-$(command -v podman || command -v docker || true)}
if [ -z "$builder" ]; then
  echo "$0: neither podman nor docker found (set BUILDER)" >&2
  exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$deb" "$here/Containerfile" "$ctx/"
"$builder" build -f "$ctx/Containerfile" -t "$image" "$ctx"
echo "$image"
