// The configuration file (/etc/kashim.conf, or KASHIM_CONFIG): the settings of the
// variables, for processes the environment does not reach (/etc/ld.so.preload, a container's
// LD_PRELOAD, daemons started by systemd or cron).
//
//   # comment
//   idle = 60                 # the key is the variable's name without KASHIM_, any case
//   programs = !ssh*, *
//   [program php-fpm*]        # applies to the programs its globs include
//   idle = 30
//
// Pure: the file's text and a program's names in, the settings that apply to that program
// out, each with its line (for --check and messages). parse_config() then reads them as a
// layer under the environment: a variable wins over the file, the first matching
// [program ...] section that sets a key wins over the global part.
#pragma once

#include <cstddef>
#include <string_view>

#include "programs.hpp"
#include "text.hpp"

namespace kashim {

inline constexpr std::size_t kMaxConfigPath = 512;        // with its terminating NUL
inline constexpr std::size_t kMaxConfigFileBytes = 8192;  // read onto the stack, once
inline constexpr std::string_view kDefaultConfigPath = "/etc/kashim.conf";

// The keys a file accepts, each a variable without KASHIM_ (KASHIM_CHECK and KASHIM_CONFIG
// concern one run, not a file).
inline constexpr std::string_view kFileKeys[] = {"idle",     "intvl",   "cnt",       "user_timeout",
                                                 "mode",     "peers",   "direction", "log",
                                                 "log_file", "disable", "programs"};
inline constexpr int kFileKeyCount = sizeof kFileKeys / sizeof kFileKeys[0];

struct FileSetting {
  std::string_view value;  // a view into the file's text; empty: not set
  int line = 0;
  const char* key = nullptr;  // as kFileKeys names it
};

struct ConfigFile {
  const char* path = nullptr;  // nullptr: no file is read
  bool present = false;        // the file exists and was read
  // Opening or reading it failed for want of a descriptor or memory (EMFILE, ENFILE,
  // ENOMEM): the error says so, and a later attempt may succeed.
  bool short_of_resources = false;
  // Views into the text given to parse_config_file(), which must outlive them.
  FileSetting settings[kFileKeyCount];
  int sections = 0;  // how many [program ...] sections the file has
  // The one error line (naming the file and line, without "; ... not applied"); when set,
  // no setting of the file is used.
  FixedText<400> error;

  // The file's setting for a variable (KASHIM_IDLE -> idle); nullptr when the file does not
  // set it or the variable has no key.
  const FileSetting* find_variable(std::string_view variable) const;
};

// Parses `text`, the contents of the file at `file->path`, for `program`: its settings are
// the global part's, overridden key by key by the first [program ...] section whose globs
// include one of the program's names. `program` nullptr: the global part only. `section`
// (1-based) applies that section whatever the names, so that --check can check each one.
void parse_config_file(std::string_view text, const ProgramNames* program, ConfigFile* file,
                       int section = 0);

}  // namespace kashim
