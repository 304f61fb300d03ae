#!/usr/bin/env bash
# Installs the Debian packages fedrec builds and tests with, if any is missing.
# `scripts/deps.sh test` also installs what the black-box monitoring test
# drives (a real Prometheus, headless Chromium and curl) and what the
# package test checks the .deb with; `scripts/deps.sh package` installs
# what `make package` needs (dpkg-shlibdeps and file for CPack's Depends,
# lintian, systemd-analyze, man, fakeroot for the checks); `scripts/deps.sh
# fuzz` adds clang (libFuzzer ships with it) for `make fuzz`.
# As root it runs apt-get itself; otherwise it prints the exact command and
# fails, so nothing is half-installed behind the user's back.
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config
          libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
          libsodium-dev libopenblas-dev libcmocka-dev
          libmicrohttpd-dev libsystemd-dev scdoc)
PACKAGE_PACKAGES=(dpkg-dev file lintian systemd man-db fakeroot)
TEST_PACKAGES=(prometheus chromium curl "${PACKAGE_PACKAGES[@]}")

if [ "${1:-}" = test ]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
elif [ "${1:-}" = package ]; then
  PACKAGES+=("${PACKAGE_PACKAGES[@]}")
elif [ "${1:-}" = fuzz ]; then
  PACKAGES+=(clang)
elif [ $# -gt 0 ]; then
  echo "usage: scripts/deps.sh [test|package|fuzz]" >&2
  exit 2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The Kubernetes manifests' test (tests/server/k8s) needs kubectl (its
# kustomize), node and npm. Another package may provide them (an upstream
# kubectl, Node.js from elsewhere) and would conflict with Debian's, so a
# command that is there is kept; a missing one comes from Debian.
TEST_COMMANDS=(kubectl:kubernetes-client node:nodejs npm:npm)
if [ "${1:-}" = test ]; then
  for c in "${TEST_COMMANDS[@]}"; do
    command -v "${c%%:*}" >/dev/null || missing+=("${c#*:}")
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "fedrec: missing Debian packages: ${missing[*]}" >&2
    echo "fedrec: run as root:  apt-get update && $line" >&2
    exit 1
  fi
  echo "fedrec: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The same test's npm packages, exactly as its package-lock.json pins them,
# into tests/server/k8s/node_modules (not committed), whenever the
# lock file differs from the one installed last.
if [ "${1:-}" = test ]; then
  npm_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/server/k8s"
  if ! cmp -s "$npm_dir/package-lock.json" "$npm_dir/node_modules/.fedrec-lock"; then
    echo "fedrec: installing the npm packages of $npm_dir" >&2
    (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp "$npm_dir/package-lock.json" "$npm_dir/node_modules/.fedrec-lock"
  fi
fi
