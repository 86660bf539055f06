#!/usr/bin/env bash
# Builds the configuration fuzzer (variables and configuration file) with clang (libFuzzer, ASan, UBSan) and runs it for a
# bounded number of inputs from the seeds in this directory. Exit 77 (skip) without clang,
# unless CI=true.
#   test/fuzz/run.sh SOURCE_DIR WORK_DIR [RUNS]
set -euo pipefail
source_dir=$1 work=$2 runs=${3:-300000}
if ! command -v clang++ >/dev/null; then
  echo "clang++ is missing"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
mkdir -p "$work"
# The pure parts only, with the unit tests' fake environment (test/unit/fake_sources.hpp).
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -DKASHIM_VERSION='"fuzz"' -I"$source_dir/core" -I"$source_dir/test/unit" \
  "$source_dir/test/fuzz/config_fuzzer.cpp" "$source_dir"/core/{config,config_options,config_report}.cpp \
  "$source_dir"/core/{config_file,programs,peers}.cpp -o "$work/config_fuzzer"
# The corpus grows in the work directory; the seeds in the source tree stay as they are.
rm -rf "$work/corpus" && mkdir "$work/corpus"
cd "$work"
exec ./config_fuzzer -runs="$runs" -max_len=512 -timeout=10 \
  -dict="$source_dir/test/fuzz/config.dict" corpus "$source_dir/test/fuzz/seeds"
