set terminal pngcairo size 1100,900 font "sans,11"
set output OUT
set datafile separator "\t"
set grid
set multiplot layout 2,2 title "Fine-tuning from pretraining checkpoints, and their transferability scores"
set xlabel "pretraining step of the checkpoint"
set ylabel "target accuracy after fine-tuning"
plot A.'/checkpoints.tsv' using 1:4 with linespoints lw 2 pt 7 notitle
set xlabel "upstream (source test) accuracy of the checkpoint"
plot A.'/checkpoints.tsv' using 3:4 with points pt 7 ps 1.5 notitle
# The scores (left axis) and the fine-tuned accuracy (right axis) against
# the step, one panel per score of checkpoint-scores-wide.tsv.
set xlabel "pretraining step of the checkpoint"
set y2label "target accuracy after fine-tuning"
set y2tics
set ytics nomirror
set key bottom right
W = A.'/checkpoint-scores-wide.tsv'
NC = int(system("head -1 '".W."' | awk -F'\t' '{ print NF }'"))
do for [c = 2:(NC < 3 ? NC : 3)] {
	s = system("head -1 '".W."' | cut -f".c)
	name = (s eq "logme" ? "LogME" : s eq "leep" ? "LEEP" : s eq "hscore" ? "H-score" : s)
	set ylabel name." on the target's training data"
	# A score xf-eval gave for no checkpoint (a model it declines): the
	# fine-tuned accuracy alone, and the panel says so.
	scored = int(system("awk -F'\t' 'NR > 1 && $".c." != \"nan\" { k++ } END { print k + 0 }' '".W."'"))
	if (scored > 0) {
		plot W using 1:c skip 1 with linespoints lw 2 pt 7 title name, \
		     A.'/checkpoints.tsv' using 1:4 skip 1 axes x1y2 with linespoints \
		     lw 1 dt 2 pt 6 lc rgb "#777777" title "fine-tuned accuracy"
	} else {
		set label 1 name." not scored (see the report)" at graph 0.5, 0.75 center
		plot A.'/checkpoints.tsv' using 1:4 skip 1 axes x1y2 with linespoints \
		     lw 1 dt 2 pt 6 lc rgb "#777777" title "fine-tuned accuracy"
		unset label 1
	}
}
unset multiplot
