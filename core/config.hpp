// The shim's configuration: environment and configuration file in, a frozen Config out.
//
// Pure: the environment, the file's settings and the kernel's sysctl values reach the
// parser through Sources, so unit tests and the fuzzer drive it without touching the process.
// The result is trivially copyable and holds no pointers into the environment, so it can
// be published once and read by every thread without locks.
#pragma once

#include <netinet/tcp.h>

#include <climits>
#include <cstdint>
#include <string_view>

#include "config_file.hpp"
#include "peers.hpp"
#include "programs.hpp"
#include "text.hpp"

namespace kashim {

enum class Mode : std::uint8_t { kForce, kFallback };
// Which connections are tuned: those the program opens (connect, or sendto/sendmsg with
// MSG_FASTOPEN), those it accepts or inherits, or both.
enum class Direction : std::uint8_t { kBoth, kOut, kIn };
// kError is zero so that a zero-filled Config (what a slot holds before parsing) has the
// default level, and the shim's state can live in .bss. Higher is more verbose.
enum class LogLevel : std::int8_t { kOff = -1, kError = 0, kInfo = 1, kDebug = 2 };

// Kernel limits (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
inline constexpr int kMaxKeepIdleSeconds = 32767;
inline constexpr int kMaxKeepIntvlSeconds = 32767;
inline constexpr int kMaxKeepCnt = 127;
inline constexpr std::int64_t kMaxUserTimeoutMs = 2147483647;  // the option is an int

inline constexpr std::size_t kMaxLogPath = 4096;      // PATH_MAX, with its terminating NUL
inline constexpr std::size_t kMaxProgramList = 1024;  // with its terminating NUL

// Where a setting came from: `name` is the variable (KASHIM_IDLE) or, when `line` is not 0,
// the key on that line of Config::file. nullptr: not set, the default stands.
struct Origin {
  const char* name = nullptr;
  int line = 0;
};

// One socket option the shim manages. When `set` is false the program's and the kernel's
// value stand; `source` names the variable it came from (or the file's key, on `line` of
// Config::file), for messages.
struct ManagedOption {
  bool set = false;
  int value = 0;
  const char* source = nullptr;
  int line = 0;
};

struct Config {
  // True when a peer filter or a direction is set: every connection is then decided one by
  // one at connect()/accept() instead of every TCP socket being tuned at socket().
  bool selective = false;
  LogLevel log_level = LogLevel::kError;
  // False when disabled on purpose or after invalid input: every hook then only forwards.
  bool active = false;
  bool disabled = false;  // KASHIM_DISABLE=1, or libkeepalive's KEEPALIVE=off
  bool check = false;     // KASHIM_CHECK=1: report the parsed configuration on stderr
  // The process was short of descriptors or memory to read the file: this is not its
  // configuration, and a later parse may get it (the preload library parses again at the
  // next hooked call rather than keep this one).
  bool short_of_resources = false;
  ManagedOption idle_s;           // TCP_KEEPIDLE
  ManagedOption intvl_s;          // TCP_KEEPINTVL
  ManagedOption cnt;              // TCP_KEEPCNT
  ManagedOption user_timeout_ms;  // TCP_USER_TIMEOUT
  bool user_timeout_auto = false;
  Mode mode = Mode::kForce;
  Direction direction = Direction::kBoth;  // KASHIM_DIRECTION
  PeerFilter peers;                        // KASHIM_PEERS; empty: every peer
  char log_file[kMaxLogPath] = {};         // empty: stderr
  FixedText<400> error;                    // the one error line, without the "kashim: " prefix

  // Scoping (KASHIM_PROGRAMS): a program it leaves out gets an inert and silent shim.
  bool out_of_scope = false;
  char programs[kMaxProgramList] = {};  // the list as given; empty: every program
  int file_sections = 0;  // how many [program ...] sections the configuration file has
  ProgramVerdict scope = ProgramVerdict::kIncluded;
  FixedText<80> scope_program;  // the program's names, when the scope was decided here
  FixedText<80> scope_item;     // the item of the list that decided, for --check

