// Which program another process runs, and the configuration that program gets, for the
// routes that act on processes from outside them (the supervisor for each process of its
// command's tree, `kashim status/apply`): they scope (KASHIM_PROGRAMS) and choose the file's
// [program ...] section by the names the library inside that process takes
// (this_program(): the path exec was given, and argv[0]). Not part of libkashim.so.
#pragma once

#include <sys/types.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "config.hpp"

namespace kashim {

struct ProcessProgram {
  // The base name of the path exec was given (AT_EXECFN, read from the process's memory: a
  // link's own name, python3 rather than python3.11), else of the file it runs
  // (/proc/PID/exe, links resolved). Empty when neither can be read.
  std::string executable;
  std::string invoked;  // the base name of argv[0] (/proc/PID/cmdline)
  bool known() const { return !executable.empty(); }
};

// The program image a process runs: the 16 random bytes the kernel gives each exec
// (AT_RANDOM), which fork copies and the next exec replaces, and where the path exec was
// given lies (AT_EXECFN). Empty when they cannot be read.
struct ExecImage {
  std::array<unsigned char, 16> random{};
  unsigned long execfn = 0;
  bool known = false;
};

// `pid` may be a thread's id: a thread's image and names are its process's. Reading another
// process's memory takes the right to trace it (its parent's, root's).
ExecImage exec_image_of(pid_t pid);
ProcessProgram program_of_process(pid_t pid, const ExecImage& image);
ProcessProgram program_of_process(pid_t pid);

// Whether `wanted` holds for the configuration some program gets from this process's
// environment and the configuration file: the global part's, or one with a [program ...]
// section applied (the scope not decided). For a route that prepares before it knows which
// programs will run (the supervisor's seccomp filter).
bool some_program_configuration(bool (*wanted)(const Config&));

// Configurations parsed from this process's environment and the configuration file, one per
// pair of names, each parsed once (load_configuration_for).
class ProgramConfigurations {
 public:
  // 0: each configuration lives as long as this object. Else, once `keep_at_most` are
  // parsed, the next new pair forgets them all first (a long-running route meets ever new
  // names), and a reference lasts only until the next call.
  explicit ProgramConfigurations(std::size_t keep_at_most = 0) : keep_at_most_(keep_at_most) {}

  const Config& for_program(const std::string& executable, const std::string& invoked);

 private:
  std::size_t keep_at_most_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Config>> parsed_;
};

}  // namespace kashim
