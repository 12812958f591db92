# Wall time against concurrency for the stop calls of 1000 ids (bench/stop/concurrency.lua),
# beside the ideal calls / concurrency x latency. usage: gnuplot -e "csv='...'; png='...'" bench/concurrency.gp
# The title's calls and latency come from the CSV (columns 7, 8), the x tics from its
# concurrency levels (column 1).
set terminal pngcairo size 800,500
set output png
set datafile separator ","
stats csv every ::1 using 7:8 nooutput
set title sprintf("Submitting %d calls of 1000 ids, %g s latency per call", STATS_max_x, STATS_max_y)
set xlabel "concurrency (requests in flight)"
set ylabel "wall time (s)"
set logscale y
set grid
set key top right
# Column 6 is the emulator's latency mode: "arrival" (the answer leaves the latency after
# the request arrived) or "after_work" (the latency added after the emulator's own work);
# "arrival_given": arrival, with the client's pace given (its stop calls skip the slow start).
plot csv every ::1 using 1:($5 == 0 && strcol(6) eq "arrival" ? $2 : 1/0):xtic(1) with linespoints lw 2 title "cloud (measured)", \
     csv every ::1 using 1:($5 == 0 && strcol(6) eq "after_work" ? $2 : 1/0):xtic(1) with linespoints lw 1 title "cloud, latency added after the emulator's work", \
     csv every ::1 using 1:($5 == 0 && strcol(6) eq "arrival_given" ? $2 : 1/0) with linespoints lw 1 dt 3 title "cloud, pace given (no slow start)", \
     csv every ::1 using 1:($5 == 0 && strcol(6) eq "arrival" ? $3 : 1/0) with linespoints lw 2 dt 2 title "ideal", \
     csv every ::1 using 1:($5 > 0 ? $2 : 1/0) with points pt 7 ps 1.5 title "cloud, 30% answered 429"
