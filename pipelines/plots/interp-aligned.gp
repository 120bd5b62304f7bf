load 'plots/common.gp'
# PAIRS: the first pair of each kind, e.g. "rit-s1-s2 pt-s1-s2"
set title "Error along the line, before and after permutation alignment (weight matching)"
set xlabel "λ"
set ylabel "test error"
set key top left
name(p) = (p[1:3] eq "rit" ? "RI-T/RI-T" : "P-T/P-T")
plot for [p in PAIRS] '< xf-cat '.A.'/aligned/'.p.'-raw.xfs' using 1:5 with linespoints lw 2 title name(p)." ".p[strstrt(p,"-")+1:]." as trained", \
     for [p in PAIRS] '< xf-cat '.A.'/aligned/'.p.'-aligned.xfs' using 1:5 with linespoints lw 2 dt 2 title name(p)." aligned", \
     for [p in PAIRS] '< xf-cat '.A.'/aligned/'.p.'-raw.xfs' using 1:8 with lines lw 2 dt 3 title name(p)." ensemble of the endpoints"
