#!/usr/bin/env bash
# Runs the per-value functions of `benches/handoff.rs` (issue 4, items 3 and 7) one
# criterion function per process, in alternating order, and prints each one's
# estimate (criterion's middle value: ns per value; for derive_vec1000, µs per
# `Vec` of 1 000 values, which is again ns per value).
#
#   bash benches/handoff_isolated.sh [rounds] [cargo args...]
#   bash benches/handoff_isolated.sh 5 --features mimalloc
#
# Why: in one `cargo bench --bench handoff` process the functions run one after
# the other, and the second of two otherwise equal loops met the heap and caches
# the first left behind. In the eighth session the threshold path read +4.0 to
# +5.6 ns over the inline drop that way, and +1.5 to +2.8 ns in processes of its own.
# Last, for the four differences the targets are about, the median of the
# per-round differences and a 95% interval for it (below). Each round runs with
# environment variables of a different size (below), so that no one placement of
# the stack decides a difference.
set -euo pipefail
rounds=${1:-5}
shift || true
cd "$(dirname "$0")/.."
cargo bench --bench handoff --no-run "$@" >/dev/null 2>&1
fns=(
    "tiny/inline"
    "tiny/bgdrop pool drop_if_costly"
    "tiny/bgdrop defer_if_costly"
    "tiny/bgdrop-0.1.2 forced"
    "tiny/defer-drop forced"
    "tiny/basedrop forced"
    "tiny/bgdrop pool forced"
    "tiny/bgdrop Deferred forced"
    "tiny/bgdrop derive forced"
    "derive/plain struct"
    "derive/derived, fields under threshold"
    "derive_vec1000/plain struct"
    "derive_vec1000/derived, fields under threshold"
)
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
printf 'round\tfunction\tns\n'
for round in $(seq 1 "$rounds"); do
    # Each round runs its processes with environment variables of another size,
    # which moves the stack of every process: a loop of a few nanoseconds can read
    # a nanosecond or two more or less from one placement to the next (with
    # mimalloc, `defer_if_costly` read 3.3-4.6 ns run directly and 5.5-5.9 ns run
    # through cargo, whose variables moved it). The rounds then cover many
    # placements instead of one.
    export BGDROP_BENCH_PADDING
    BGDROP_BENCH_PADDING=$(printf '%*s' $(((round * 1031) % 4096)) '')
    order=($(seq 0 $((${#fns[@]} - 1))))
    if [ $((round % 2)) -eq 0 ]; then order=($(seq $((${#fns[@]} - 1)) -1 0)); fi
    for k in "${order[@]}"; do
        f=${fns[$k]}
        est=$(BENCH_SECS=${BENCH_SECS:-2} cargo bench -q --bench handoff "$@" -- "^$f\$" 2>/dev/null |
            awk '/time:/ { print $(NF-3) }')
        printf '%s\t%s\t%s\n' "$round" "$f" "$est" | tee -a "$rows"
    done
done

# The targets are differences (items 3 and 7), and the machine drifts between
# rounds by more than they are, so compare within each round: the median of the
# per-round differences, with a distribution-free 95% interval for it (order
# statistics of the sorted differences, from the binomial distribution; at least
# six rounds).
echo
printf 'contender\tbaseline\tmedian difference (ns)\t95%% interval\trounds\n'
awk -F '\t' '
    { ns[$1, $2] = $3; if ($1 > last) last = $1 }
    function pair(a, b,    r, n, d, i, j, t, med, l, p, cum, lo) {
        n = 0
        for (r = 1; r <= last; r++)
            if (((r, a) in ns) && ((r, b) in ns) && ns[r, a] != "" && ns[r, b] != "")
                d[++n] = ns[r, b] - ns[r, a]
        if (n == 0) return
        for (i = 2; i <= n; i++) {
            t = d[i]
            for (j = i - 1; j >= 1 && d[j] > t; j--) d[j + 1] = d[j]
            d[j + 1] = t
        }
        med = (n % 2) ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2
        # The largest l with P(X < l) <= 0.025 for X ~ Binomial(n, 1/2).
        p = 0.5 ^ n; cum = 0; l = 0
        for (i = 0; i < n; i++) {
            if (cum + p > 0.025) break
            cum += p; l = i + 1
            p = p * (n - i) / (i + 1)
        }
        lo = (l >= 1) ? sprintf("%+.2f to %+.2f", d[l], d[n - l + 1]) : "too few rounds"
        printf "%s\t%s\t%+.2f\t%s\t%d\n", b, a, med, lo, n
    }
    END {
        pair("tiny/inline", "tiny/bgdrop pool drop_if_costly")
        pair("tiny/inline", "tiny/bgdrop defer_if_costly")
        pair("derive/plain struct", "derive/derived, fields under threshold")
        pair("derive_vec1000/plain struct", "derive_vec1000/derived, fields under threshold")
    }' "$rows"
