// kashim-cgroup: keep-alive for every TCP connection of a cgroup, through eBPF.
// Started by the `kashim` wrapper as `kashim-cgroup cgroup SUBCOMMAND ...`, with the
// configuration options already turned into KASHIM_* variables.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "command.hpp"
#include "config.hpp"
#include "process_sources.hpp"
#include "refusal.hpp"

#if KASHIM_CGROUP_BPF
#include "commands.hpp"
#include "programs.hpp"
#endif

namespace {

constexpr const char kUsage[] =
    "Usage: kashim cgroup run [OPTIONS] -- COMMAND [ARGS...]\n"
    "       kashim cgroup attach CGROUP [OPTIONS]\n"
    "       kashim cgroup detach CGROUP|ID\n"
    "       kashim cgroup status [CGROUP|ID]\n"
    "\n"
    "Keep-alive for every TCP connection the processes of a cgroup v2 open or accept, set by\n"
    "eBPF programs (sock_ops and cgroup/setsockopt) when each connection is established.\n"
    "OPTIONS are kashim's: --idle --intvl --cnt --user-timeout --mode --peers --direction.\n"
    "\n"
    "  run      runs COMMAND in a new child cgroup of the caller's; detached and removed\n"
    "           when COMMAND exits; exit status COMMAND's\n"
    "  attach   attaches to an existing cgroup (a directory of the cgroup2 mount, or a path\n"
    "           relative to it such as system.slice/nginx.service; the mount itself is the\n"
    "           whole system) until detach; pinned\n"
    "           under /sys/fs/bpf/kashim; attaching again changes the settings in place\n"
    "  detach   removes the attachment and its pins\n"
    "  status   settings and counters of every persistent attachment, or of one\n"
    "\n"
    "Needs root (CAP_BPF, CAP_NET_ADMIN). Connections that exist already are not changed:\n"
    "kashim apply --pid PID tunes those.\n";

// A descriptor 0, 1 or 2 the caller left closed gets /dev/null, closed on exec: none of
// kashim-cgroup's own (the cgroup's, COMMAND's pidfd) may take its number, where the keeper
// replaces stdio with /dev/null and messages are written. COMMAND still gets it closed.
void hold_closed_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);  // the lowest free number: fd
    if (null >= 0 && null != fd) close(null);
  }
}

int usage_error(const std::string& line) {
  std::fprintf(stderr, "kashim cgroup: %s\n", line.c_str());
  return kashim::cgroup::kExitUsage;
}

#if KASHIM_CGROUP_BPF
// run [--drop-kashim-env] [--setenv NAME=VALUE]... [--unsetenv NAME]... [--] COMMAND
// [ARGS...]: the wrapper turns the configuration options into KASHIM_* variables and passes
// these itself.
kashim::cgroup::RunRequest run_request(const std::vector<std::string>& arguments) {
  using kashim::cgroup::Refusal;
  kashim::cgroup::RunRequest request;
  std::size_t i = 0;
  for (; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--") {
      ++i;
      break;
    } else if (argument == "--drop-kashim-env") {
      request.drop_kashim_env = true;
    } else if (argument == "--setenv" && i + 1 < arguments.size() &&
               arguments[i + 1].find('=') != std::string::npos) {
      request.setenv.push_back(arguments[++i]);
    } else if (argument == "--unsetenv" && i + 1 < arguments.size()) {
      request.unsetenv.push_back(arguments[++i]);
    } else if (argument.size() > 1 && argument[0] == '-') {
      throw Refusal("unknown option '" + argument +
                        "' for run (accepted: --idle, --intvl, --cnt, --user-timeout, --mode, "
                        "--peers, --direction, then -- COMMAND)",
                    kashim::cgroup::kExitUsage);
    } else {
      break;
    }
  }
  request.command.assign(arguments.begin() + static_cast<std::ptrdiff_t>(i), arguments.end());
  if (request.command.empty()) throw Refusal("run needs a COMMAND", kashim::cgroup::kExitUsage);
  return request;
}

int dispatch(const std::string& subcommand, const std::vector<std::string>& arguments) {
  using namespace kashim;
  Config config;
  parse_config(process_sources(), &config);
  if (!config.error.view().empty()) return usage_error(std::string(config.error.view()));
  cgroup::show_libbpf_messages(config.log_level >= LogLevel::kDebug);
  auto operand = [&](bool optional) -> std::string {
    if (arguments.size() > 1) throw cgroup::Refusal("too many arguments", cgroup::kExitUsage);
    if (arguments.empty() && !optional) {
      throw cgroup::Refusal(subcommand + " needs a CGROUP", cgroup::kExitUsage);
    }
    return arguments.empty() ? "" : arguments[0];
  };
  if (subcommand == "run") {
    cgroup::RunRequest request = run_request(arguments);
    cgroup::take_callers_variables(request);
    // COMMAND's configuration: its KASHIM_PROGRAMS scope and its [program] section, by the
    // names it will have (the executable exec finds, and argv[0]), as the library decides.
    const std::string program = resolve_command(request.command[0]);
    load_configuration_for(ProgramNames{base_name(program), base_name(request.command[0])},
                           &config);
    if (!config.error.view().empty()) return usage_error(std::string(config.error.view()));
    return cgroup::run(config, request);
  }
  if (subcommand == "attach") {
    // A cgroup holds many programs and the kernel's programs cannot tell them apart: a scope
    // is not kept silently, nor taken for one that applies (doc/config.md).
    if (config.programs[0] != '\0') {
      std::fprintf(stderr,
                   "kashim cgroup: the program scope \"%s\" does not apply to attach: every "
                   "process in the cgroup gets these settings\n",
                   config.programs);
    }
    return cgroup::attach(config, operand(false));
  }
  if (subcommand == "detach") return cgroup::detach(operand(false));
  if (subcommand == "status") return cgroup::status(operand(true));
  return usage_error("unknown subcommand '" + subcommand +
                     "' (accepted: run, attach, detach, status)");
}
#endif

}  // namespace

int main(int argc, char** argv) {
  hold_closed_standard_descriptors();
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (!arguments.empty() && arguments[0] == "cgroup") arguments.erase(arguments.begin());
  if (arguments.empty())
    return usage_error("no subcommand (accepted: run, attach, detach, status)");
  if (arguments[0] == "--help" || arguments[0] == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
#if KASHIM_CGROUP_BPF
  const std::string subcommand = arguments[0];
  arguments.erase(arguments.begin());
  if (subcommand != "run") {
    for (const std::string& argument : arguments) {
      if (argument.size() > 1 && argument[0] == '-') {
        return usage_error("unknown option '" + argument + "' for " + subcommand);
      }
    }
  }
  try {
    return dispatch(subcommand, arguments);
  } catch (const kashim::cgroup::Refusal& refusal) {
    std::fprintf(stderr, "kashim cgroup: %s\n", refusal.what());
    return refusal.exit_code();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "kashim cgroup: %s\n", error.what());
    return kashim::cgroup::kExitRefused;
  }
#else
  std::fputs(
      "kashim cgroup: built without BPF support (install clang, libbpf-dev, bpftool and "
      "rebuild)\n",
      stderr);
  return kashim::cgroup::kExitRefused;
#endif
}
