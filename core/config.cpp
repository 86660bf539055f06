#include "config.hpp"

#include <netinet/tcp.h>

#include <charconv>
#include <climits>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#ifndef KASHIM_VERSION
#error "KASHIM_VERSION comes from CMake's project version"
#endif

namespace kashim {
namespace {

constexpr std::string_view kNotApplied = "; keep-alive settings not applied";
constexpr std::int64_t kSaturated = INT64_MAX;

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(kSpace);
  return {text.data() + first, last - first + 1};
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Digits only; a value too large for int64 saturates so that the caller reports it as out
// of range rather than as malformed.
bool parse_whole_number(std::string_view text, std::int64_t* number) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *number);
  if (end != text.data() + text.size()) return false;
  if (error == std::errc::result_out_of_range) *number = kSaturated;
  return error == std::errc() || error == std::errc::result_out_of_range;
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

Setting read_setting(const Sources& sources, const ConfigFile* file, const char* name,
                     const char* alias = nullptr) {
  for (const char* candidate : {name, alias}) {
    if (candidate == nullptr) continue;
    const char* raw = sources.getenv(candidate, sources.context);
    std::string_view value = raw == nullptr ? std::string_view() : trim(raw);
    if (!value.empty()) return {candidate, value, 0};
  }
  if (file != nullptr) {
    if (const FileSetting* setting = file->find_variable(name)) {
      return {setting->key, trim(setting->value), setting->line};
    }
  }
  return {name, {}, 0};
}

// Copies `text` into a fixed array, cut short if it does not fit.
template <std::size_t N>
void copy_text(std::string_view text, char (&into)[N]) {
  std::size_t length = text.size() < N - 1 ? text.size() : N - 1;
  std::memcpy(into, text.data(), length);
  into[length] = '\0';
}

// "1s..32767s": a range of the bounds the kernel accepts, from the constants.
using Problem = FixedText<200>;
Problem seconds_range(int max_seconds) {
  Problem range;
  range.add("1s..").add(max_seconds).add("s");
  return range;
}

class Parser {
 public:
  Parser(const Sources& sources, Config* config)
      : sources_(sources),
        file_(sources.file != nullptr      ? sources.file
              : sources.read_file != nullptr ? sources.read_file()
                                             : nullptr),
        config_(*config) {}

  void run() {
    // Reset in place: an assignment from Config() would build a temporary of several KiB
    // on the stack first and copy it.
    std::destroy_at(&config_);
    ::new (static_cast<void*>(&config_)) Config();
    if (file_ != nullptr && file_->path != nullptr) {
      copy_text(file_->path, config_.file);
      config_.file_present = file_->present;
    }
    // The log settings come first, so that an error later on goes where the user asked.
    if (!parse_log_level() || !parse_log_file() || !parse_check()) return;
    // Then the scope: a program left out gets nothing, not even an error line.
    if (!parse_programs() || config_.out_of_scope) return;
    if (file_ != nullptr && !file_->error.empty()) {
      config_.error.clear();
      config_.error.add(file_->error.view()).add(kNotApplied);
      return;
    }
    if (!parse_disable() || config_.disabled) return;
    if (!parse_seconds(read("KASHIM_IDLE", "KEEPIDLE"), kMaxKeepIdleSeconds,
                       &config_.idle_s) ||
        !parse_seconds(read("KASHIM_INTVL", "KEEPINTVL"), kMaxKeepIntvlSeconds,
                       &config_.intvl_s) ||
        !parse_count() || !parse_user_timeout() || !parse_mode() || !parse_direction() ||
        !parse_peers()) {
      return;
    }
    config_.active = true;
    config_.selective = !config_.peers.empty() || config_.direction != Direction::kBoth;
  }

 private:
  // The setting as the user wrote it: KASHIM_IDLE=abc, or /etc/kashim.conf:3: idle = abc.
  void start_error(const Setting& setting, std::string_view separator) {
    config_.error.clear();
    if (setting.line != 0) {
      config_.error.add(config_.file).add(":").add(setting.line).add(": ").add(setting.name);
      config_.error.add(separator == "=" ? " = " : separator);
    } else {
      config_.error.add(setting.name).add(separator);
    }
  }

  bool fail(const Setting& setting, std::string_view problem) {
    start_error(setting, "=");
    config_.error.add_quoted_value(setting.value).add(" ").add(problem).add(kNotApplied);
    config_.active = false;
    return false;
  }

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

  // 0 or 1, nothing else: "yes" or "2" must not be silently taken as either.
  bool parse_switch(const Setting& setting, std::string_view accepted, bool* result) {
    if (setting.value != "0" && setting.value != "1") {
      Problem problem;
      return fail(setting, problem.add("is not 0 or 1 (accepted: ").add(accepted).add(")").view());
    }
    *result = setting.value == "1";
    return true;
  }

