#!/bin/sh
# The end-to-end demo: compile specs/lstm_classifier.yaml with weights
# exported from PyTorch (the golden model of the tests), build the generated C with a small app, run it.
set -e
cd "$(dirname "$0")/.."
out=generated/lstm_classifier
mkdir -p "$out"
echo "== reelc info specs/lstm_classifier.yaml"
build/reelc info specs/lstm_classifier.yaml
echo "== reelc compile -> $out/"
build/reelc compile specs/lstm_classifier.yaml -w tests/golden/lstm_classifier.weights.safetensors -o "$out"
ls "$out"
echo "== cc -std=c99 -O2 $out/*.c tools/demo.c"
${CC:-cc} -std=c99 -O2 -Wall -Wextra -pedantic -I"$out" "$out"/*.c tools/demo.c -lm -o "$out/demo"
echo "== run"
"$out/demo"
