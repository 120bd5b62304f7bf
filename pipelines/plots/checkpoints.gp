set terminal pngcairo size 1100,450 font "sans,11"
set output OUT
set datafile separator "\t"
set grid
set multiplot layout 1,2 title "Fine-tuning from pretraining checkpoints"
set xlabel "pretraining step of the checkpoint"
set ylabel "target accuracy after fine-tuning"
plot A.'/checkpoints.tsv' using 1:4 with linespoints lw 2 pt 7 notitle
set xlabel "upstream (source test) accuracy of the checkpoint"
plot A.'/checkpoints.tsv' using 3:4 with points pt 7 ps 1.5 notitle
unset multiplot
