#!/usr/bin/env bash
# Runs the configuration fuzzer (variables and configuration file: libFuzzer, ASan, UBSan)
# for a bounded number of inputs from the seeds in this directory. FUZZER is the one CMake
# built (when the compiler is clang); when it is empty, this script builds SOURCES with
# clang++. Exit 77 (skip) without clang, unless CI=true.
#   test/fuzz/run.sh SOURCE_DIR WORK_DIR RUNS FUZZER SOURCES...
set -euo pipefail
source_dir=$1 work=$2 runs=$3 fuzzer=$4
shift 4
mkdir -p "$work"
if [[ -z $fuzzer ]]; then
  if ! command -v clang++ >/dev/null; then
    echo "clang++ is missing"
    [[ ${CI:-} == true ]] && exit 1
    exit 77
  fi
  fuzzer=$work/config_fuzzer
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -DKASHIM_VERSION='"fuzz"' -I"$source_dir/core" -I"$source_dir/test/unit" "$@" -o "$fuzzer"
fi
# The corpus grows in the work directory; the seeds in the source tree stay as they are.
rm -rf "$work/corpus" && mkdir "$work/corpus"
cd "$work"
exec "$fuzzer" -runs="$runs" -max_len=512 -timeout=10 \
  -dict="$source_dir/test/fuzz/config.dict" corpus "$source_dir/test/fuzz/seeds"
