#!/bin/sh
# The video-forecasting demo, end to end: the ConvLSTM forecaster as a PyTorch module with the
# weights trained by tools/train_forecaster.py is exported by reel_torch (tools/forecast_export.py,
# which also checks the compiled C against PyTorch on the demo's clip), compiled by reelc, built
# with tools/forecast_demo.c (needs libpng: apt-get install -y libpng-dev), and run on a fresh
# bouncing-shapes clip: its forecast goes to generated/forecast.png.  Needs build/reelc (make)
# and Debian's python3-torch.
#   sh tools/forecast_demo.sh [SEED]
# TARGET=generic|avx2 picks reelc's kernels (default: reelc's, avx2 where the machine has it).
set -e
cd "$(dirname "$0")/.."
trained=specs/weights/convlstm_forecaster.safetensors
exported=generated/convlstm_forecaster_export
spec=$exported/convlstm_forecaster.yaml
weights=$exported/convlstm_forecaster.safetensors
out=generated/convlstm_forecaster
if [ ! -x build/reelc ]; then
  echo "forecast_demo.sh: build/reelc is missing; run make first" >&2
  exit 1
fi
if [ ! -f "$trained" ]; then
  echo "forecast_demo.sh: $trained is missing; train it with /usr/bin/python3 tools/train_forecaster.py" >&2
  exit 1
fi
echo "== export the PyTorch module with reel_torch, and check the C against it"
check=$(/usr/bin/python3 tools/forecast_export.py "${1:-2026}" "$exported")
echo "$check"
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
echo "== the same forecast in PyTorch and in C"
echo "$check" | sed -n 's/.*forecast: \(max |C - PyTorch| [^ ]*\).*/\1 over the 10 predicted frames (the forecast error above is against the truth)/p'
