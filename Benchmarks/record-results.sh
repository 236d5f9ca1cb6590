#!/usr/bin/env bash
# Runs the FlareIO loopback benchmarks (Benchmarks/, package-benchmark) and records them:
#
#   bench-results/flareio-loopback.md        date, kernel, CPU, MB/s of the three cases,
#                                            ratios to the blocking baseline against targets
#   bench-results/strace-uring-loopback.txt  `strace -f -c` of one 4 GiB io_uring transfer
#
# Usage: Benchmarks/record-results.sh [--check] [--from FILE] [--no-strace]
#   --check      exit 1 when a ratio target is not met (the run is recorded either way)
#   --from FILE  parse a saved `benchmark --format markdown` run instead of running one
#   --no-strace  skip the strace capture
#
# Exits non-zero when the benchmark fails (a short transfer fails it) or a figure is missing.
set -euo pipefail

# Targets, as fractions of the blocking send/recv baseline measured in the same run.
uring_target=0.9
epoll_target=0.8

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
results_dir=$root/bench-results
report=$results_dir/flareio-loopback.md
strace_report=$results_dir/strace-uring-loopback.txt
swift=${SWIFT:-swift}

check=0
from=""
with_strace=1
while [ $# -gt 0 ]; do
  case $1 in
    --check) check=1 ;;
    --from) from=$2; shift ;;
    --no-strace) with_strace=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "record-results.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$results_dir"
run_output=$(mktemp)
trap 'rm -f "$run_output" "$run_output.strace"' EXIT

if [ -n "$from" ]; then
  cp "$from" "$run_output"
else
  echo "== running FlareIOBenchmarks (release build; 3 cases x 6 transfers of 4 GiB) =="
  (cd "$here" && "$swift" package --allow-writing-to-package-directory benchmark \
      --target FlareIOBenchmarks --format markdown --no-progress) | tee "$run_output"
fi

# Field $5 of a metric row is p50: | Metric | p0 | p25 | p50 | ...
# For a larger-is-better metric package-benchmark orders p0 as the best sample, so the
# best is $3 and the worst is p100 ($9).
metric_row() { # case-name field
  awk -v name="$1" -v field="$2" '
    /^### / { current = substr($0, 5) }
    current == name && /^\| Throughput MB\/s/ {
      gsub(/ /, ""); split($0, cells, "|"); print cells[field]; exit
    }' "$run_output"
}

blocking_name="Loopback 4 GiB blocking send-recv"
uring_name="Loopback 4 GiB FlareIO uring"
epoll_name="Loopback 4 GiB FlareIO epoll"

blocking=$(metric_row "$blocking_name" 5)
uring=$(metric_row "$uring_name" 5)
epoll=$(metric_row "$epoll_name" 5)
if [ -z "$blocking" ] || [ -z "$epoll" ]; then
  echo "record-results.sh: no Throughput MB/s figure for the blocking or epoll case in the run output" >&2
  exit 1
fi

uring_skip_reason=""
if [ -z "$uring" ]; then
  # The benchmark leaves io_uring out when it is unavailable; ask the same probe for the reason.
  (cd "$here" && "$swift" build -c release --product loopback-strace >/dev/null)
  set +e
  reason=$("$here/.build/release/loopback-strace" uring 0 2>&1 >/dev/null)
  status=$?
  set -e
  if [ $status -eq 77 ]; then
    uring_skip_reason=${reason#loopback-strace: }
  else
    echo "record-results.sh: no figure for the io_uring case, but io_uring is available here" >&2
    exit 1
  fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }
range() { echo "$(metric_row "$1" 9)–$(metric_row "$1" 3)"; }

failed=0
epoll_ratio=$(ratio "$epoll" "$blocking")
epoll_verdict=$(verdict "$epoll_ratio" "$epoll_target")
[ "$epoll_verdict" = met ] || failed=1
if [ -n "$uring" ]; then
  uring_ratio=$(ratio "$uring" "$blocking")
  uring_verdict=$(verdict "$uring_ratio" "$uring_target")
  [ "$uring_verdict" = met ] || failed=1
  uring_line="| FlareIO, io_uring (two event loops) | $uring | $(range "$uring_name") | $uring_ratio× | ≥ $uring_target× | $uring_verdict |"
