#!/bin/sh
# bench/run.sh: reel's benchmark harness (`make bench`).
#
# Times every spec in specs/ and bench/specs/ as generated C, one frame step
# at a time, for each code-generator target (generic, and avx2 when this
# reelc has it); the same models and the benchmark cells in PyTorch
# (Debian's python3-torch) and the cells in oneDNN (Debian's libdnnl-dev);
# every distinct convolution of the specs alone, in reel, oneDNN and XNNPACK
# (Debian's libxnnpack-dev, whose header also needs libpthreadpool-dev), and
# lrcn_resnet18's backbone in XNNPACK;
# measures this core's FMA peak and read bandwidths for the rooflines; and
# writes bench/RESULTS.md.  Everything timed runs pinned to one core.
#
# Installs nothing: a missing peer is reported and its column says
# "n/a (not installed)".  Raw measurements (JSON lines) and all builds go to
# bench/build/ (not in git).  No part of this is run by `make test`.
#
# Environment (all optional):
#   BENCH_CPU      core to pin to (default 1)
#   BENCH_SECONDS  timed seconds per measurement and round (default 1)
#   BENCH_ROUNDS   rounds (default 3): every reel, PyTorch and oneDNN timing is
#                  repeated this many times, the rounds one after the other, and
#                  the report takes each one's best median.  On a shared or
#                  virtual machine, slow phases last seconds: rounds spread them
#                  over reel and the peers alike instead of letting one phase
#                  land on one side of a ratio.
#   BENCH_CFLAGS_GENERIC  flags for models built for --target generic
#                  (default -O2: portable C, as `reelc --help` says to build it)
#   BENCH_CFLAGS_AVX2     flags for --target avx2 (default -O2 -mavx2 -mfma)
#   BENCH_SPECS    specs to run (default specs/*.yaml bench/specs/*.yaml)
#   BENCH_STREAMS  stream counts for the many-streams table (default 1 4 16 64):
#                  reel's m_step_many and N m_step calls, oneDNN's RNN and conv
#                  primitives and PyTorch at batch N
#   BENCH_STREAM_MODELS  the models timed at those counts (default lstm512
#                  gru512 convlstm64 lstm_classifier lrcn)
#   BENCH_CONV_SECONDS  timed seconds per convolution shape and round, for each
#                  of reel, oneDNN (twice) and XNNPACK (default 0.3; 0: skip them)
#   CC             C compiler (default cc)
#   BENCH_PYTHON   the python3 with torch (default /usr/bin/python3, Debian's)
#   REELC          the compiler to use (default build/reelc, built with make)
set -eu
cd "$(dirname "$0")/.."

