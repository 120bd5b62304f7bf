load 'plots/common.gp'
# Lines: the mean over seeds of each kind; dots: each seed's run, shifted a
# little sideways per kind so they do not hide each other (as in Yosinski et
# al.'s figure).  A seed far below its line is a run that did not train.
set title "Transfer by layer (Yosinski et al.): accuracy on task B"
set xlabel "layers copied, n"
set ylabel "test accuracy on B"
set key at graph 0.02, graph 0.62 left top box opaque
set xtics 1
set autoscale xfix
set offsets 0.3, 0.3, 0, 0
set yrange [0:1.02]
L = A.'/yosinski.tsv'
W = A.'/yosinski-wide.tsv'
dot(k, dx) = sprintf("< awk -F'\t' 'BEGIN { print \"n\tacc\" } $1 == \"%s\" { print $2 + %g \"\t\" $4 }' %s", k, dx, L)
plot W using 1:2 with lines dt 2 lw 2 lc rgb "black" title "baseB", \
     W using 1:3 with linespoints lw 2 lc 1 title "AnB", \
     W using 1:4 with linespoints lw 2 lc 2 title "BnB", \
     W using 1:5 with linespoints lw 2 lc 3 title "AnB+", \
     W using 1:6 with linespoints lw 2 lc 4 title "BnB+", \
     W using 1:7 with linespoints lw 2 lc 5 title "random frozen", \
     W using 1:8 with linespoints lw 2 lc 6 title "dissimilar (FM→digits)", \
     dot("AnB", -0.1) using 1:2 with points pt 7 ps 0.6 lc 1 notitle, \
     dot("BnB", -0.06) using 1:2 with points pt 7 ps 0.6 lc 2 notitle, \
     dot("AnB+", -0.02) using 1:2 with points pt 7 ps 0.6 lc 3 notitle, \
     dot("BnB+", 0.02) using 1:2 with points pt 7 ps 0.6 lc 4 notitle, \
     dot("rand", 0.06) using 1:2 with points pt 7 ps 0.6 lc 5 notitle, \
     dot("dis", 0.1) using 1:2 with points pt 7 ps 0.6 lc 6 notitle
