# Criticality heatmaps, one panel per module: mean error over (alpha, sigma);
# white circles mark the feasible cells (error <= eps).  KIND: pt or rit.
set terminal pngcairo size 1200,700 font "sans,10"
set output OUT
set datafile separator "\t"
MODS = system("xf-cat ".A."/critic-".KIND.".sum.xfs | awk -F'\t' 'NR>1 && $1!=\"network\"{printf \"%s \", $1}'")
n = words(MODS)
cols = n > 3 ? 3 : n
rows = (n + cols - 1) / cols
set multiplot layout rows, cols title "Module criticality of ".(KIND eq "pt" ? "P-T (θ0 = P)" : "RI-T (θ0 = random init)").": error over (α, σ)"
set xlabel "α (0 = initial, 1 = final)"
set ylabel "σ"
set cblabel "error"
# Log colour scale: the valley (a few per cent of error) and chance (90%)
# both show.
set xrange [-0.1:1.1]
set autoscale yfix
set logscale cb
set cbrange [0.02:1]
set cbtics ("2%%" 0.02, "5%%" 0.05, "10%%" 0.1, "20%%" 0.2, "50%%" 0.5, "100%%" 1)
set palette defined (0 "#1a9850", 0.5 "#fee08b", 1 "#d73027")
unset key
do for [m in MODS] {
    set title m
    plot '< xf-cat '.A.'/critic-'.KIND.'.xfs | awk -F"\t" -v m='.m.' "NR==1||\$1==m"' \
         using 2:3:($5 < 0.02 ? 0.02 : $5) with image, \
         '' using 2:(strcol(6) eq "true" ? $3 : NaN) with points pt 6 ps 2 lc rgb "white"
}
unset multiplot
