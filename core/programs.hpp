// Program scoping (KASHIM_PROGRAMS, `programs =` and `[program ...]` sections): which
// programs a configuration applies to.
//
// Pure: a list of globs and a program's names in, a verdict out. A list is comma-separated;
// each item is a glob over a program's name (`*`, `?`, `[a-z]`, `[!0-9]`), `!` before it
// excludes, and the first item that matches either of the program's names decides.
#pragma once

#include <string_view>

namespace kashim {

// The names a program is known by, each a basename: the executable as exec() was given it
// (AT_EXECFN), and argv[0] (an interpreter started through a symlink, a busybox applet).
struct ProgramNames {
  std::string_view executable;
  std::string_view invoked;
};

enum class ProgramVerdict { kIncluded, kExcluded, kUnmatched };

struct ProgramMatch {
  ProgramVerdict verdict = ProgramVerdict::kUnmatched;
  std::string_view item;  // the item that decided, with its `!`; empty when unmatched
};

// The first item of `list` that matches one of `names`. Assumes a list that
// check_program_list() accepted.
ProgramMatch match_programs(std::string_view list, const ProgramNames& names);

// Empty when `list` is a valid list, else what is wrong with it. Empty items (a trailing
// comma, blanks) are ignored, as they are in peer lists.
std::string_view check_program_list(std::string_view list, std::string_view* bad_item);

// One glob against one name: `*` any run of bytes, `?` one byte, `[...]` one byte of a set
// (ranges a-z; `!` or `^` first negates). There is no escape character.
bool glob_matches(std::string_view glob, std::string_view name);

// The part of a path after its last '/'.
std::string_view base_name(std::string_view path);

inline constexpr std::string_view kProgramListForms =
    "accepted: comma-separated globs over the program's name, ! before one to exclude, the "
    "first match wins, e.g. !ssh*,php-fpm*,python3*";

}  // namespace kashim
