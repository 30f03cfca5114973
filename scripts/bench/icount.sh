#!/usr/bin/env bash
# Instructions per packet of the dissector (crates/inspect/examples/dissect_loop.rs), counted by
# callgrind: one pass over FILE minus a pass that only reads it. Instruction counts repeat
# exactly for the same binary and input, whatever else the machine is doing, so two builds can
# be compared on a shared machine where wall-clock time moves by 30 %.
#
#   scripts/bench/icount.sh FILE [full|lean] [flows]
#
# Needs valgrind and `cargo build --release -p netlab-inspect --example dissect_loop`.
set -euo pipefail
file=$1; shift
bin=${DISSECT_LOOP:-target/release/examples/dissect_loop}
packets=$(ROUNDS=0 "$bin" "$file" 2>&1 | awk '{print $1}')
count() {
  ROUNDS=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$file" "${@:2}" 2>&1 \
    | awk '/Collected/ {print $4}'
}
base=$(count 0 "$@")
one=$(count 1 "$@")
echo "$* : $(( (one - base) / packets )) instructions per packet ($packets packets)"
