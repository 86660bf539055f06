// The report `kashim --check` prints (KASHIM_CHECK=1): status, then every setting with where
// it came from — a variable, a line of the configuration file, or the default.
#include <cstdint>

#include "config.hpp"

namespace kashim {
namespace {

constexpr std::size_t kNameColumn = 18;

void start_line(std::string_view name, Report* report) {
  report->add("  ").add(name);
  for (std::size_t i = name.size(); i < kNameColumn; ++i) report->add(" ");
}

void add_origin(const Config& config, const char* name, int line, Report* report) {
  if (name == nullptr) {
    report->add("  (default)");
  } else if (line != 0) {
    report->add("  from ").add(config.file).add(":").add(line);
  } else {
    report->add("  from ").add(name);
  }
}

void add_origin(const Config& config, const Origin& origin, Report* report) {
  add_origin(config, origin.name, origin.line, report);
}

void describe_option(const Config& config, const ManagedOption& option, std::string_view name,
                     std::string_view unit, const char* sysctl, const Sources& kernel,
                     Report* report) {
  start_line(name, report);
  if (option.set) {
    report->add(option.value).add(unit);
    add_origin(config, option.source, option.line, report);
    report->add("\n");
    return;
  }
  report->add("not set: the program's or the kernel's");
  std::int64_t value = 0;
  if (sysctl != nullptr && kernel.sysctl(sysctl, &value, kernel.context)) {
    report->add(" (net.ipv4.").add(sysctl).add(" = ").add(value).add(unit).add(")");
  }
  report->add("\n");
}

// The file consulted and the program scope: shown whatever the status.
void describe_scope(const Config& config, Report* report) {
  start_line("file", report);
  if (config.file[0] == '\0') {
    report->add("none");
  } else {
    report->add(config.file).add(config.file_present ? "" : " (absent)");
  }
  report->add("\n");
  start_line("programs", report);
  report->add(config.programs[0] == '\0' ? "every program" : config.programs);
  add_origin(config, config.programs_from, report);
  report->add("\n");
  if (config.scope_program.empty()) return;
  start_line("this program", report);
  report->add(config.scope_program.view());
  switch (config.scope) {
    case ProgramVerdict::kIncluded:
      report->add(": in scope");
      if (!config.scope_item.empty()) report->add(" (\"").add(config.scope_item.view()).add("\")");
      break;
    case ProgramVerdict::kExcluded:
      report->add(": not in scope, excluded by \"").add(config.scope_item.view()).add("\"");
      break;
    case ProgramVerdict::kUnmatched:
      report->add(": not in scope, matches no item of the list");
      break;
  }
  report->add("\n");
}

void describe_direction(const Config& config, Report* report) {
  start_line("direction", report);
  report->add(direction_name(config.direction));
  switch (config.direction) {
    case Direction::kBoth:
      report->add(": connections opened and accepted (or inherited)");
      break;
    case Direction::kOut:
      report->add(": connections opened (connect, TCP Fast Open sendto/sendmsg)");
      break;
    case Direction::kIn:
      report->add(": connections accepted or inherited");
      break;
  }
  add_origin(config, config.direction_from, report);
  report->add("\n");
}

}  // namespace

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

std::string_view mode_name(Mode mode) {
  return mode == Mode::kForce ? "force" : "fallback";
}

void describe_config(const Config& config, const Sources& kernel, Report* report) {
  report->add("kashim " KASHIM_VERSION ": ");
  if (!config.error.empty()) {
    report->add("configuration invalid, shim inactive\n  error: ").add(config.error.view());
    report->add("\n");
    return;
  }
  if (config.out_of_scope) {
    report->add("program not in scope, shim inactive\n");
    describe_scope(config, report);
    return;
  }
  if (config.disabled) {
    report->add("disabled");
    add_origin(config, config.disable_from, report);
    report->add(", shim inactive\n");
    return;
  }
  report->add("configuration valid, shim active\n");
  describe_scope(config, report);
  report->add("  SO_KEEPALIVE      on\n");
  describe_option(config, config.idle_s, "TCP_KEEPIDLE", "s", "tcp_keepalive_time", kernel, report);
  describe_option(config, config.intvl_s, "TCP_KEEPINTVL", "s", "tcp_keepalive_intvl", kernel,
                  report);
  describe_option(config, config.cnt, "TCP_KEEPCNT", "", "tcp_keepalive_probes", kernel, report);
  describe_option(config, config.user_timeout_ms, "TCP_USER_TIMEOUT", "ms", nullptr, kernel,
                  report);
  if (config.user_timeout_auto) report->add("                    (auto: idle + intvl x cnt)\n");
  start_line("mode", report);
  report->add(config.mode == Mode::kForce ? "force: the program's own settings are replaced"
                                          : "fallback: the program's own settings win");
  add_origin(config, config.mode_from, report);
  report->add("\n");
  describe_direction(config, report);
  start_line("peers", report);
  if (config.peers.empty()) report->add("any");
  for (int i = 0; i < config.peers.count; ++i) {
    PatternText pattern;
    describe_peer_pattern(config.peers.patterns[i], &pattern);
    report->add(i == 0 ? "" : ", ").add(pattern.view());
  }
  add_origin(config, config.peers_from, report);
  report->add("\n");
  start_line("log", report);
  report->add(log_level_name(config.log_level));
  add_origin(config, config.log_from, report);
  report->add(", to ").add(config.log_file[0] != '\0' ? config.log_file : "stderr");
  add_origin(config, config.log_file_from, report);
  report->add("\n");
}

}  // namespace kashim