  bool parse_log_level() {
    static constexpr LogLevel kLevels[] = {LogLevel::kOff, LogLevel::kError, LogLevel::kInfo,
                                           LogLevel::kDebug};
    return parse_keyword("KASHIM_LOG", kLevels, log_level_name, "a log level",
                         &config_.log_level, &config_.log_from);
  }

  bool parse_log_file() {
    Setting setting = read("KASHIM_LOG_FILE");
    if (!setting.present()) return true;
    // Relative paths would move with every chdir() of the program.
    if (setting.value.front() != '/') {
      return fail(setting, "is not an absolute path (accepted: a path starting with /)");
    }
    if (setting.value.size() >= kMaxLogPath) {
      Problem problem;
      problem.add("is too long (accepted: an absolute path of at most ");
      problem.add(static_cast<std::int64_t>(kMaxLogPath - 1)).add(" bytes)");
      return fail(setting, problem.view());
    }
    copy_text(setting.value, config_.log_file);
    config_.log_file_from = setting.origin();
    return true;
  }

  bool parse_check() {
    Setting setting = read("KASHIM_CHECK");
    return !setting.present() ||
           parse_switch(setting, "1 to print the configuration report, 0 not to", &config_.check);
  }

  bool parse_programs() {
    Setting setting = read("KASHIM_PROGRAMS");
    if (const ProgramNames* program = sources_.program) {
      config_.scope_program.add_quoted_value(program->executable);
      if (program->invoked != program->executable && !program->invoked.empty()) {
        config_.scope_program.add(" (argv[0] ").add_quoted_value(program->invoked).add(")");
      }
    }
    if (!setting.present()) return true;
    if (setting.value.size() >= kMaxProgramList) {
      Problem problem;
      problem.add("is too long (accepted: at most ");
      problem.add(static_cast<std::int64_t>(kMaxProgramList - 1)).add(" bytes)");
      return fail(setting, problem.view());
    }
    std::string_view bad_item;
    if (std::string_view problem = check_program_list(setting.value, &bad_item);
        !problem.empty()) {
      start_error(setting, " ");
      config_.error.add("program \"").add_quoted_value(bad_item).add("\" ").add(problem);
      config_.error.add(" (").add(kProgramListForms).add(")").add(kNotApplied);
      return false;
    }
    copy_text(setting.value, config_.programs);
    config_.programs_from = setting.origin();
    if (sources_.program != nullptr) {
      ProgramMatch match = match_programs(setting.value, *sources_.program);
      config_.scope = match.verdict;
      config_.scope_item.add_quoted_value(match.item);
      config_.out_of_scope = match.verdict != ProgramVerdict::kIncluded;
    }
    return true;
  }

  bool parse_disable() {
    Setting setting = read("KASHIM_DISABLE");
    if (setting.present()) {
      config_.disable_from = setting.origin();
      return parse_switch(setting, "1 to disable the shim, 0 to enable it", &config_.disabled);
    }
    // libkeepalive's switch, honoured so that kashim can replace it without edits.
    setting = read("KEEPALIVE");
    if (!setting.present()) return true;
    config_.disable_from = setting.origin();
    if (equals_ignoring_case(setting.value, "off")) {
      config_.disabled = true;
    } else if (!equals_ignoring_case(setting.value, "on")) {
      return fail(setting, "is not on or off (accepted: off to disable the shim, on)");
    }
    return true;
  }

  bool parse_seconds(const Setting& setting, int max_seconds, ManagedOption* option) {
    if (!setting.present()) return true;
    std::int64_t ms = 0;
    Problem problem;
    if (!parse_duration_ms(setting.value, &ms)) {
      problem.add("is not a duration (accepted: ").add(seconds_range(max_seconds).view());
      problem.add(", a whole number with an optional unit ms, s, m or h; no unit means seconds)");
      return fail(setting, problem.view());
    }
    if (ms < 1000 || ms > std::int64_t{max_seconds} * 1000) {
      problem.add("is out of range ").add(seconds_range(max_seconds).view());
      return fail(setting, problem.view());
    }
    if (ms % 1000 != 0) {
      problem.add("is not a whole number of seconds (accepted: ");
      problem.add(seconds_range(max_seconds).view()).add(")");
      return fail(setting, problem.view());
    }
    *option = {true, static_cast<int>(ms / 1000), setting.name, setting.line};
    return true;
  }

  bool parse_count() {
    Setting setting = read("KASHIM_CNT", "KEEPCNT");
    if (!setting.present()) return true;
    std::int64_t count = 0;
    Problem problem;
    if (!parse_whole_number(setting.value, &count)) {
      problem.add("is not a whole number (accepted: 1..").add(kMaxKeepCnt).add(")");
      return fail(setting, problem.view());
    }
    if (count < 1 || count > kMaxKeepCnt) {
      return fail(setting, problem.add("is out of range 1..").add(kMaxKeepCnt).view());
    }
    config_.cnt = {true, static_cast<int>(count), setting.name, setting.line};
    return true;
  }

  static Problem user_timeout_range() {
    Problem range;
    range.add("out of range 0..").add(kMaxUserTimeoutMs).add("ms");
    return range;
  }

