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

// A variable as the parser sees it: the first of its names that is set to something other
// than blanks. An empty value counts as unset, as `KASHIM_IDLE=$UNSET_VARIABLE` expects.
struct Setting {
  const char* name = "";
  std::string_view value;
  bool present() const { return !value.empty(); }
};

Setting read_setting(const Sources& sources, const char* name, const char* alias = nullptr) {
  for (const char* candidate : {name, alias}) {
    if (candidate == nullptr) continue;
    const char* raw = sources.getenv(candidate, sources.context);
    std::string_view value = raw == nullptr ? std::string_view() : trim(raw);
    if (!value.empty()) return {candidate, value};
  }
  return {name, {}};
}

class Parser {
 public:
  Parser(const Sources& sources, Config* config) : sources_(sources), config_(*config) {}

  void run() {
    // Reset in place: an assignment from Config() would build a 6 KiB temporary on the
    // stack first and copy it.
    std::destroy_at(&config_);
    ::new (static_cast<void*>(&config_)) Config();
    // The log settings come first, so that an error later on goes where the user asked.
    if (!parse_log_level() || !parse_log_file()) return;
    config_.check = read_setting(sources_, "KASHIM_CHECK").value == "1";
    if (!parse_disable() || config_.disabled) return;
    if (!parse_seconds(read_setting(sources_, "KASHIM_IDLE", "KEEPIDLE"), kMaxKeepIdleSeconds,
                       &config_.idle_s) ||
        !parse_seconds(read_setting(sources_, "KASHIM_INTVL", "KEEPINTVL"), kMaxKeepIntvlSeconds,
                       &config_.intvl_s) ||
        !parse_count() || !parse_user_timeout() || !parse_mode() || !parse_direction() ||
        !parse_peers()) {
      return;
    }
    config_.active = true;
    config_.selective = !config_.peers.empty() || config_.direction != Direction::kBoth;
  }

 private:
  bool fail(const Setting& setting, std::string_view problem) {
    config_.error.clear();
    config_.error.add(setting.name).add("=").add_quoted_value(setting.value).add(" ");
    config_.error.add(problem).add(kNotApplied);
    config_.active = false;
    return false;
  }

  // A variable whose value is one of an enumeration's names, in any case.
  template <typename Enum, std::size_t N>
  bool parse_keyword(const char* variable, const Enum (&values)[N],
                     std::string_view (*name_of)(Enum), std::string_view problem, Enum* result) {
    Setting setting = read_setting(sources_, variable);
    if (!setting.present()) return true;
    for (Enum value : values) {
      if (equals_ignoring_case(setting.value, name_of(value))) {
        *result = value;
        return true;
      }
    }
    return fail(setting, problem);
  }

  bool parse_log_level() {
    static constexpr LogLevel kLevels[] = {LogLevel::kOff, LogLevel::kError, LogLevel::kInfo,
                                           LogLevel::kDebug};
    return parse_keyword("KASHIM_LOG", kLevels, log_level_name,
                         "is not a log level (accepted: off, error, info, debug)",
                         &config_.log_level);
  }

  bool parse_log_file() {
    Setting setting = read_setting(sources_, "KASHIM_LOG_FILE");
    if (!setting.present()) return true;
    // Relative paths would move with every chdir() of the program.
    if (setting.value.front() != '/') {
      return fail(setting, "is not an absolute path (accepted: a path starting with /)");
    }
    if (setting.value.size() >= kMaxLogPath) {
      return fail(setting, "is too long (accepted: an absolute path of at most 4095 bytes)");
    }
    std::memcpy(config_.log_file, setting.value.data(), setting.value.size());
    config_.log_file[setting.value.size()] = '\0';
    return true;
  }

  bool parse_disable() {
    Setting setting = read_setting(sources_, "KASHIM_DISABLE");
    if (setting.present()) {
      if (setting.value != "0" && setting.value != "1") {
        return fail(setting, "is not 0 or 1 (accepted: 1 to disable the shim, 0 to enable it)");
      }
      config_.disabled = setting.value == "1";
      return true;
    }
    // libkeepalive's switch, honoured so that kashim can replace it without edits.
    setting = read_setting(sources_, "KEEPALIVE");
    if (!setting.present()) return true;
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
    if (!parse_duration_ms(setting.value, &ms)) {
      return fail(setting,
                  "is not a duration (accepted: 1s..32767s, a whole number with an optional "
                  "unit ms, s, m or h; no unit means seconds)");
    }
    if (ms < 1000 || ms > std::int64_t{max_seconds} * 1000) {
      return fail(setting, "is out of range 1s..32767s");
    }
    if (ms % 1000 != 0) {
      return fail(setting, "is not a whole number of seconds (accepted: 1s..32767s)");
    }
    *option = {true, static_cast<int>(ms / 1000), setting.name};
    return true;
  }

  bool parse_count() {
    Setting setting = read_setting(sources_, "KASHIM_CNT", "KEEPCNT");
    if (!setting.present()) return true;
    std::int64_t count = 0;
    if (!parse_whole_number(setting.value, &count)) {
      return fail(setting, "is not a whole number (accepted: 1..127)");
    }
    if (count < 1 || count > kMaxKeepCnt) return fail(setting, "is out of range 1..127");
    config_.cnt = {true, static_cast<int>(count), setting.name};
    return true;
  }

