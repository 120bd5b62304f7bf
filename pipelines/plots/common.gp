# Shared look; every script is run as: gnuplot -e "A='dir'; OUT='file.png'" X.gp
set terminal pngcairo size 900,560 font "sans,11"
set output OUT
set datafile separator "\t"
set key autotitle columnhead
set grid
set border 3
set tics nomirror
