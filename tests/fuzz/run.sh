#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (engine compiled with fuzzer + ASan + UBSan),
# replays every committed regression input, then fuzzes each target for SECONDS on a temporary copy
# of its corpus (the committed corpus is never written). Exits non-zero on any crash, leak or timeout.
# Usage: bash tests/fuzz/run.sh SECONDS [TARGET...]   (CI: 45, all targets). One target at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:?usage: tests/fuzz/run.sh SECONDS}"
BUILD_DIR="${KVLAB_FUZZ_BUILD_DIR:-build-fuzz}"
CXX_FUZZ="${KVLAB_FUZZ_CXX:-clang++-14}"
TARGETS=(fuzz_safetensors fuzz_hf_config fuzz_tokenizer_files fuzz_tokenizer_json fuzz_bpe_codec fuzz_gui_script fuzz_lesson fuzz_cache_policy fuzz_batch_layout)
if (($# > 1)); then TARGETS=("${@:2}"); fi
# Largest input per target: a header with a handful of tensors, a config, a small vocabulary plus
# merges, a small tokenizer.json, a paragraph of text, a script, a lesson, a cache policy name,
# a prompts file and a batch cache's operations.
declare -A MAX_LEN=([fuzz_safetensors]=16384 [fuzz_hf_config]=4096 [fuzz_tokenizer_files]=65536 [fuzz_tokenizer_json]=16384
                    [fuzz_bpe_codec]=4096 [fuzz_gui_script]=8192 [fuzz_lesson]=8192 [fuzz_cache_policy]=64 [fuzz_batch_layout]=1024)

log="$(mktemp)"
if ! { cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVLAB_FUZZ=ON \
         -DKVLAB_BUILD_GUI=OFF -DBUILD_TESTING=OFF -DKVLAB_NATIVE=OFF &&
       cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${TARGETS[@]}"; } >"$log" 2>&1; then
  tail -40 "$log"; rm -f "$log"; echo "fuzz: building the fuzz targets failed (see above)"; exit 1
fi
rm -f "$log"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# In-process, one worker: -jobs/-workers would fork children that log to ./fuzz-N.log instead.
COMMON=(-timeout=10 -rss_limit_mb=2048)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# fuzz_hf_config keeps a model directory in TMPDIR; libFuzzer ends with _Exit (no atexit clean-up)
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
mkdir -p "$BUILD_DIR/artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/$t"
  opts=("${COMMON[@]}" -max_len="${MAX_LEN[$t]}" -artifact_prefix="$BUILD_DIR/artifacts/$t-")
  [ -f "tests/fuzz/dict/$t.dict" ] && opts+=(-dict="tests/fuzz/dict/$t.dict")
  # Next to its 120 KB model.safetensors no config may make the loader allocate more than a little:
  # a larger allocation means it allocated weights before checking the file.
  [ "$t" = fuzz_hf_config ] && opts+=(-malloc_limit_mb=256)
  # 1. every input that once crashed must now pass (running files executes each once)
  reg="tests/fuzz/regressions/$t"
  if compgen -G "$reg/*" >/dev/null; then
    echo "== $t: regression inputs"
    if ! "$bin" "${opts[@]}" "$reg"/* >"$work/$t.reg.log" 2>&1; then
      tail -40 "$work/$t.reg.log"; failed+=("$t (regression)"); continue
    fi
  fi
  # 2. fuzz on a copy of the corpus; new inputs land in the copy, not in the repository
  mkdir -p "$work/$t"
  cp -r "tests/fuzz/corpus/$t/." "$work/$t/"
  echo "== $t: fuzzing for ${SECONDS_PER_TARGET}s"
  if "$bin" "${opts[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 "$work/$t" >"$work/$t.log" 2>&1; then
    grep -E "^#[0-9]+[[:space:]]+DONE" "$work/$t.log" | tail -1 || true
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$t.log" || true
  else
    tail -60 "$work/$t.log"; failed+=("$t")
  fi
  cp "$work/$t.log" "$BUILD_DIR/artifacts/$t.log"
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $BUILD_DIR/artifacts/)"
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s each with no crash, leak or timeout"