else
  uring_line="| FlareIO, io_uring (two event loops) | skipped: $uring_skip_reason | | | ≥ $uring_target× | skipped |"
fi

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain -- Sources Package.swift 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes under Sources/ or in Package.swift)"
fi

{
  echo "# FlareIO loopback TCP throughput"
  echo
  echo "One TCP stream over 127.0.0.1, 4 GiB per iteration in 4 MiB send and receive calls;"
  echo "receiver and sender on separate threads (two event loops for FlareIO). Figures are the"
  echo "median (p50) of 5 measured iterations after 1 warm-up, in decimal MB/s, from"
  echo "package-benchmark target \`FlareIOBenchmarks\`; every iteration checks that the receiver"
  echo "got exactly 4 GiB."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- Kernel (\`uname -r\`): $(uname -r)"
  echo "- CPU: ${cpu_model:-unknown}, $(nproc) cores"
  echo "- Swift: $("$swift" --version 2>/dev/null | head -1)"
  echo "- Flare commit: $commit"
  echo
  echo "| Case | MB/s (p50) | worst–best | ratio to blocking | target | |"
  echo "|:--|--:|--:|--:|--:|:--|"
  echo "| blocking send/recv (baseline) | $blocking | $(range "$blocking_name") | 1.00× | | |"
  echo "$uring_line"
  echo "| FlareIO, epoll (two event loops) | $epoll | $(range "$epoll_name") | $epoll_ratio× | ≥ $epoll_target× | $epoll_verdict |"
  echo
  echo "Loopback figures on this kind of machine vary ±30% between runs; compare the ratios,"
  echo "which come from the same run."
  echo
  echo "## package-benchmark output"
  echo
  sed -n '/^## Baseline/,$p' "$run_output"
} > "$report"
echo "== wrote $report"

if [ $with_strace = 1 ]; then
  if ! command -v strace >/dev/null; then
    echo "record-results.sh: strace not installed (make deps installs it); no strace capture" >&2
  elif [ -n "$uring_skip_reason" ]; then
    echo "record-results.sh: io_uring unavailable ($uring_skip_reason); no strace capture" >&2
  else
    echo "== strace -f -c of one 4 GiB io_uring transfer"
    (cd "$here" && "$swift" build -c release --product loopback-strace >/dev/null)
    transfer=$(strace -f -c -o "$run_output.strace" "$here/.build/release/loopback-strace" uring)
    calls() { awk -v name="$1" '$NF == name { print $4; found = 1 } END { if (!found) print 0 }' "$run_output.strace"; }
    {
      echo "# strace -f -c of one 4 GiB loopback transfer on FlareIO's io_uring engine"
      echo "# (sender and receiver event loops in one process; the counts include process start-up)"
      echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), kernel $(uname -r), Flare commit $commit"
      echo "# command: strace -f -c Benchmarks/.build/release/loopback-strace uring"
      echo "# transfer (slowed by strace): $transfer"
      echo "# data path: io_uring_enter $(calls io_uring_enter) calls; recvfrom $(calls recvfrom), sendto $(calls sendto)," \
           "recvmsg $(calls recvmsg), sendmsg $(calls sendmsg) calls (a syscall missing from the table was not made)"
      echo "# epoll_wait and most futex time belong to Dispatch's threads (the async main), not to the loops"
      echo "#"
      cat "$run_output.strace"
    } > "$strace_report"
    grep -E '^# data path' "$strace_report"
    echo "== wrote $strace_report"
  fi
fi

cat "$report" | sed -n '/^| Case/,/^$/p'
if [ $check = 1 ] && [ $failed = 1 ]; then
  echo "record-results.sh: a throughput target was not met" >&2
  exit 1
fi
