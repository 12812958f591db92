# Wall time against concurrency for 100 stop calls of 1000 ids (bench/stop/concurrency.lua),
# beside the ideal calls / concurrency x latency. usage: gnuplot -e "csv='...'; png='...'" bench/concurrency.gp
set terminal pngcairo size 800,500
set output png
set datafile separator ","
set title "Submitting 100 calls of 1000 ids, 0.1 s latency per call"
set xlabel "concurrency (requests in flight)"
set ylabel "wall time (s)"
set logscale y
set grid
set key top right
set xtics (1, 8, 16)
# Column 6 is the emulator's latency mode: "arrival" (the answer leaves 0.1 s after the
# request arrived) or "after_work" (0.1 s added after the emulator's own work).
plot csv every ::1 using 1:($5 == 0 && strcol(6) eq "arrival" ? $2 : 1/0) with linespoints lw 2 title "cloud (measured)", \
     csv every ::1 using 1:($5 == 0 && strcol(6) eq "after_work" ? $2 : 1/0) with linespoints lw 1 title "cloud, latency added after the emulator's work", \
     csv every ::1 using 1:($5 == 0 && strcol(6) eq "arrival" ? $3 : 1/0) with linespoints lw 2 dt 2 title "ideal", \
     csv every ::1 using 1:($5 > 0 ? $2 : 1/0) with points pt 7 ps 1.5 title "cloud, 30% answered 429"
