#!/bin/sh
# includes.sh - the module include graph drawn from the code: one line per
# edge "from -> to", where a module is a directory of common/ (base, crypto,
# ...) or one of client, server, tools, and a third-party header is shown in
# angle brackets. Run from the top level; docs/ARCHITECTURE.md is checked
# against it.
set -eu
for f in $(find client server tools common -name '*.c' -o -name '*.h' | sort); do
    case $f in
    common/*) from=$(echo "$f" | cut -d/ -f2) ;;
    *) from=$(echo "$f" | cut -d/ -f1) ;;
    esac
    dir=$(dirname "$f")
    grep -hE '^#include "' "$f" | sed -E 's/^#include "([^"]+)".*/\1/' |
    while read -r inc; do
        if [ -e "$dir/$inc" ]; then
            p=$(realpath --relative-to=. "$dir/$inc")
        elif [ -e "common/$inc" ]; then
            p="common/$inc"
        elif [ -e "server/$inc" ]; then
            p="server/$inc"
        else
            case $inc in
            *.pb-c.h) echo "$from -> <protobuf-c generated>"; continue ;;
            esac
            p=$inc
        fi
        case $p in
        common/*) to=$(echo "$p" | cut -d/ -f2) ;;
        client/* | server/* | tools/*) to=$(echo "$p" | cut -d/ -f1) ;;
        *) to="?$p" ;;
        esac
        [ "$from" = "$to" ] || echo "$from -> $to"
    done
    for lib in sodium.h zmq.h cblas.h microhttpd.h protobuf-c/protobuf-c.h; do
        if grep -qE "^#include <$lib>" "$f"; then
            echo "$from -> <$lib>"
        fi
    done
done | sort -u
