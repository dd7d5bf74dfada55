#!/usr/bin/env bash
# Installs the SDK component into a prefix and builds a consumer project
# against it with find_package(Conclave), as an application would.
#   install_test.sh <cmake> <conclave build dir> <consumer source> <work dir> <generator> <c++ compiler>
# The work dir is stable (not a fresh temp dir) so that ccache and the
# consumer's own build tree make repeated runs cheap.
set -euo pipefail
cmake=$1 build=$2 consumer=$3 work=$4 generator=$5 cxx=$6
if [ ! -x "$cmake" ]; then
  echo "SKIP: cmake ($cmake) is not available, so the installed package cannot be checked"
  exit 77
fi
rm -rf "$work/prefix" "$work/build/CMakeCache.txt"  # a fresh configure: nothing cached from an older SDK
"$cmake" --install "$build" --component conclave_sdk --prefix "$work/prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
"$cmake" -S "$consumer" -B "$work/build" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DConclave_DIR="$work/prefix/lib/cmake/Conclave" "${launcher[@]}" >/dev/null
"$cmake" --build "$work/build" -j 2
"$work/build/consumer"
