load 'plots/common.gp'
# Four panels: linear CKA and, on the same pairs and modules, SVCCA, PWCCA
# and the Procrustes distance (lower is more similar).  A panel whose table
# is missing (an older run) is left out.
set terminal pngcairo size 1300,900 font "sans,11"
set output OUT
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set multiplot layout 2,2 title "Feature similarity per module, four pairs"
set title "linear CKA"
set ylabel "CKA"
set yrange [0:1.05]
plot A.'/cka-wide.tsv' using 2:xtic(1) title "P-T/P-T", '' using 3 title "RI-T/RI-T", \
     '' using 4 title "P-T/RI-T", '' using 5 title "P/P-T"
do for [m in "svcca pwcca procrustes"] {
	f = A.'/similarity-'.m.'-wide.tsv'
	if (m eq "procrustes") {
		set title "Procrustes distance (lower: more similar)"
		set ylabel "distance"
		set yrange [0:*]
	} else {
		set title (m eq "svcca" ? "SVCCA" : "PWCCA")." (mean canonical correlation)"
		set ylabel m
		set yrange [0:1.05]
	}
	plot f using 2:xtic(1) title "P-T/P-T", '' using 3 title "RI-T/RI-T", \
	     '' using 4 title "P-T/RI-T", '' using 5 title "P/P-T"
}
unset multiplot
