#!/usr/bin/env bash
# The keys of fedrec's aggregators on Kubernetes, and their Secrets.
#
#   secrets.sh keys DIR REGION...       make the keys that are missing in
#                                       DIR; print the central's allow-list
#                                       lines (one per region)
#   secrets.sh manifests DIR REGION...  print the Secrets, for
#                                       `kubectl apply -f -`
#
# DIR (created 0700) keeps the secret keys: back it up offline, never in
# the repository. Existing keys are kept, so running `keys` again with one
# more region adds only that region's keys. Layout:
#
#   DIR/central/central.key, .pub       the central's CURVE key; .pub is
#                                       every region's upstream_server_key
#   DIR/REGION/aggregator.key, .pub     the region's key towards its stores;
#                                       .pub is each store's server_key
#   DIR/REGION/REGION.key, .sign.key    the region's upstream key and
#                                       identity key (and their .pub): the
#                                       central's allow-list line "REGION"
#
# Secrets (namespace FEDREC_NAMESPACE, default fedrec), whose file names
# the pods' key-copy step and configurations use:
#
#   fedrec-central-keys   aggregator.key
#   fedrec-REGION-keys    aggregator.key, region.key, region.sign.key,
#                         central.pub
#
# Uses fedrec-keygen ($FEDREC_KEYGEN, default: the one on PATH) and, for
# manifests, kubectl ($KUBECTL, default kubectl; no cluster is needed).
set -euo pipefail

keygen=${FEDREC_KEYGEN:-fedrec-keygen}
kubectl=${KUBECTL:-kubectl}
namespace=${FEDREC_NAMESPACE:-fedrec}

usage() {
  echo "usage: $0 keys|manifests DIR REGION..." >&2
  exit 2
}

[ $# -ge 3 ] || usage
cmd=$1 dir=$2
shift 2
case $cmd in keys|manifests) ;; *) usage ;; esac

# A region's name is part of resource names (a DNS label) and its line on
# the central's allow-list.
for r in "$@"; do
  if ! [[ $r =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] || [ "$r" = central ]; then
    echo "$0: region name '$r': use 1-32 of a-z, 0-9 and '-' (not" \
         "at either end), and not 'central'" >&2
    exit 2
  fi
done

# Makes DIR/SUB/NAME.{key,sign.key} unless both exist (fedrec-keygen keeps
# an existing one and adds the other).
make_key() {
  local sub=$1 name=$2
  if [ -e "$dir/$sub/$name.key" ] && [ -e "$dir/$sub/$name.sign.key" ]; then
    return 0
  fi
  "$keygen" --name "$name" --dir "$dir/$sub" >/dev/null
}

need() {
  if [ ! -f "$1" ]; then
    echo "$0: $1 is missing: run '$0 keys' first" >&2
    exit 1
  fi
}

if [ "$cmd" = keys ]; then
  (umask 077 && mkdir -p "$dir")
  make_key central central
  for r in "$@"; do
    make_key "$r" aggregator
    make_key "$r" "$r"
  done
  for r in "$@"; do
    printf '%s %s %s\n' "$r" "$(cat "$dir/$r/$r.pub")" \
           "$(cat "$dir/$r/$r.sign.pub")"
  done
  exit 0
fi

need "$dir/central/central.key"
need "$dir/central/central.pub"
"$kubectl" create secret generic fedrec-central-keys \
  --namespace "$namespace" --dry-run=client -o yaml \
  --from-file=aggregator.key="$dir/central/central.key"
for r in "$@"; do
  for f in aggregator.key "$r.key" "$r.sign.key"; do
    need "$dir/$r/$f"
  done
  echo ---
  "$kubectl" create secret generic "fedrec-$r-keys" \
    --namespace "$namespace" --dry-run=client -o yaml \
    --from-file=aggregator.key="$dir/$r/aggregator.key" \
    --from-file=region.key="$dir/$r/$r.key" \
    --from-file=region.sign.key="$dir/$r/$r.sign.key" \
    --from-file=central.pub="$dir/central/central.pub"
done
