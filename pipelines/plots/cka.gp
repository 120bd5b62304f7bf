load 'plots/common.gp'
set title "Feature similarity: linear CKA per module"
set ylabel "CKA"
set yrange [0:1.05]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
plot A.'/cka-wide.tsv' using 2:xtic(1) title "P-T/P-T", '' using 3 title "RI-T/RI-T", \
     '' using 4 title "P-T/RI-T", '' using 5 title "P/P-T"
