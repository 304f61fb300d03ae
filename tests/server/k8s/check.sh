#!/usr/bin/env bash
# The test of deploy/k8s (ctest test_k8s_manifests):
#   check.sh SOURCE_DIR FEDREC_AGGREGATOR FEDREC_KEYGEN [--xfail NAME=REGEX]...
# Renders the kustomization with kubectl's kustomize (no cluster needed),
# makes throw-away keys and their Secrets with deploy/k8s/secrets.sh and
# the real fedrec-keygen, then hands everything to check_manifests.js
# (schemas, cross-checks, fedrec-aggregator --check-config, self-test).
# kubectl, node and the pinned npm packages come from scripts/deps.sh test.
set -euo pipefail

src=$1 agg=$2 keygen=$3
shift 3
here=$src/tests/server/k8s
k8s=$src/deploy/k8s

for tool in kubectl node; do
  if ! command -v "$tool" >/dev/null; then
    echo "check.sh: $tool not found: run scripts/deps.sh test" >&2
    exit 1
  fi
done
if [ ! -f "$here/node_modules/kubernetes-models/package.json" ]; then
  echo "check.sh: $here/node_modules is not installed: run scripts/deps.sh test" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every configuration other than the central's is a region's.
regions=()
for f in "$k8s"/config/*.conf; do
  r=$(basename "$f" .conf)
  [ "$r" = central ] || regions+=("$r")
done

kubectl kustomize "$k8s" > "$work/rendered.yaml"
if ! FEDREC_KEYGEN=$keygen "$k8s/secrets.sh" keys "$work/keys" "${regions[@]}" \
     > "$work/central-lines" 2> "$work/keygen.log"; then
  cat "$work/keygen.log" >&2
  exit 1
fi
"$k8s/secrets.sh" manifests "$work/keys" "${regions[@]}" > "$work/secrets.yaml"

node "$here/check_manifests.js" --src "$src" --rendered "$work/rendered.yaml" \
  --secrets "$work/secrets.yaml" --keys "$work/keys" \
  --central-lines "$work/central-lines" --aggregator "$agg" \
  --work "$work/pods" --regions "${regions[*]}" "$@"
