# Sourced by the scripts in scripts/: makes sure the programs and files they need exist,
# installing the Debian packages that provide them when run as root.
#
#   require "PACKAGE" CHECK...     CHECK: a command name, or a path that must exist
#   require_build_tools            the compilers, CMake and GoogleTest
#   install_required [--optional]  installs what is missing (as root), or explains and exits 1;
#                                  with --optional a non-root caller is only told, and goes on

_kashim_missing_packages=()

# What building kashim and its tests takes (the sanitizer runtimes come with g++).
require_build_tools() {
  require cmake cmake
  require g++ g++ gcc
  require make make
  require libgtest-dev /usr/include/gtest/gtest.h
  require binutils nm readelf
}

require() {
  local package=$1 check
  shift
  for check in "$@"; do
    if [[ $check == /* ]]; then
      [[ -e $check ]] && continue
    else
      command -v "$check" >/dev/null 2>&1 && continue
    fi
    _kashim_missing_packages+=("$package")
    return 0
  done
}

install_required() {
  local optional=false
  [[ ${1:-} == --optional ]] && optional=true
  ((${#_kashim_missing_packages[@]} > 0)) || return 0
  local packages
  packages=$(printf '%s\n' "${_kashim_missing_packages[@]}" | sort -u | tr '\n' ' ')
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "kashim: installing ${packages}" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages; } >&2; then
      echo "kashim: could not install ${packages}" >&2
      exit 1
    fi
  elif $optional; then
    echo "kashim: not installed: ${packages}(the tests that need them will be skipped)" >&2
  else
    echo "kashim: missing packages: ${packages}(install them, or run this script as root on Debian/Ubuntu)" >&2
    exit 1
  fi
  _kashim_missing_packages=()
}
