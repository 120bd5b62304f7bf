load 'plots/common.gp'
set title "Transfer by layer (Yosinski et al.): accuracy on task B"
set xlabel "layers copied, n"
set ylabel "test accuracy on B"
set key outside right
set xtics 1
plot A.'/yosinski-wide.tsv' using 1:2 with lines dt 2 lw 2 lc rgb "black" title "baseB", \
     '' using 1:3 with linespoints lw 2 title "AnB", '' using 1:4 with linespoints lw 2 title "BnB", \
     '' using 1:5 with linespoints lw 2 title "AnB+", '' using 1:6 with linespoints lw 2 title "BnB+", \
     '' using 1:7 with linespoints lw 2 title "random frozen", '' using 1:8 with linespoints lw 2 title "dissimilar (FM→digits)"
