#!/bin/sh
# shape.sh - the code's shape: production files over 700 and 1000 lines and
# functions over 80 lines (needs universal-ctags). Run from the top level.
set -eu
dirs="client server common tools"
echo "files over 700 lines:"
find $dirs -name '*.c' -o -name '*.h' | xargs wc -l | grep -v total |
    awk '$1 > 700 {print "  " $1, $2}' | sort -rn
echo "functions over 80 lines:"
find $dirs -name '*.c' | xargs ctags --fields=+ne -o - --kinds-C=f |
    awk -F'\t' '{ln = en = 0
        for (i = 4; i <= NF; i++) {
            if ($i ~ /^line:/) ln = substr($i, 6)
            if ($i ~ /^end:/) en = substr($i, 5)
        }
        if (en - ln + 1 > 80) print "  " en - ln + 1, $1, $2}' | sort -rn
