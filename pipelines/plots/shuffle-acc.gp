load 'plots/common.gp'
set title "Target accuracy after block shuffling (mean, min-max over seeds)"
set xlabel "block size b (pixels; 28 = unshuffled)"
set ylabel "test accuracy"
set logscale x 2
set xrange [*:*] reverse
set xtics (28, 14, 7, 4, 2, 1)
set key bottom left
plot A.'/shuffle-mean.tsv' using 1:2:3:4 with yerrorlines lw 2 pt 7 title "P-T (fine-tuned)", \
     '' using 1:5:6:7 with yerrorlines lw 2 pt 5 title "RI-T (random init)"
