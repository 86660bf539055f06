// kashim-inspect: `kashim status` and `kashim apply --pid`, for processes already running.
//
// The wrapper (scripts/kashim) turns its configuration options into KASHIM_* variables and
// execs this program with the rest of the arguments; the configuration is parsed here by the
// library's own parser, and every decision is the library's (core/decide.hpp).
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apply.hpp"
#include "config.hpp"
#include "inspection.hpp"
#include "proc_fds.hpp"
#include "process_sources.hpp"
#include "program_of_process.hpp"
#include "status_output.hpp"

namespace kashim::inspect {
namespace {

constexpr const char* kUsage =
    "Usage: kashim status [--all] [--json] [PID...]\n"
    "       kashim apply --pid PID [--pid PID...] [--dry-run] [OPTIONS]\n"
    "\n"
    "status  every TCP socket of each PID (of every process you may inspect with --all or\n"
    "        without PID): state, addresses, the keep-alive values the kernel holds, its\n"
    "        timer and probes, and what kashim's configuration would change (KASHIM column:\n"
    "        change, ok, skip, own, ?). --json for scripts.\n"
    "apply   applies kashim's configuration (the options below, or KASHIM_* variables) to\n"
    "        every TCP socket PID holds now, listeners included; --dry-run only reports.\n"
    "\n"
    "OPTIONS: --idle --intvl --cnt --user-timeout --mode --peers --direction (see kashim "
    "--help).\n"
    "Exit status: 0 all done, 1 some socket not read or not tuned, 2 usage or configuration\n"
    "error (or the output could not be written), 3 no such process, it exited, or it may not\n"
    "be inspected (permission).\n";

// Taken by the wrapper, which turns them into KASHIM_* variables: they never reach here.
const std::string kConfigurationOptions =
    "--idle, --intvl, --cnt, --user-timeout, --mode, --peers, --direction";

[[noreturn]] void usage_error(const char* command, const std::string& message) {
  std::fprintf(stderr, "kashim %s: %s\nTry 'kashim --help' for more information.\n", command,
               message.c_str());
  std::exit(kExitUsage);
}

pid_t parse_pid(const char* command, std::string_view text) {
  pid_t pid = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc() || end != text.data() + text.size() || pid <= 0) {
    std::string problem = "'";  // built in steps: GCC 12 warns (falsely) on "..." + string
    problem.append(text).append(
        error == std::errc::result_out_of_range
            ? "' is not a process ID: too large (accepted: a positive whole number up to "
              "pid_max, at most 4194304)"
            : "' is not a process ID (accepted: a positive whole number)");
    usage_error(command, problem);
  }
  return pid;
}

// The command's configuration: KASHIM_* variables and the file's global part, through the
// library's parser. Each process is then decided by its program's (decide_scope).
std::unique_ptr<Config> read_configuration(const char* command) {
  auto config = std::make_unique<Config>();
  parse_config(process_sources(), config.get());
  if (!config->error.empty()) usage_error(command, std::string(config->error.view()));
  return config;
}

// The configuration of the program `process` runs (KASHIM_PROGRAMS, [program] sections),
// given to it; an invalid one ends the command as the command's own would.
void decide_scope(const char* command, ProgramConfigurations& configurations,
                  ProcessView* process) {
  const Config& config = configurations.for_program(process->executable, process->invoked);
  if (!config.error.empty()) usage_error(command, std::string(config.error.view()));
  process->config = &config;
}

int status_exit(const ProcessView& process) {
  if (process.problem != ProcessProblem::kNone) return kExitNoProcess;
  if (!process.own_tables.empty()) return kExitIncomplete;
  for (const SocketView& socket : process.sockets) {
    if (socket.reused) return kExitIncomplete;
  }
  return kExitOk;
}

int run_status(int argc, char** argv) {
  bool all = false, json = false;
  std::vector<pid_t> pids;
  for (int i = 0; i < argc; ++i) {
    std::string_view argument = argv[i];
    if (argument == "--all") {
      all = true;
    } else if (argument == "--json") {
      json = true;
    } else if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (argument.starts_with("-")) {
      usage_error("status", "unknown option '" + std::string(argument) +
                                "' (accepted: --all, --json, PID..., and kashim's " +
                                kConfigurationOptions + ")");
    } else {
      pids.push_back(parse_pid("status", argument));
    }
  }
  if (all && !pids.empty()) usage_error("status", "--all takes no PID");
  all = pids.empty();
  const auto config = read_configuration("status");
  DiagCache cache;
  ProgramConfigurations configurations;
  std::vector<ProcessView> views;
  int status = kExitOk, left_out = 0;
  for (pid_t pid : all ? all_processes() : pids) {
    if (all && pid == getpid()) continue;
    ProcessView view = inspect_process(pid, cache);
    view.pidfd.reset();  // status keeps none open: --all may meet thousands of processes
    view.thread_pidfd.reset();
    if (all) {
      // Every process the caller may inspect that holds a TCP socket.
      if (view.problem == ProcessProblem::kNotPermitted) ++left_out;
      const bool shown =
          view.problem == ProcessProblem::kNone || view.problem == ProcessProblem::kNoDuplicates;
      if (!shown || (view.sockets.empty() && view.own_tables.empty())) continue;
      status = worse(status, status_exit(view) == kExitOk ? kExitOk : kExitIncomplete);
    } else {
      status = worse(status, status_exit(view));
      if (view.problem != ProcessProblem::kNone && view.problem != ProcessProblem::kNoDuplicates) {
        std::fprintf(stderr, "kashim status: %s\n", problem_text(view).c_str());
      }
    }
    if (!view.sockets.empty()) decide_scope("status", configurations, &view);
    views.push_back(std::move(view));
  }
  if (json) {
    print_json(views, *config, stdout);
  } else {
    print_table(views, *config, stdout);
    for (const std::string& line : footnotes(views, *config)) std::printf("%s\n", line.c_str());
  }
  if (left_out > 0) {
    const bool one = left_out == 1;
    std::fprintf(stderr,
                 "kashim status: %d process%s left out: %s descriptors cannot be listed (%s)\n",
                 left_out, one ? "" : "es", one ? "its" : "their",
                 geteuid() != 0 ? "run as root to see them"
                 : one ? "root may not either: it is in a user namespace this one does not own, "
                         "or a security policy protects it"
                       : "root may not either: they are in user namespaces this one does not own, "
                         "or a security policy protects them");
  }
  return status;
}

int run_apply(int argc, char** argv) {
  bool dry_run = false;
  std::vector<pid_t> pids;
  for (int i = 0; i < argc; ++i) {
    std::string_view argument = argv[i];
    if (argument == "--dry-run") {
      dry_run = true;
    } else if (argument == "--pid" && i + 1 < argc) {
      pids.push_back(parse_pid("apply", argv[++i]));
    } else if (argument.starts_with("--pid=")) {
      pids.push_back(parse_pid("apply", argument.substr(6)));
    } else if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else {
      usage_error("apply", argument == "--pid"
                               ? "option --pid needs a value"
                               : "unexpected argument '" + std::string(argument) +
                                     "' (accepted: --pid PID, --dry-run, and kashim's " +
                                     kConfigurationOptions + ")");
    }
  }
  if (pids.empty()) usage_error("apply", "no process given (--pid PID)");
  const auto config = read_configuration("apply");
  if (!config->active) {
    usage_error("apply",
                "kashim is disabled (KASHIM_DISABLE=1 or KEEPALIVE=off): nothing to apply");
  }
  DiagCache cache;
  ProgramConfigurations configurations;
  int status = kExitOk;
  for (pid_t pid : pids) {
    ProcessView view = inspect_process(pid, cache);
    decide_scope("apply", configurations, &view);
    status = worse(status, apply_to_process(view, *view.config, dry_run, stdout, stderr));
  }
  return status;
}

// The command's status, unless its output could not be written (a full disk, a closed pipe
// with SIGPIPE ignored): then one line and kExitUsage, as a script must not take a truncated
// report for a whole one.
int with_output_written(const char* command, int status) {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return status;
  std::fprintf(stderr, "kashim %s: cannot write the output: %s\n", command, std::strerror(errno));
  return kExitUsage;
}

}  // namespace
}  // namespace kashim::inspect

int main(int argc, char** argv) {
  using namespace kashim::inspect;
  std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "status") return with_output_written("status", run_status(argc - 2, argv + 2));
  if (command == "apply") return with_output_written("apply", run_apply(argc - 2, argv + 2));
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return with_output_written("--help", kExitOk);
  }
  std::fprintf(stderr, "kashim-inspect: unknown command '%s' (accepted: status, apply)\n",
               argv[1] == nullptr ? "" : argv[1]);
  return kExitUsage;
}
