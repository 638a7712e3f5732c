#!/bin/sh
# Fuzz reelc's two readers of untrusted files with libFuzzer (clang, ASan,
# UBSan), one fuzzer process at a time:
#
#   tests/fuzz/run.sh [SECONDS]     (default 60 seconds per harness)
#
#   spec         tests/fuzz/fuzz_spec.c: spec text -> parse ... lower, plan
#   safetensors  tests/fuzz/fuzz_safetensors.c: a weight file -> read, bind
#
# Each harness starts from a scratch copy of tests/fuzz/corpus/<name>/ plus
# the repo's specs (spec) or small goldens (safetensors), so the committed
# corpus only changes when something is found: a crash, timeout or
# out-of-memory input is copied into tests/fuzz/corpus/<name>/ under a name
# saying what it hit, and the script exits 1.  tests/fuzz.test replays that
# corpus through the reelc CLI on every `make test`.
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-60}
case $seconds in
  '' | *[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS]" >&2; exit 2 ;;
esac
out=build/fuzz
mkdir -p $out/obj

# ---- build: the compiler without main.c, instrumented, then each harness
make -s build/runtime_files.c || exit 2
cflags="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Icompiler -Iruntime -Wall -Wextra
  -fsanitize=address,undefined -fno-sanitize-recover=undefined"
objs=""
for src in compiler/*.c compiler/ops/*.c build/runtime_files.c; do
  [ "$src" = compiler/main.c ] && continue
  obj=$out/obj/$(echo "$src" | sed 's|^compiler/||; s|^build/||; s|/|_|g; s|\.c$||').o
  # rebuilt when its source or any compiler or runtime header is newer
  if [ ! -f "$obj" ] || [ -n "$(find "$src" compiler/*.h runtime/reel_runtime.h -newer "$obj")" ]; then
    clang $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || exit 2
  fi
  objs="$objs $obj"
done
for name in spec safetensors; do
  clang $cflags -fsanitize=fuzzer tests/fuzz/fuzz_$name.c $objs -lyaml -lm \
    -o $out/fuzz_$name || exit 2
done

# ---- run
status=0
summary=""
for name in spec safetensors; do
  work=$out/work/$name
  rm -rf "$work" $out/artifacts/$name
  mkdir -p "$work" $out/artifacts/$name
  cp tests/fuzz/corpus/$name/* "$work"/ 2>/dev/null
  if [ $name = spec ]; then
    cp specs/*.yaml tests/specs/*.yaml "$work"/
    max_len=16384 ext=yaml
  else
    find tests/golden -name '*.safetensors' -size -64k -exec cp {} "$work"/ \;
    max_len=65536 ext=safetensors
  fi
  log=$out/$name.log
  rm -rf $out/tmp && mkdir -p $out/tmp
  export UBSAN_OPTIONS=print_stacktrace=1 TMPDIR=$out/tmp # fuzz_safetensors' file
  echo "fuzzing $name for $seconds s (log: $log)"
  # -close_fd_mask=2: reelc's diagnostics go nowhere; libFuzzer's own
  # output and the sanitizers' reports still reach the log.
  $out/fuzz_$name -max_total_time="$seconds" -max_len=$max_len -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=2 \
    -dict=tests/fuzz/$name.dict -artifact_prefix=$out/artifacts/$name/ \
    "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=""
  for art in $out/artifacts/$name/*; do
    [ -f "$art" ] || continue
    # what it hit: the sanitizer's error kind, and the first reelc function
    # in the report (or the file:line of a UBSan report)
    kind=$(sed -n -e 's/.*ERROR: AddressSanitizer: \([a-z-]*\).*/\1/p' \
      -e 's/.*runtime error: \([a-z -]*\).*/\1/p' \
      -e 's/.*ERROR: LeakSanitizer.*/leak/p' -e 's/.*ERROR: libFuzzer: \([a-z-]*\).*/\1/p' \
      "$log" | head -n 1 | tr ' ' - | sed 's/-*$//')
    where=$(sed -n -e 's/.* in \([A-Za-z_][A-Za-z0-9_]*\) .*compiler\/.*/\1/p' \
      -e 's/^compiler\/\([a-z_]*\)\.c:\([0-9]*\):.*runtime error.*/\1.c-\2/p' "$log" | head -n 1)
    kind=${kind:-$(basename "$art" | sed 's/-.*//')}
    sum=$(sha1sum "$art" | cut -c1-8)
    dest=tests/fuzz/corpus/$name/found-$kind${where:+-in-$where}-$sum.$ext
    for old in tests/fuzz/corpus/$name/*; do
      cmp -s "$art" "$old" && dest=$old # a committed input that still fails
    done
    [ -f "$dest" ] || cp "$art" "$dest"
    found="$found $dest"
  done
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    status=1
    echo "---- $name: the end of $log"
    tail -n 40 "$log"
    line="$name: ${execs:-?} executions, FAILED (exit $rc)${found:+; input saved as$found}"
  else
    line="$name: ${execs:-?} executions, no crash"
  fi
  echo "$line"
  summary="$summary$line
"
done
echo "---- fuzzed $seconds s per harness"
printf %s "$summary"
exit $status
