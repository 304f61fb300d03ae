# bench/common.sh - what the ML-1M benchmark scripts share (sourced by
# bench/quality.sh and bench/privacy.sh): the processes they started and
# their cleanup, a free-port probe, and the scoring of one store's test
# lists, so that every benchmark computes HR@10 and NDCG@10 the same way.

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# HR@10 and NDCG@10 of one store: test lists and scores, line by line.
score_store() { # test-file scores-file
  paste "$1" "$2" | awk -F'\t' '{
      n = (NF - 1) / 2            # fields: (u,pos) negs... | s0 s1...
      split($1, a, /[(,)]/); pos = a[3]
      s0 = $(n + 2); rank = 0
      for (j = 2; j <= n + 1; j++) {
        if ($j == pos) continue
        if ($(j + n + 1) + 0 >= s0 + 0) rank++
      }
      if (rank < 10) { hr += 1; ndcg += log(2) / log(rank + 2) }
      users++
    }
    END { printf "%d %.10f %.10f\n", users, hr, ndcg }'
}
