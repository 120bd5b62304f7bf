# The regime figures: gnuplot -e "A='dir'; OUT='f.png'; PAIRS='near far'" regime.gp
# test accuracy of P-T and RI-T against N_TARGET, one panel per pair; with
# CURVES=1 and NS = REG_N (ascending, all last), the validation curves
# of seed 1 instead, size i of NS drawn from the rows with size_index i.
# An accuracy lies in [0, 1]: a t-interval over three seeds, one of them
# stuck at chance, reaches past both ends, and is drawn clipped to them
# (the report's table gives it whole).
load 'plots/common.gp'
set terminal pngcairo size 1100,480 font "sans,11"
set output OUT
set multiplot layout 1,words(PAIRS)
clip(y) = y < 0 ? 0 : y > 1 ? 1 : y
if (!exists("CURVES")) {
  set xlabel "target training set size N (log)"
  set ylabel "test accuracy"
  set logscale x 10
  set key bottom right
  do for [p in PAIRS] {
    set title (p eq "near" ? "near: classes A → classes B" : "far: Fashion-MNIST → MNIST")." (mean, 95% CI)"
    plot A.'/regime-mean.tsv' using (strcol(1) eq p ? $2 : NaN):3:(clip($4)):(clip($5)) \
         with yerrorlines lw 2 pt 7 title "P-T", \
         '' using (strcol(1) eq p ? $2*1.04 : NaN):6:(clip($7)):(clip($8)) \
         with yerrorlines lw 2 pt 5 title "RI-T"
  }
} else {
  set xlabel "step"
  set ylabel "validation accuracy"
  set key bottom right font ",9"
  do for [p in PAIRS] {
    set title (p eq "near" ? "near" : "far")." learning curves (seed 1; solid P-T, dashed RI-T)"
    plot for [i=1:words(NS)] A.'/regime-curves.tsv' \
           using ((strcol(1) eq p && strcol(3) eq "pt" && $4 == 1 && $7 == i) ? $5 : NaN):6 \
           with lines lw 2 lc i dt 1 title "N=".word(NS,i), \
         for [i=1:words(NS)] '' \
           using ((strcol(1) eq p && strcol(3) eq "rit" && $4 == 1 && $7 == i) ? $5 : NaN):6 \
           with lines lw 2 lc i dt 2 notitle
  }
}
unset multiplot