  bool parse_user_timeout() {
    Setting setting = read("KASHIM_USER_TIMEOUT");
    if (!setting.present()) return true;
    std::int64_t ms = 0;
    if (equals_ignoring_case(setting.value, "auto")) {
      if (!auto_user_timeout(setting, &ms)) return false;
      config_.user_timeout_auto = true;
    } else if (!parse_duration_ms(setting.value, &ms)) {
      return fail(setting,
                  "is not a duration (accepted: auto, 0 for the kernel's default, or a whole "
                  "number with an optional unit ms, s, m or h; no unit means seconds)");
    } else if (ms > kMaxUserTimeoutMs) {
      Problem problem;
      return fail(setting, problem.add("is ").add(user_timeout_range().view()).view());
    }
    config_.user_timeout_ms = {true, static_cast<int>(ms), setting.name, setting.line};
    return true;
  }

  // idle + intvl x cnt: when the last unanswered probe would declare the peer dead.
  bool auto_user_timeout(const Setting& setting, std::int64_t* ms) {
    struct Part {
      const ManagedOption& option;
      const char* sysctl;
    };
    std::int64_t parts[3] = {};
    const Part wanted[3] = {{config_.idle_s, "tcp_keepalive_time"},
                            {config_.intvl_s, "tcp_keepalive_intvl"},
                            {config_.cnt, "tcp_keepalive_probes"}};
    for (int i = 0; i < 3; ++i) {
      parts[i] = wanted[i].option.value;
      if (wanted[i].option.set) continue;
      if (!sources_.sysctl(wanted[i].sysctl, &parts[i], sources_.context) || parts[i] < 0 ||
          parts[i] > INT_MAX) {
        Problem problem;
        problem.add("needs net.ipv4.").add(wanted[i].sysctl);
        problem.add(", which cannot be read (set KASHIM_IDLE, KASHIM_INTVL and KASHIM_CNT)");
        return fail(setting, problem.view());
      }
    }
    *ms = (parts[0] + parts[1] * parts[2]) * 1000;
    if (*ms > kMaxUserTimeoutMs) {
      Problem problem;
      problem.add("gives ").add(*ms).add("ms, ").add(user_timeout_range().view());
      return fail(setting, problem.view());
    }
    return true;
  }

  bool parse_mode() {
    static constexpr Mode kModes[] = {Mode::kForce, Mode::kFallback};
    return parse_keyword("KASHIM_MODE", kModes, mode_name, "a mode", &config_.mode,
                         &config_.mode_from);
  }

  bool parse_direction() {
    static constexpr Direction kDirections[] = {Direction::kOut, Direction::kIn, Direction::kBoth};
    return parse_keyword("KASHIM_DIRECTION", kDirections, direction_name, "a direction",
                         &config_.direction, &config_.direction_from);
  }

  // Comma-separated; blanks around a pattern and empty items ("a,,b", a trailing comma
  // from "$A,$B") are ignored, as an empty variable is.
  bool parse_peers() {
    Setting setting = read("KASHIM_PEERS");
    std::string_view rest = setting.value;
    if (setting.present()) config_.peers_from = setting.origin();
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view item = trim(head(rest, comma));
      rest = comma == std::string_view::npos ? std::string_view() : tail(rest, comma + 1);
      if (item.empty()) continue;
      PeerFilter& peers = config_.peers;
      if (peers.count == kMaxPeerPatterns) {
        Problem problem;
        problem.add("has more than ").add(kMaxPeerPatterns).add(" patterns (accepted: at most ");
        return fail(setting, problem.add(kMaxPeerPatterns).add(")").view());
      }
      if (std::string_view problem = parse_peer_pattern(item, &peers.patterns[peers.count]);
          !problem.empty()) {
        start_error(setting, " ");
        config_.error.add("pattern \"").add_quoted_value(item).add("\" ");
        config_.error.add(problem).add(" (").add(kPeerPatternForms).add(")").add(kNotApplied);
        config_.active = false;
        return false;
      }
      ++peers.count;
    }
    return true;
  }

  Setting read(const char* name, const char* alias = nullptr) const {
    return read_setting(sources_, file_, name, alias);
  }

  const Sources& sources_;
  const ConfigFile* file_;
  Config& config_;
};

}  // namespace

bool parse_duration_ms(std::string_view text, std::int64_t* milliseconds) {
  std::size_t digits = text.find_first_not_of("0123456789");
  if (digits == std::string_view::npos) digits = text.size();
  std::int64_t number = 0;
  if (!parse_whole_number({text.data(), digits}, &number)) return false;
  std::string_view unit(text.data() + digits, text.size() - digits);
  std::int64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "ms") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 60 * 60 * 1000;
  } else {
    return false;
  }
  *milliseconds = number > kSaturated / factor ? kSaturated : number * factor;
  return true;
}

void parse_config(const Sources& sources, Config* config) {
  Parser(sources, config).run();
}

}  // namespace kashim