  // Where each setting came from, for --check (the options carry their own).
  char file[kMaxConfigPath] = {};  // the configuration file consulted; empty: none
  bool file_present = false;       // it exists and was read
  Origin log_from, log_file_from, disable_from, programs_from, mode_from, direction_from,
      peers_from;
};

// The TCP options the shim manages, with the kernel's own bounds (outside them its
// setsockopt fails with EINVAL, and so must the program's) and where a new socket's value
// comes from: the net.ipv4 sysctl named, or 0 when there is none.
struct ManagedTcpOption {
  int optname;
  ManagedOption Config::*option;
  int min;
  int max;
  const char* default_sysctl;
  const char* label;  // as log lines, status and --check name it: "idle 60s"
  const char* unit;
};

inline constexpr ManagedTcpOption kManagedTcpOptions[] = {
    {TCP_KEEPIDLE, &Config::idle_s, 1, kMaxKeepIdleSeconds, "tcp_keepalive_time", "idle", "s"},
    {TCP_KEEPINTVL, &Config::intvl_s, 1, kMaxKeepIntvlSeconds, "tcp_keepalive_intvl", "intvl", "s"},
    {TCP_KEEPCNT, &Config::cnt, 1, kMaxKeepCnt, "tcp_keepalive_probes", "cnt", ""},
    {TCP_USER_TIMEOUT, &Config::user_timeout_ms, 0, INT_MAX, nullptr, "user timeout", "ms"},
};

// Where the parser reads from. `getenv` returns nullptr for an unset variable.
// `sysctl` reads an integer from /proc/sys/net/ipv4/<name>; false when it cannot.
struct Sources {
  const char* (*getenv)(const char* name, void* context);
  bool (*sysctl)(const char* name, std::int64_t* value, void* context);
  void* context;
  // The configuration file's settings for this program, consulted for what no variable
  // sets; nullptr: no file.
  const ConfigFile* file = nullptr;
  // The program whose scope KASHIM_PROGRAMS decides; nullptr: not decided here (a route
  // that acts for another program decides with match_programs()).
  const ProgramNames* program = nullptr;
  // Without `file`: gives the file when parse_config() first needs it, so that callers of
  // process_sources() that only read a variable or a sysctl never open it.
  const ConfigFile* (*read_file)() = nullptr;
};

void parse_config(const Sources& sources, Config* config);

// Whether another program may get another configuration from the same environment and file
// (a scope list, or [program ...] sections): a route that acts for a tree of processes (the
// supervisor) then decides process by process, as the library does inside each program.
inline bool varies_by_program(const Config& config) {
  return config.programs[0] != '\0' || config.file_sections > 0;
}

// parse_config() with section `section` (1..file_sections) of the file at `path`, whose text
// is `file_text`, as if that section were the whole file: `room` holds the section's
// settings. For going through the sections one by one, each program's configuration in turn.
void parse_config_with_section(std::string_view file_text, const char* path, int section,
                               Sources sources, ConfigFile* room, Config* config);

// parse_config() for a process whose configuration file has the text `file_text` (parsed
// for this program in sources.file): when the result is active, the values of every
// [program ...] section are checked too, those of other programs included, so that a
// mistake anywhere in the file is the same one error line in every program in scope, not a
// surprise for the one program it concerns. `section_room`, when given, is where each
// section's settings are kept meanwhile, rather than the stack (the library's first hooked
// call may run on a small one).
void parse_config_with_file(std::string_view file_text, const Sources& sources, Config* config,
                            ConfigFile* section_room = nullptr);

// Durations: a whole number with an optional unit ms, s, m or h (none means seconds).
// Returns false for anything else, including overflow. Exposed for the unit tests.
bool parse_duration_ms(std::string_view text, std::int64_t* milliseconds);

// The report `kashim --check` prints: status, then every setting and where it came from.
// `kernel` is read for the values the configuration leaves to the kernel (config_report.cpp).
using Report = FixedText<4096>;  // room for 32 peer patterns
void describe_config(const Config& config, const Sources& kernel, Report* report);

std::string_view log_level_name(LogLevel level);
std::string_view direction_name(Direction direction);
std::string_view mode_name(Mode mode);

}  // namespace kashim