  bool parse_user_timeout() {
    Setting setting = read_setting(sources_, "KASHIM_USER_TIMEOUT");
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
      return fail(setting, "is out of range 0..2147483647ms");
    }
    config_.user_timeout_ms = {true, static_cast<int>(ms), setting.name};
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
        FixedText<120> problem;
        problem.add("needs net.ipv4.").add(wanted[i].sysctl);
        problem.add(", which cannot be read (set KASHIM_IDLE, KASHIM_INTVL and KASHIM_CNT)");
        return fail(setting, problem.view());
      }
    }
    *ms = (parts[0] + parts[1] * parts[2]) * 1000;
    if (*ms > kMaxUserTimeoutMs) {
      FixedText<120> problem;
      problem.add("gives ").add(*ms).add("ms, out of range 0..2147483647ms");
      return fail(setting, problem.view());
    }
    return true;
  }

  bool parse_mode() {
    Setting setting = read_setting(sources_, "KASHIM_MODE");
    if (!setting.present()) return true;
    if (equals_ignoring_case(setting.value, "force")) {
      config_.mode = Mode::kForce;
    } else if (equals_ignoring_case(setting.value, "fallback")) {
      config_.mode = Mode::kFallback;
    } else {
      return fail(setting, "is not a mode (accepted: force, fallback)");
    }
    return true;
  }

  bool parse_direction() {
    static constexpr Direction kDirections[] = {Direction::kBoth, Direction::kOut, Direction::kIn};
    return parse_keyword("KASHIM_DIRECTION", kDirections, direction_name,
                         "is not a direction (accepted: out, in, both)", &config_.direction);
  }

  // Comma-separated; blanks around a pattern and empty items ("a,,b", a trailing comma
  // from "$A,$B") are ignored, as an empty variable is.
  bool parse_peers() {
    Setting setting = read_setting(sources_, "KASHIM_PEERS");
    std::string_view rest = setting.value;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view item = trim(head(rest, comma));
      rest = comma == std::string_view::npos ? std::string_view() : tail(rest, comma + 1);
      if (item.empty()) continue;
      PeerFilter& peers = config_.peers;
      if (peers.count == kMaxPeerPatterns) {
        return fail(setting, "has more than 32 patterns (accepted: at most 32)");
      }
      if (std::string_view problem = parse_peer_pattern(item, &peers.patterns[peers.count]);
          !problem.empty()) {
        config_.error.clear();
        config_.error.add(setting.name).add(" pattern \"").add_quoted_value(item).add("\" ");
        config_.error.add(problem).add(" (").add(kPeerPatternForms).add(")").add(kNotApplied);
        config_.active = false;
        return false;
      }
      ++peers.count;
    }
    return true;
  }

  const Sources& sources_;
  Config& config_;
};

template <std::size_t N>
void describe_option(const ManagedOption& option, std::string_view name, std::string_view unit,
                     const char* sysctl, const Sources& kernel, FixedText<N>* report) {
  report->add("  ").add(name);
  for (std::size_t i = name.size(); i < 18; ++i) report->add(" ");
  if (option.set) {
    report->add(option.value).add(unit).add("  from ").add(option.source).add("\n");
    return;
  }
  report->add("not set: the program's or the kernel's");
  std::int64_t value = 0;
  if (sysctl != nullptr && kernel.sysctl(sysctl, &value, kernel.context)) {
    report->add(" (net.ipv4.").add(sysctl).add(" = ").add(value).add(unit).add(")");
  }
  report->add("\n");
}

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

std::string_view direction_name(Direction direction) {
  switch (direction) {
    case Direction::kBoth:
      return "both";
    case Direction::kOut:
      return "out";
    case Direction::kIn:
      return "in";
  }
  return "?";
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kOff:
      return "off";
    case LogLevel::kError:
      return "error";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

void describe_config(const Config& config, const Sources& kernel, Report* report) {
  report->add("kashim " KASHIM_VERSION ": ");
  if (!config.error.empty()) {
    report->add("configuration invalid, shim inactive\n  error: ").add(config.error.view());
    report->add("\n");
    return;
  }
  if (config.disabled) {
    report->add("disabled (KASHIM_DISABLE=1 or KEEPALIVE=off), shim inactive\n");
    return;
  }
  report->add("configuration valid, shim active\n");
  report->add("  SO_KEEPALIVE      on\n");
  describe_option(config.idle_s, "TCP_KEEPIDLE", "s", "tcp_keepalive_time", kernel, report);
  describe_option(config.intvl_s, "TCP_KEEPINTVL", "s", "tcp_keepalive_intvl", kernel, report);
  describe_option(config.cnt, "TCP_KEEPCNT", "", "tcp_keepalive_probes", kernel, report);
  describe_option(config.user_timeout_ms, "TCP_USER_TIMEOUT", "ms", nullptr, kernel, report);
  if (config.user_timeout_auto) report->add("                    (auto: idle + intvl x cnt)\n");
  report->add("  mode              ");
  report->add(config.mode == Mode::kForce ? "force: the program's own settings are replaced\n"
                                          : "fallback: the program's own settings win\n");
  report->add("  direction         ").add(direction_name(config.direction));
  switch (config.direction) {
    case Direction::kBoth:
      report->add(": connections opened and accepted (or inherited)\n");
      break;
    case Direction::kOut:
      report->add(": connections opened (connect, TCP Fast Open sendto/sendmsg)\n");
      break;
    case Direction::kIn:
      report->add(": connections accepted or inherited\n");
      break;
  }
  report->add("  peers             ");
  if (config.peers.empty()) report->add("any");
  for (int i = 0; i < config.peers.count; ++i) {
    PatternText pattern;
    describe_peer_pattern(config.peers.patterns[i], &pattern);
    report->add(i == 0 ? "" : ", ").add(pattern.view());
  }
  report->add("\n");
  report->add("  log               ").add(log_level_name(config.log_level)).add(" to ");
  report->add(config.log_file[0] != '\0' ? config.log_file : "stderr").add("\n");
}

}  // namespace kashim
