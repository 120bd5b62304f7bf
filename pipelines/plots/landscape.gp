load 'plots/common.gp'
set title "Loss along a random filter-normalised direction around each solution"
set xlabel "t (θ + t·d)"
set ylabel "test loss"
set key top center
plot '< xf-cat '.A.'/land-pt.xfs' using 1:6 with linespoints lw 2 title "P-T", \
     '< xf-cat '.A.'/land-rit.xfs' using 1:6 with linespoints lw 2 title "RI-T"
