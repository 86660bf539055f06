// The configuration parser's insides, shared by config.cpp (reading the settings, their
// order, the log, scope and switch settings) and config_options.cpp (the keep-alive values
// and the filters). Not for the routes: they call parse_config().
#pragma once

#include <cstring>
#include <string_view>

#include "config.hpp"

namespace kashim::parsing {

inline constexpr std::string_view kNotApplied = "; keep-alive settings not applied";

std::string_view trim(std::string_view text);
bool equals_ignoring_case(std::string_view a, std::string_view b);
// Digits only; a value too large for int64 saturates so that the caller reports it as out
// of range rather than as malformed.
bool parse_whole_number(std::string_view text, std::int64_t* number);

// Copies `text` into a fixed array, cut short if it does not fit.
template <std::size_t N>
void copy_text(std::string_view text, char (&into)[N]) {
  std::size_t length = text.size() < N - 1 ? text.size() : N - 1;
  std::memcpy(into, text.data(), length);
  into[length] = '\0';
}

// A setting as the parser sees it: the first of its variables that is set to something
// other than blanks, else the configuration file's key. An empty value counts as unset, as
// `KASHIM_IDLE=$UNSET_VARIABLE` expects. `line` is 0 for a variable.
struct Setting {
  const char* name = "";
  std::string_view value;
  int line = 0;
  bool present() const { return !value.empty(); }
  Origin origin() const { return {name, line}; }
};

using Problem = FixedText<200>;

class Parser {
 public:
  Parser(const Sources& sources, Config* config)
      : sources_(sources),
        file_(sources.file != nullptr        ? sources.file
              : sources.read_file != nullptr ? sources.read_file()
                                             : nullptr),
        config_(*config) {}

  void run();

 private:
  // config.cpp
  Setting read(const char* name, const char* alias = nullptr) const;
  void start_error(const Setting& setting, std::string_view separator);
  bool fail(const Setting& setting, std::string_view problem);
  bool parse_switch(const Setting& setting, std::string_view accepted, bool* result);
  bool parse_log_level();
  bool parse_log_file();
  bool parse_check();
  bool parse_programs();
  bool parse_disable();
  // config_options.cpp
  bool parse_seconds(const Setting& setting, int max_seconds, ManagedOption* option);
  bool parse_count();
  static Problem user_timeout_range();
  bool parse_user_timeout();
  bool auto_user_timeout(const Setting& setting, std::int64_t* ms);
  bool parse_mode();
  bool parse_direction();
  bool parse_peers();

  // A setting whose value is one of an enumeration's names, in any case.
  template <typename Enum, std::size_t N>
  bool parse_keyword(const char* variable, const Enum (&values)[N],
                     std::string_view (*name_of)(Enum), std::string_view what, Enum* result,
                     Origin* origin) {
    Setting setting = read(variable);
    if (!setting.present()) return true;
    for (Enum value : values) {
      if (equals_ignoring_case(setting.value, name_of(value))) {
        *result = value;
        *origin = setting.origin();
        return true;
      }
    }
    Problem problem;
    problem.add("is not ").add(what).add(" (accepted:");
    for (std::size_t i = 0; i < N; ++i) problem.add(i == 0 ? " " : ", ").add(name_of(values[i]));
    return fail(setting, problem.add(")").view());
  }

  const Sources& sources_;
  const ConfigFile* file_;
  Config& config_;
};

}  // namespace kashim::parsing
