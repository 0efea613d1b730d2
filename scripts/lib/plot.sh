# shellcheck shell=bash
# SVG plots of benchmark results with gnuplot, sourced by scripts/bench-scale and
# scripts/bench-failover. Plots go to docs/plots/ (made by plot_setup).
#
# A data file is whitespace-separated columns with a header line naming each column;
# a value may be "-" (missing: no point, no bar). A label with spaces is written in
# double quotes ("1s term").
#
#   plot_setup                 installs gnuplot-nox if gnuplot is missing, makes docs/plots
#   plot_lines OUT TITLE XLABEL YLABEL DATA [logx] [logy]
#                              column 1 is x; every other column is one line with points,
#                              named by its header; with logx the x tics are the x values
#   plot_bars OUT TITLE YLABEL DATA [logy]
#                              grouped bars: one group per row (column 1 is its label),
#                              one bar per other column, named by its header, its value
#                              written above it; with logy values below 1 are drawn as 1
#                              (a log axis has no 0)

plot_dir=docs/plots

plot_setup() {
    if ! command -v gnuplot >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
    fi
    mkdir -p "$plot_dir"
}

# A gnuplot single-quoted string (a quote inside is doubled).
plot_str() { printf "'%s'" "${1//\'/\'\'}"; }

# The lines every plot starts with: terminal, output, title, axis labels.
plot_head() { # OUT TITLE XLABEL YLABEL
    cat <<EOF
set terminal svg size 720,420 dynamic enhanced font 'sans,11'
set output $(plot_str "$1")
set title $(plot_str "$2") noenhanced
set xlabel $(plot_str "$3") noenhanced
set ylabel $(plot_str "$4") noenhanced
set datafile missing '-'
set grid ytics lc rgb '#dddddd' lt 1
set border 3
set tics nomirror
set key below noenhanced
EOF
}

plot_lines() {
    local out=$1 title=$2 xlabel=$3 ylabel=$4 data=$5 opt logx=no logy=no ncol
    for opt in "${@:6}"; do
        case $opt in
            logx) logx=yes ;;
            logy) logy=yes ;;
            *) echo "plot_lines: unknown option $opt" >&2; return 1 ;;
        esac
    done
    ncol=$(awk 'NR == 1 { print NF; exit }' "$data")
    {
        plot_head "$out" "$title" "$xlabel" "$ylabel"
        if [ "$logx" = yes ]; then
            # The x values themselves as tics: 1 16 64 255 rather than 1 10 100.
            awk 'NR > 1 && $1 != "-" {
                    tics = tics sep $1; sep = ", "
                    if (lo == "" || $1 < lo) lo = $1
                    if ($1 > hi) hi = $1
                }
                END { print "set logscale x"; print "set xtics (" tics ")"
                      printf "set xrange [%g:%g]\n", lo / 1.4, hi * 1.4 }' "$data"
        fi
        if [ "$logy" = yes ]; then
            echo "set logscale y"
            echo "set format y '%g'"
        else
            echo "set xzeroaxis lt 1 lc rgb '#888888'"
        fi
        echo "plot for [i=2:$ncol] $(plot_str "$data") using 1:i with linespoints lw 2 pt 7 ps 0.8 title columnheader(i)"
    } | gnuplot
}

plot_bars() {
    local out=$1 title=$2 ylabel=$3 data=$4 opt logy=no ncol value
    for opt in "${@:5}"; do
        case $opt in
            logy) logy=yes ;;
            *) echo "plot_bars: unknown option $opt" >&2; return 1 ;;
        esac
    done
    ncol=$(awk 'NR == 1 { print NF; exit }' "$data")
    value='column(i)'
    {
        plot_head "$out" "$title" "" "$ylabel"
        echo "set style data histograms"
        echo "set style histogram clustered gap 1"
        echo "set style fill solid 0.85 border -1"
        echo "set boxwidth 0.9"
        echo "set xtics scale 0 rotate by -30"
        if [ "$logy" = yes ]; then
            echo "set logscale y"
            echo "set format y '%g'"
            # Bars grow from 0.5, so that a 1 shows; a 0 is drawn as 1.
            echo "set yrange [0.5:*]"
            value='(column(i) < 1 ? 1 : column(i))'
        else
            echo "set yrange [0:*]"
        fi
        # Each bar's value above it; bar i of row r sits at r + (i - 1 - k/2 - 1/2) / (k + 1)
        # for k bars per row and a gap of one bar.
        echo "k = $ncol - 1"
        echo "plot for [i=2:$ncol] $(plot_str "$data") using $value:xtic(1) title columnheader(i), \\"
        echo "     for [i=2:$ncol] $(plot_str "$data") skip 1 using (\$0 + (i - 1 - k / 2.0 - 0.5) / (k + 1)):$value:(sprintf('%g', column(i))) with labels rotate by 90 left offset 0, 0.3 font ',8' notitle"
    } | gnuplot
}
