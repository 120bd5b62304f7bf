load 'plots/common.gp'
set title "Error along the line between two solutions: θ(λ) = (1-λ)θ1 + λθ2"
set xlabel "λ"
set ylabel "test error"
set key top left
plot '< xf-cat '.A.'/interp-ptpt.xfs' using 1:5 with linespoints lw 2 title "P-T/P-T", \
     '< xf-cat '.A.'/interp-ritrit.xfs' using 1:5 with linespoints lw 2 title "RI-T/RI-T", \
     '< xf-cat '.A.'/interp-ptrit.xfs' using 1:5 with linespoints lw 2 title "P-T/RI-T"
