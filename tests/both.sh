#!/bin/sh
# The whole suite against each reelc given (plain, then sanitized), then one
# line that sums them.  Exit status 0 only if every run passed.
set -u
passed=0 failed=0 status=0
for reelc in "$@"; do
  echo "==== the test suite against $reelc"
  log=$(mktemp)
  REELC="$(cd "$(dirname "$reelc")" && pwd)/$(basename "$reelc")" tclsh tests/all.tcl | tee "$log"
  [ "$(tail -n 1 "$log" | grep -c ' passed, .* failed$')" = 1 ] || status=1
  p=$(tail -n 1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(tail -n 1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  rm -f "$log"
  [ -n "$p" ] || { p=0; f=1; }
  passed=$((passed + p)) failed=$((failed + f))
done
[ "$failed" = 0 ] || status=1
echo "total: $passed passed, $failed failed"
exit $status
