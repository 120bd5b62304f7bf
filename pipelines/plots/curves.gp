load 'plots/common.gp'
set title "Learning curves: validation accuracy during training (seed 1)"
set xlabel "step"
set ylabel "validation accuracy"
set key bottom right
# BIG and SMALL are the largest and smallest block sizes.
plot for [k in "pt rit"] for [b in BIG." ".SMALL] A.'/curves.tsv' \
     using ((strcol(2) eq k && $1 == b+0 && $3 == 1) ? $4 : NaN):5 \
     with linespoints lw 2 title (k eq "pt" ? "P-T" : "RI-T")." b=".b
