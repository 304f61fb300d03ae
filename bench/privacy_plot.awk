# privacy_plot.awk: the privacy-utility curve of bench/privacy.sh as SVG.
# Reads bench-run/privacy/results.txt; HR@10 against epsilon (log x), one
# line per model kind and store count, the no-DP figure of each and TopPop
# (-v toppop=0.4533) as horizontal references. Mean over seeds.
# usage: awk -v toppop=0.4533 -f bench/privacy_plot.awk results.txt > curve.svg
/^#/ || $1 == "model" { next }
{
  st = $1 ", " $2; e = $3
  if (e == "-") { nh[st] += $7; nn[st]++; next }
  k = st SUBSEP e; h[k] += $7; n[k]++
  if (!(st in seen)) { seen[st] = 1; stores[++ns] = st }
  if (!(e in eseen)) { eseen[e] = 1; eps[++ne] = e + 0 }
}
function px(e) { return L + (log(e) - lx0) / (lx1 - lx0) * (W - L - R) }
function py(v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B) }
END {
  W = 700; H = 420; L = 60; R = 210; T = 30; B = 50
  # epsilons ascending
  for (i = 1; i <= ne; i++) for (j = i + 1; j <= ne; j++) if (eps[j] < eps[i]) { t = eps[i]; eps[i] = eps[j]; eps[j] = t }
  lx0 = log(eps[1]) - 0.15; lx1 = log(eps[ne]) + 0.15
  y0 = 0; y1 = 0.8
  split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b", col, " ")
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"18\" font-size=\"14\">ML-1M, member-level DP (delta 1e-6), secure aggregation: HR@10 vs epsilon</text>\n", L
  for (v = 0; v <= y1 + 1e-9; v += 0.1) {
    printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, W - R, py(v), py(v)
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 6, py(v) + 4, v
  }
  for (i = 1; i <= ne; i++) {
    printf "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", px(eps[i]), px(eps[i]), T, H - B
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", px(eps[i]), H - B + 16, eps[i]
  }
  printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, W - R, H - B, H - B
  printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, L, T, H - B
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epsilon (log scale)</text>\n", (L + W - R) / 2, H - 12
  printf "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">HR@10 (test)</text>\n", (T + H - B) / 2, (T + H - B) / 2
  # TopPop and TopPop + 0.15
  printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"2 3\"/>\n", L, W - R, py(toppop), py(toppop)
  printf "<text x=\"%d\" y=\"%.1f\" fill=\"gray\">TopPop %.4f</text>\n", W - R + 6, py(toppop) + 4, toppop
  printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"8 4\"/>\n", L, W - R, py(toppop + 0.15), py(toppop + 0.15)
  printf "<text x=\"%d\" y=\"%.1f\" fill=\"gray\">TopPop + 0.15</text>\n", W - R + 6, py(toppop + 0.15) + 4
  for (s = 1; s <= ns; s++) {
    st = stores[s]; c = col[s]; pts = ""
    for (i = 1; i <= ne; i++) {
      k = st SUBSEP eps[i]
      if (!(k in n)) { for (e in eseen) if (e + 0 == eps[i] && (st SUBSEP e) in n) k = st SUBSEP e }
      if (!(k in n)) continue
      v = h[k] / n[k]
      pts = pts sprintf("%.1f,%.1f ", px(eps[i]), py(v))
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(eps[i]), py(v), c
    }
    printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, c
    printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s stores, DP</text>\n", W - R + 6, T + 16 * s, c, st
    if (st in nn) {
      v = nh[st] / nn[st]
      printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"6 3\"/>\n", L, W - R, py(v), py(v), c
      printf "<text x=\"%d\" y=\"%.1f\" fill=\"%s\">%s, no DP %.4f</text>\n", W - R + 6, py(v) + (s % 2 ? -2 : 12), c, st, v
    }
  }
  print "</svg>"
}
