#!/bin/sh
# The video-forecasting demo: compile specs/convlstm_forecaster.yaml with the weights trained
# by tools/train_forecaster.py, build the generated C with tools/forecast_demo.c (needs
# libpng: apt-get install -y libpng-dev), and forecast a bouncing-shapes clip into
# generated/forecast.png.  Needs build/reelc (make).
#   sh tools/forecast_demo.sh [SEED]
# TARGET=generic|avx2 picks reelc's kernels (default: reelc's, avx2 where the machine has it).
set -e
cd "$(dirname "$0")/.."
spec=specs/convlstm_forecaster.yaml
weights=specs/weights/convlstm_forecaster.safetensors
out=generated/convlstm_forecaster
if [ ! -x build/reelc ]; then
  echo "forecast_demo.sh: build/reelc is missing; run make first" >&2
  exit 1
fi
if [ ! -f "$weights" ]; then
  echo "forecast_demo.sh: $weights is missing; train it with /usr/bin/python3 tools/train_forecaster.py" >&2
  exit 1
fi
mkdir -p "$out"
rm -f "$out"/*.c "$out"/*.h  # no stale runtime files of another target
echo "== reelc info $spec"
build/reelc info "$spec"
echo "== reelc compile -> $out/"
build/reelc compile "$spec" -w "$weights" -o "$out" ${TARGET:+--target "$TARGET"}
ls "$out"
simd=
if ls "$out"/*_avx2.c >/dev/null 2>&1; then simd="-mavx2 -mfma"; fi
echo "== cc -std=c99 -O2 $simd $out/*.c tools/forecast_demo.c -lpng -lm"
${CC:-cc} -std=c99 -O2 $simd -Wall -Wextra -pedantic -I"$out" "$out"/*.c tools/forecast_demo.c \
  -lpng -lm -o "$out/forecast_demo"
echo "== run"
"$out/forecast_demo" "${1:-2026}" generated/forecast.png
