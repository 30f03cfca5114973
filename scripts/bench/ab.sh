#!/usr/bin/env bash
# Compare builds of `netlab inspect read FILE VIEW...` on a shared, noisy machine: the builds run
# in turn, ROUNDS times each, and each one's CPU time (perf's task-clock) is reported as the
# minimum and the median of its rounds. Running them in turn spreads the machine's noise over
# all of them; the minimum is the run least disturbed. Used for every step of the fourth pass in
# docs/performance.md ("Inspector").
#
#   scripts/bench/ab.sh FILE ROUNDS "VIEW ARGS" BINARY...
#   scripts/bench/ab.sh bench.pcapng 11 "--json" /tmp/netlab-before target/release/netlab
#
# Needs perf (Debian package linux-perf).
set -euo pipefail
file=$1
rounds=$2
view=$3
shift 3
declare -A times
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    # shellcheck disable=SC2086 # the view's arguments are meant to split
    t=$(perf stat -x, -e task-clock "$bin" inspect read "$file" $view 2>&1 >/dev/null \
      | grep task-clock | cut -d, -f1)
    times[$bin]="${times[$bin]:-} $t"
  done
done
for bin in "$@"; do
  printf '%s: ' "$bin"
  tr ' ' '\n' <<< "${times[$bin]}" | grep . | sort -n \
    | awk '{a[NR] = $1} END {printf "min %.1f ms, median %.1f ms (%d runs)\n", a[1], a[int((NR + 1) / 2)], NR}'
done
