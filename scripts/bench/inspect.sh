#!/usr/bin/env bash
# Inspector benchmark (docs/performance.md, "Inspector"): reading a capture with netlab's views
# and with tshark and tcpdump, in the same run, output to /dev/null. Reports wall time, CPU time
# (user + system, bash's `time`) and peak memory (/usr/bin/time), best of ROUNDS. CPU time is the
# fairer measure on a shared machine: wall time includes waiting for a core.
#
#   scripts/bench/inspect.sh FILE.pcapng [ROUNDS]
#   NETLAB=/tmp/netlab-before scripts/bench/inspect.sh FILE.pcapng   # another build
#
# Make FILE with `cargo run --release -p netlab-inspect --example make_bench_capture -- FILE` (the
# varied capture), or with scripts/bench/inspect-traffic.py while `netlab inspect live -c 100000
# -w FILE` captures. Needs tshark and tcpdump (apt-get install tshark tcpdump) and a release build.
set -euo pipefail
file=$1
rounds=${2:-3}
netlab=${NETLAB:-target/release/netlab}
packets=$($netlab inspect read "$file" --stats --json | head -1 | sed 's/.*"packets":\([0-9]*\).*/\1/')

measure() { # name, command...: prints "name wall user maxrss" for the best (lowest user) round
  local name=$1; shift
  local best=""
  # Times from bash's `time` (to the millisecond; /usr/bin/time rounds to 10 ms, which is 15 %
  # of a 0.06 s run), peak memory from /usr/bin/time.
  local TIMEFORMAT="%3R %3U %3S"
  for _ in $(seq "$rounds"); do
    if ! { time /usr/bin/time -f "%M" -o /tmp/netlab-bench.rss "$@" > /dev/null 2>/dev/null; } \
      2> /tmp/netlab-bench.time; then
      # An older binary without an option, say: report it and go on with the next command.
      echo "| $name | failed ($(head -1 /tmp/netlab-bench.rss)) | | | |"
      return
    fi
    read -r wall user sys < /tmp/netlab-bench.time
    read -r rss < /tmp/netlab-bench.rss
    user=$(awk "BEGIN{print $user + $sys}")
    if [ -z "$best" ] || awk "BEGIN{exit !($user < ${best#* })}" </dev/null 2>/dev/null; then
      best="$wall $user $rss"
    fi
  done
  read -r wall user rss <<< "$best"
  awk -v n="$name" -v w="$wall" -v u="$user" -v r="$rss" -v p="$packets" 'BEGIN {
    cpu = (u > 0) ? p / u : 0
    printf "| %-28s | %7.3f s | %7.3f s | %10.0f | %8.1f MiB |\n", n, w, u, cpu, r / 1024 }'
}

echo "$packets packets in $file ($(du -h "$file" | cut -f1)), $(nproc) cores, best of $rounds"
echo "| command | wall | CPU (user+sys) | packets per CPU second | peak RSS |"
echo "|---|---|---|---|---|"
measure "netlab inspect read" "$netlab" inspect read "$file"
measure "netlab inspect read --json" "$netlab" inspect read "$file" --json
measure "netlab inspect read --json --detail" "$netlab" inspect read "$file" --json --detail
measure "netlab inspect read --stats" "$netlab" inspect read "$file" --stats
# SKIP_PEERS=1 times only netlab (for a second build in the same session).
[ -n "${SKIP_PEERS:-}" ] && exit 0
measure "tshark -n -r" tshark -n -r "$file"
# tshark's JSON takes about 110 µs a packet: SKIP_TSHARK_JSON=1 leaves it out on big files.
if [ -z "${SKIP_TSHARK_JSON:-}" ]; then
  measure "tshark -n -r -T json" tshark -n -r "$file" -T json
fi
if command -v tcpdump > /dev/null; then
  measure "tcpdump -n -r" tcpdump -n -r "$file"
fi
