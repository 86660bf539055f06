// parse_config(): the settings read in order (log first, then scope, then the rest), each
// from a variable, else the configuration file, else the default.
#include "config.hpp"

#include <charconv>
#include <climits>
#include <cstring>

#include "config_parser.hpp"
#include "in_place.hpp"

namespace kashim {
namespace parsing {
namespace {

constexpr std::int64_t kSaturated = INT64_MAX;

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

}  // namespace

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

bool parse_whole_number(std::string_view text, std::int64_t* number) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *number);
  if (end != text.data() + text.size()) return false;
  if (error == std::errc::result_out_of_range) *number = kSaturated;
  return error == std::errc() || error == std::errc::result_out_of_range;
}

void Parser::run() {
  reset_in_place(&config_);
  if (file_ != nullptr && file_->path != nullptr) {
    copy_text(file_->path, config_.file);
    config_.file_present = file_->present;
    config_.file_sections = file_->sections;
  }
  // KASHIM_CHECK first: a bad log setting is then reported by `--check` like any other
  // (it returned early, the report was never asked for and the wrapper ran COMMAND
  // untuned). The log settings next, so that an error later on goes where the user asked.
  if (!parse_check() || !parse_log_level() || !parse_log_file()) return;
  // Then the scope: a program left out gets nothing, not even an error line.
  if (!parse_programs() || config_.out_of_scope) return;
  if (file_ != nullptr && !file_->error.empty()) {
    config_.error.clear();
    config_.error.add(file_->error.view()).add(kNotApplied);
    return;
  }
  if (!parse_disable() || config_.disabled) return;
  if (!parse_seconds(read("KASHIM_IDLE", "KEEPIDLE"), kMaxKeepIdleSeconds, &config_.idle_s) ||
      !parse_seconds(read("KASHIM_INTVL", "KEEPINTVL"), kMaxKeepIntvlSeconds, &config_.intvl_s) ||
      !parse_count() || !parse_user_timeout() || !parse_mode() || !parse_direction() ||
      !parse_peers()) {
    return;
  }
  config_.active = true;
  config_.selective = !config_.peers.empty() || config_.direction != Direction::kBoth;
}

Setting Parser::read(const char* name, const char* alias) const {
  return read_setting(sources_, file_, name, alias);
}

// The setting as the user wrote it: KASHIM_IDLE=abc, or /etc/kashim.conf:3: idle = abc.
void Parser::start_error(const Setting& setting, std::string_view separator) {
  config_.error.clear();
  if (setting.line != 0) {
    config_.error.add(config_.file).add(":").add(setting.line).add(": ").add(setting.name);
    config_.error.add(separator == "=" ? " = " : separator);
  } else {
    config_.error.add(setting.name).add(separator);
  }
}

bool Parser::fail(const Setting& setting, std::string_view problem) {
  start_error(setting, "=");
  config_.error.add_quoted_value(setting.value).add(" ").add(problem).add(kNotApplied);
  config_.active = false;
  return false;
}

// 0 or 1, nothing else: "yes" or "2" must not be silently taken as either.
bool Parser::parse_switch(const Setting& setting, std::string_view accepted, bool* result) {
  if (setting.value != "0" && setting.value != "1") {
    Problem problem;
    return fail(setting, problem.add("is not 0 or 1 (accepted: ").add(accepted).add(")").view());
  }
  *result = setting.value == "1";
  return true;
}

bool Parser::parse_log_level() {
  static constexpr LogLevel kLevels[] = {LogLevel::kOff, LogLevel::kError, LogLevel::kInfo,
                                         LogLevel::kDebug};
  return parse_keyword("KASHIM_LOG", kLevels, log_level_name, "a log level", &config_.log_level,
                       &config_.log_from);
}

bool Parser::parse_log_file() {
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
  // Standard error's own names are links, which the log file's O_NOFOLLOW refuses (every
  // line was dropped): they mean stderr, with its protections (the file it was at start,
  // never a network connection).
  for (std::string_view stderr_name : {"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"}) {
    if (setting.value == stderr_name) {
      config_.log_file_from = setting.origin();
      return true;
    }
  }
  copy_text(setting.value, config_.log_file);
  config_.log_file_from = setting.origin();
  return true;
}

bool Parser::parse_check() {
  Setting setting = read("KASHIM_CHECK");
  return !setting.present() ||
         parse_switch(setting, "1 to print the configuration report, 0 not to", &config_.check);
}

bool Parser::parse_programs() {
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
  if (std::string_view problem = check_program_list(setting.value, &bad_item); !problem.empty()) {
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

bool Parser::parse_disable() {
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

}  // namespace parsing

bool parse_duration_ms(std::string_view text, std::int64_t* milliseconds) {
  std::size_t digits = text.find_first_not_of("0123456789");
  if (digits == std::string_view::npos) digits = text.size();
  std::int64_t number = 0;
  if (!parsing::parse_whole_number({text.data(), digits}, &number)) return false;
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
  *milliseconds = number > parsing::kSaturated / factor ? parsing::kSaturated : number * factor;
  return true;
}

void parse_config(const Sources& sources, Config* config) {
  parsing::Parser(sources, config).run();
}

namespace {

// For checking a section: the kernel's values count as 0, so that checking costs no system
// call; a program the section applies to reads the real ones.
bool no_sysctl(const char*, std::int64_t* value, void*) {
  *value = 0;
  return true;
}

// Each section parsed into `config` itself, then this program's configuration again;
// `only_section` is the room for one section's settings.
void check_sections(std::string_view file_text, const Sources& sources, Config* config,
                    ConfigFile* only_section) {
  const ConfigFile* file = sources.file;
  decltype(config->error) error;
  Sources checking = sources;
  checking.program = nullptr;
  checking.sysctl = no_sysctl;
  for (int section = 1; section <= file->sections && error.empty(); ++section) {
    parse_config_with_section(file_text, file->path, section, checking, only_section, config);
    if (!config->error.empty()) error.add(config->error.view());
  }
  parse_config(sources, config);
  if (!error.empty()) {
    config->error = error;
    config->active = false;
    config->selective = false;
  }
}

// Apart, so that the room is taken from the stack only for a file with sections.
[[gnu::noinline]] void check_sections_on_stack(std::string_view file_text, const Sources& sources,
                                               Config* config) {
  ConfigFile only_section;
  check_sections(file_text, sources, config, &only_section);
}

}  // namespace

void parse_config_with_section(std::string_view file_text, const char* path, int section,
                               Sources sources, ConfigFile* room, Config* config) {
  reset_in_place(room);
  room->path = path;
  room->present = true;
  parse_config_file(file_text, nullptr, room, section);
  sources.file = room;
  parse_config(sources, config);
}

void parse_config_with_file(std::string_view file_text, const Sources& sources, Config* config,
                            ConfigFile* section_room) {
  parse_config(sources, config);
  const ConfigFile* file = sources.file;
  if (!config->active || file == nullptr || !file->error.empty() || file->sections == 0) return;
  if (section_room != nullptr) {
    check_sections(file_text, sources, config, section_room);
  } else {
    check_sections_on_stack(file_text, sources, config);
  }
}

}  // namespace kashim