CPU=${BENCH_CPU:-1}
SECS=${BENCH_SECONDS:-1}
ROUNDS=${BENCH_ROUNDS:-3}
CC=${CC:-cc}
CFLAGS_generic=${BENCH_CFLAGS_GENERIC:--O2}
CFLAGS_avx2=${BENCH_CFLAGS_AVX2:--O2 -mavx2 -mfma}
MICRO_CFLAGS="-O2 -mavx2 -mfma"
SPECS=${BENCH_SPECS:-$(echo specs/*.yaml bench/specs/*.yaml)}
PY=${BENCH_PYTHON:-/usr/bin/python3}
REELC=${REELC:-build/reelc}
STREAMS=${BENCH_STREAMS:-1 4 16 64}
STREAM_MODELS=${BENCH_STREAM_MODELS:-lstm512 gru512 convlstm64 lstm_classifier lrcn}
CONV_SECS=${BENCH_CONV_SECONDS:-0.3}
B=bench/build
RAW=$B/raw

say() { printf 'bench: %s\n' "$*" >&2; }

rm -rf "$RAW"
mkdir -p "$RAW"

# ---- the compiler ---------------------------------------------------------
if [ "$REELC" = build/reelc ] && ! make -s >&2; then
  [ -x build/reelc ] || { say "make failed and there is no build/reelc"; exit 1; }
  say "warning: make failed; using the existing build/reelc"
fi

# ---- pinning --------------------------------------------------------------
if command -v taskset >/dev/null 2>&1 && taskset -c "$CPU" true 2>/dev/null; then
  PIN="taskset -c $CPU"
else
  PIN=""
  say "warning: cannot pin to core $CPU (taskset missing or core absent): timings unpinned"
fi

# ---- peers: check, never install ------------------------------------------
missing=""
HAVE_TORCH=0
if [ -x "$PY" ] && "$PY" -c 'import torch, yaml' 2>/dev/null; then
  HAVE_TORCH=1
else
  missing="$missing python3-torch python3-yaml"
  say "PyTorch column skipped: $PY cannot import torch and yaml"
fi
HAVE_DNNL=0
if [ -f /usr/include/oneapi/dnnl/dnnl.h ] &&
   $CC -std=c99 -O2 -o "$B/onednn_bench" bench/onednn_bench.c -ldnnl -lm 2>"$RAW/onednn_build.log"; then
  HAVE_DNNL=1
else
  missing="$missing libdnnl-dev"
  say "oneDNN column skipped: cannot build bench/onednn_bench.c against -ldnnl (see $RAW/onednn_build.log)"
fi
HAVE_XNN=0
if [ -f /usr/include/xnnpack.h ] &&
   $CC -std=c99 -O2 -o "$B/xnnpack_convs" bench/xnnpack_convs.c -lXNNPACK -lm \
     2>"$RAW/xnnpack_build.log" &&
   $CC -std=c99 -O2 -o "$B/xnnpack_resnet18" bench/xnnpack_resnet18.c -lXNNPACK -lm \
     2>>"$RAW/xnnpack_build.log"; then
  HAVE_XNN=1
else
  missing="$missing libxnnpack-dev libpthreadpool-dev"
  say "XNNPACK column skipped: cannot build bench/xnnpack_convs.c and xnnpack_resnet18.c (see $RAW/xnnpack_build.log)"
fi
[ -z "$missing" ] || say "to compare with every peer: apt-get install -y$missing"

# ---- targets --------------------------------------------------------------
TARGETS="generic"
if ! grep -q ' avx2' /proc/cpuinfo || ! grep -q ' fma' /proc/cpuinfo; then
  say "this CPU has no AVX2 + FMA: generic target only"
elif $REELC compile bench/specs/lstm512.yaml --random-weights 1 --target avx2 \
     -o "$B/probe-avx2" >/dev/null 2>"$RAW/avx2_probe.log"; then
  TARGETS="generic avx2"
  rm -rf "$B/probe-avx2"
else
  say "this reelc rejects --target avx2 ($(head -n 1 "$RAW/avx2_probe.log")): generic only"
fi

# ---- machine --------------------------------------------------------------
cache_bytes() { # cache_bytes LEVEL TYPE: size in bytes of that cache of $CPU, 0 if unknown
  for d in /sys/devices/system/cpu/cpu"$CPU"/cache/index*; do
    [ "$(cat "$d/level")" = "$1" ] && [ "$(cat "$d/type")" = "$2" ] || continue
    s=$(cat "$d/size")
    case $s in
      *K) echo $(( ${s%K} * 1024 )); return ;;
      *M) echo $(( ${s%M} * 1048576 )); return ;;
      *) echo "$s"; return ;;
    esac
  done
  echo 0
}
L1=$(cache_bytes 1 Data); L2=$(cache_bytes 2 Unified); L3=$(cache_bytes 3 Unified)
[ "$L1" -gt 0 ] || L1=32768
[ "$L2" -gt 0 ] || L2=1048576
[ "$L3" -gt 0 ] || L3=33554432
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "cpus=$(nproc)"
  echo "pinned_cpu=${PIN:+$CPU}"
  echo "hypervisor=$(grep -q ' hypervisor' /proc/cpuinfo && echo yes || echo no)"
  echo "avx512=$(grep -q ' avx512f' /proc/cpuinfo && echo yes || echo no)"
  echo "l1d=$L1"; echo "l2=$L2"; echo "l3=$L3"
  echo "kernel=$(uname -sr)"
  echo "cc=$($CC --version | head -n 1)"
  echo "cflags_generic=-std=c99 $CFLAGS_generic"
  echo "cflags_avx2=-std=c99 $CFLAGS_avx2"
  echo "micro_cflags=-std=c99 $MICRO_CFLAGS"
  echo "reelc=$($REELC --version 2>&1 | head -n 1)"
  echo "targets=$TARGETS"
  echo "seconds=$SECS"
  echo "rounds=$ROUNDS"
  echo "streams=$STREAMS"
  echo "stream_models=$STREAM_MODELS"
  echo "have_torch=$HAVE_TORCH"
  echo "have_onednn=$HAVE_DNNL"
  echo "have_xnnpack=$HAVE_XNN"
  echo "conv_seconds=$CONV_SECS"
} >"$RAW/meta.txt"

# ---- build everything first, so nothing of ours competes with the timings --
$CC -std=c99 $MICRO_CFLAGS -o "$B/fma_peak" bench/fma_peak.c
$CC -std=c99 $MICRO_CFLAGS -o "$B/bandwidth" bench/bandwidth.c

models=""
for spec in $SPECS; do
  m=$(sed -n 's/^model:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$spec" | head -n 1)
  [ -n "$m" ] || { say "skipping $spec: no 'model:' line"; continue; }
  models="$models $m"
  echo "$spec" >"$RAW/spec-$m.txt"
  $REELC info "$spec" >"$RAW/info-$m.txt"
  for t in $TARGETS; do
    d=$B/$t/$m
    rm -rf "$d" && mkdir -p "$d"
    say "compile $spec --target $t"
    eval "flags=\$CFLAGS_$t"
    if ! $REELC compile "$spec" --random-weights 1 --target "$t" -o "$d" 2>"$d/error.log" ||
       ! $CC -std=c99 $flags -DREEL_MODEL="$m" \
           -DREEL_MODEL_UP="$(echo "$m" | tr 'a-z' 'A-Z')" -DREEL_MODEL_H="\"$m.h\"" \
           -I"$d" -o "$d/time_model" bench/time_model.c "$d"/*.c -lm 2>>"$d/error.log"; then
      say "FAILED: $spec --target $t (see $d/error.log)"
      printf '{"model": "%s", "target": "%s", "error": "build failed"}\n' "$m" "$t" \
        >>"$RAW/reel-$t.jsonl"
      rm -f "$d/time_model"
    fi
    rm -f "$d/${m}_weights.c" # random weights, up to 140 MB of C: only the binary is needed
  done
done

# Compressed weights (--weight-type) for the batch-1 recurrent cells, whose steps are bound by
# reading the weights: their avx2 builds again with int8 and with bf16 weights.
WTARGETS=""
case " $TARGETS " in *" avx2 "*)
  for wt in int8 bf16; do
    for m in lstm512 gru512; do
      case " $models " in *" $m "*) ;; *) continue ;; esac
      spec=$(cat "$RAW/spec-$m.txt"); d=$B/avx2-$wt/$m
      rm -rf "$d" && mkdir -p "$d"
      say "compile $spec --target avx2 --weight-type $wt"
      $REELC info "$spec" --target avx2 --weight-type "$wt" >"$RAW/typed-info-$m-$wt.txt"
      if ! $REELC compile "$spec" --random-weights 1 --target avx2 --weight-type "$wt" -o "$d" \
             2>"$d/error.log" ||
         ! $CC -std=c99 $CFLAGS_avx2 -DREEL_MODEL="$m" \
             -DREEL_MODEL_UP="$(echo "$m" | tr 'a-z' 'A-Z')" -DREEL_MODEL_H="\"$m.h\"" \
             -I"$d" -o "$d/time_model" bench/time_model.c "$d"/*.c -lm 2>>"$d/error.log"; then
        say "FAILED: $spec --weight-type $wt (see $d/error.log)"
        rm -f "$d/time_model"
      fi
    done
    WTARGETS="$WTARGETS avx2-$wt"
  done ;;
esac
echo "weight_targets=${WTARGETS# }" >>"$RAW/meta.txt"

# Every distinct convolution of the specs, each as a one-layer reel model (avx2), for the
# per-shape table; the peers take the shapes' keys.
CONV_KEYS=""; CONV_MODELS=""
case " $TARGETS " in *" avx2 "*)
  if [ "$CONV_SECS" != 0 ] && $PY bench/conv_shapes.py "$REELC" "$B/convs" $SPECS; then
    cp "$B/convs/shapes.jsonl" "$RAW/conv-shapes.jsonl"
    CONV_KEYS=$(sed -n 's/.*"key": "\([0-9,]*\)".*/\1/p' "$RAW/conv-shapes.jsonl")
    for spec in "$B"/convs/conv_*.yaml; do
      m=$(basename "$spec" .yaml); d=$B/convs/$m
      rm -rf "$d" && mkdir -p "$d"
      if $REELC compile "$spec" --random-weights 1 --target avx2 -o "$d" 2>"$d/error.log" &&
         $CC -std=c99 $CFLAGS_avx2 -DREEL_MODEL="$m" \
           -DREEL_MODEL_UP="$(echo "$m" | tr 'a-z' 'A-Z')" -DREEL_MODEL_H="\"$m.h\"" \
           -I"$d" -o "$d/time_model" bench/time_model.c "$d"/*.c -lm 2>>"$d/error.log"; then
        CONV_MODELS="$CONV_MODELS $m"
      else
        say "FAILED: $spec (see $d/error.log)"
      fi
    done
  fi ;;
esac

# ---- measure --------------------------------------------------------------
# How busy each CPU was over one second, before and after the timings (other
# work on the pinned core shows as noise: wide p10..p90, a low median FMA rate).
busy() {
  a=$(grep '^cpu[0-9]' /proc/stat); sleep 1; b=$(grep '^cpu[0-9]' /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '
    { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i
      if ($1 in t) { printf "%s%s %.0f%%", sep, $1, 100 * (1 - (idle - d[$1]) / (total - t[$1])); sep = ", " }
      else { d[$1] = idle; t[$1] = total } }
    END { print "" }'
}
echo "busy_before=$(busy)" >>"$RAW/meta.txt"

say "FMA peak and read bandwidths on core $CPU"
$PIN "$B/fma_peak" 1 >"$RAW/fma.jsonl"
sizes="L1=$((L1 / 2)) L2=$((L2 / 2))"
l3=$((L2 * 8)); [ "$l3" -le $((L3 / 2)) ] || l3=$((L3 / 2))
dram=$((L3 * 4)); [ "$dram" -ge $((512 * 1048576)) ] || dram=$((512 * 1048576))
avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024; exit }' /proc/meminfo)
[ -z "$avail" ] || [ "$dram" -le $((avail / 4)) ] || dram=$((avail / 4))
sizes="$sizes L3=$l3 DRAM=$dram"
for m in $models; do # each model's weights, for its roofline
  w=$(sed -n 's/^weights:[[:space:]]*\([0-9]*\) bytes.*/\1/p' "$RAW/info-$m.txt")
  [ -z "$w" ] || sizes="$sizes weights:$m=$w"
done
$PIN "$B/bandwidth" --seconds 0.5 $sizes >"$RAW/bandwidth.jsonl"

# Rounds: reel, then PyTorch, then oneDNN, ROUNDS times over (see BENCH_ROUNDS).
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for t in $TARGETS $WTARGETS; do
    # the portable target is for reference, not the targets: one round
    [ "$r" -eq 1 ] || [ "$t" != generic ] || [ "$TARGETS" = generic ] || continue
    for m in $models; do
      [ -x "$B/$t/$m/time_model" ] || continue
      say "round $r/$ROUNDS: reel $t: $m"
      counts="" # N streams: the stream models, on the avx2 target
      case " $STREAM_MODELS " in *" $m "*) [ "$t" != avx2 ] || counts=$STREAMS ;; esac
      $PIN "$B/$t/$m/time_model" "$SECS" $counts >>"$RAW/reel-$t.r$r.jsonl" ||
        printf '{"model": "%s", "target": "%s", "error": "run failed"}\n' "$m" "$t" \
          >>"$RAW/reel-$t.r$r.jsonl"
    done
  done

  if [ "$HAVE_TORCH" = 1 ]; then
    say "round $r/$ROUNDS: PyTorch: every spec and the cells"
    specs_list=""; stream_specs=""
    for m in $models; do
      specs_list="$specs_list $(cat "$RAW/spec-$m.txt")"
      case " $STREAM_MODELS " in *" $m "*) stream_specs="$stream_specs $(cat "$RAW/spec-$m.txt")" ;; esac
    done
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PIN "$PY" bench/torch_bench.py --seconds "$SECS" \
      --streams $STREAMS --stream-models $stream_specs -- \
      $specs_list >"$RAW/torch.r$r.jsonl" || say "warning: torch_bench.py failed"
    # the specs again with PyTorch's kernels capped at AVX2 like reel's: ATen's own and the
    # oneDNN its mkldnn path calls
    say "round $r/$ROUNDS: PyTorch capped at AVX2: every spec"
    ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
      $PIN "$PY" bench/torch_bench.py --seconds "$SECS" --no-cells $specs_list \
      >"$RAW/torch-avx2.r$r.jsonl" || say "warning: torch_bench.py (AVX2) failed"
  fi

  if [ -n "$CONV_MODELS" ]; then
    say "round $r/$ROUNDS: convolutions by shape: reel, oneDNN, XNNPACK"
    for m in $CONV_MODELS; do
      $PIN "$B/convs/$m/time_model" "$CONV_SECS" >>"$RAW/reel-convs.r$r.jsonl" ||
        say "warning: $m failed"
    done
    if [ "$HAVE_DNNL" = 1 ]; then
      OMP_NUM_THREADS=1 $PIN "$B/onednn_bench" "$CONV_SECS" --convs $CONV_KEYS \
        >"$RAW/onednn-convs.r$r.jsonl" || say "warning: onednn_bench --convs failed"
      DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 $PIN "$B/onednn_bench" "$CONV_SECS" --convs \
        $CONV_KEYS >"$RAW/onednn-convs-avx2.r$r.jsonl" ||
        say "warning: onednn_bench --convs (AVX2) failed"
    fi
    if [ "$HAVE_XNN" = 1 ]; then
      $PIN "$B/xnnpack_convs" "$CONV_SECS" $CONV_KEYS >"$RAW/xnnpack-convs.r$r.jsonl" ||
        say "warning: xnnpack_convs failed"
    fi
  fi

  case " $models " in *" lrcn_resnet18 "*)
    if [ "$HAVE_XNN" = 1 ]; then
      say "round $r/$ROUNDS: XNNPACK: lrcn_resnet18's backbone"
      $PIN "$B/xnnpack_resnet18" "$SECS" >"$RAW/xnnpack-resnet18.r$r.jsonl" ||
        say "warning: xnnpack_resnet18 failed"
    fi ;;
  esac

  if [ "$HAVE_DNNL" = 1 ]; then
    say "round $r/$ROUNDS: oneDNN: the cells, native ISA and AVX2 only"
    OMP_NUM_THREADS=1 $PIN "$B/onednn_bench" "$SECS" $STREAMS >"$RAW/onednn.r$r.jsonl" ||
      say "warning: onednn_bench failed"
    DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 $PIN "$B/onednn_bench" "$SECS" $STREAMS \
      >"$RAW/onednn-avx2.r$r.jsonl" || say "warning: onednn_bench (AVX2) failed"
  fi
  r=$((r + 1))
done

echo "busy_after=$(busy)" >>"$RAW/meta.txt"
# The table needs only a plain python3 (and python3-yaml to split a forecaster's phases).
REPORT_PY=$PY; [ -x "$REPORT_PY" ] || REPORT_PY=python3
"$REPORT_PY" bench/report.py "$RAW" >"$B/RESULTS.md" && cp "$B/RESULTS.md" bench/RESULTS.md
say "wrote bench/RESULTS.md"
