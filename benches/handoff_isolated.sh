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
printf 'round\tfunction\tns\n'
for round in $(seq 1 "$rounds"); do
    order=($(seq 0 $((${#fns[@]} - 1))))
    if [ $((round % 2)) -eq 0 ]; then order=($(seq $((${#fns[@]} - 1)) -1 0)); fi
    for k in "${order[@]}"; do
        f=${fns[$k]}
        est=$(BENCH_SECS=${BENCH_SECS:-2} cargo bench -q --bench handoff "$@" -- "^$f\$" 2>/dev/null |
            awk '/time:/ { print $(NF-3) }')
        printf '%s\t%s\t%s\n' "$round" "$f" "$est"
    done
done
