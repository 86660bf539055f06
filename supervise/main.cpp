// kashim-supervise: the route for programs the preload cannot reach (statically linked, Go).
//
//   kashim-supervise [--strict] [--drop-kashim-env] [--setenv NAME=VALUE]... [--] COMMAND [ARGS...]
//   kashim-supervise --route PATH      which route PATH gets, and why (one line)
//   kashim-supervise --available [PATH]  whether the route can run here, for PATH if given
//                                        (one line; exit 0 or 1)
//
// The configuration is the KASHIM_* environment, parsed by the library's own parser.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "accept.hpp"
#include "command.hpp"
#include "config.hpp"
#include "elf_route.hpp"
#include "event_loop.hpp"
#include "filter.hpp"
#include "launch.hpp"
#include "log.hpp"
#include "proc_stat.hpp"
#include "process_sources.hpp"
#include "program_of_process.hpp"
#include "programs.hpp"
#include "tuner.hpp"

namespace kashim::supervise {
namespace {

constexpr int kUsageError = 2;
constexpr int kNotRun = 125;  // --strict and the route cannot run; as env(1) uses it

void usage(std::FILE* to) {
  std::fputs(
      "Usage: kashim-supervise [--strict] [--drop-kashim-env] [--setenv NAME=VALUE]...\n"
      "                        [--unsetenv NAME]... [--] COMMAND [ARGS...]\n"
      "       kashim-supervise --route PATH\n"
      "       kashim-supervise --available [PATH]\n"
      "Runs COMMAND under a seccomp filter whose notified calls (connect, listen, TCP Fast Open\n"
      "sends, keep-alive setsockopt) this program answers, tuning TCP keep-alive as the\n"
      "KASHIM_* variables say. Normally started by `kashim`.\n",
      to);
}

[[noreturn]] void fail_usage(const std::string& message) {
  std::fprintf(stderr, "kashim-supervise: %s\n", message.c_str());
  std::fputs("Try 'kashim-supervise --help' for more information.\n", stderr);
  std::exit(kUsageError);
}

struct Options {
  bool strict = false;
  bool drop_kashim_env = false;
  std::vector<std::string> setenv;    // the caller's values, where the wrapper's differ
  std::vector<std::string> unsetenv;  // what the wrapper's bash added
  std::vector<std::string> command;
};

std::vector<std::string> command_environment(const Options& options) {
  return kashim::command_environment(options.drop_kashim_env, options.setenv, options.unsetenv);
}

bool has_cap_sys_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return syscall(SYS_capget, &header, data) == 0 &&
         (data[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32))) != 0;
}

// Why the route cannot run COMMAND at all, or "".
std::string refusal(const std::string& program) {
  if (!filter_supported()) {
    utsname machine{};
    uname(&machine);
    return std::string("this build knows the system calls of x86-64 only, not of ") +
           machine.machine;
  }
  struct stat file;
  if (stat(program.c_str(), &file) != 0) return "";
  const bool set_id = (file.st_mode & (S_ISUID | S_ISGID)) != 0;
  const bool capabilities = getxattr(program.c_str(), "security.capability", nullptr, 0) > 0;
  if (!set_id && !capabilities) return "";
  const std::string what =
      program + (set_id ? " is set-user-ID or set-group-ID" : " has file capabilities");
  // Without CAP_SYS_ADMIN the kernel takes the filter only with no_new_privs (launch.cpp),
  // under which exec grants neither.
  if (!has_cap_sys_admin()) {
    return what + " (without CAP_SYS_ADMIN the filter needs no_new_privs, which would run it " +
           (set_id ? "without its privileges)" : "without them)");
  }
  // With it, no no_new_privs is set; but an exec that changes the process's IDs or raises
  // its capabilities clears the parent-death signal that ends COMMAND with its supervisor.
  const bool ids_change = ((file.st_mode & S_ISUID) != 0 && file.st_uid != geteuid()) ||
                          ((file.st_mode & S_ISGID) != 0 && file.st_gid != getegid());
  if (ids_change || (capabilities && geteuid() != 0)) {
    return what + (ids_change ? " to another user or group" : "") +
           " (its exec clears the parent-death signal that ends COMMAND with kashim-supervise; "
           "should the supervisor die, COMMAND would run on with its connect, listen and "
           "setsockopt failing with ENOSYS)";
  }
  return "";  // the exec changes nothing: it runs as it would without kashim
}

// The nearest ancestor that is kashim-supervise, or 0. Its filter stays on every process it
// serves, this one included, so COMMAND runs under it rather than untuned.
pid_t enclosing_supervisor() {
  pid_t pid = getppid();
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    const std::string proc = "/proc/" + std::to_string(pid);
    char exe[4096];
    const ssize_t length = readlink((proc + "/exe").c_str(), exe, sizeof exe - 1);
    if (length > 0) {
      const std::string_view path(exe, static_cast<std::size_t>(length));
      if (path.substr(path.rfind('/') + 1) == "kashim-supervise") return pid;
    }
    if (std::sscanf(stat_from_state(pid).c_str(), "%*c %d", &pid) != 1) return 0;
  }
  return 0;
}

void report_unusable(const std::string& reason, bool strict, bool another_listener = false) {
  std::string outcome = strict ? "COMMAND not run (--strict)" : "COMMAND runs untuned";
  if (const pid_t outer = another_listener ? enclosing_supervisor() : 0; outer > 0 && !strict) {
    outcome = "COMMAND runs under the enclosing kashim-supervise (pid " + std::to_string(outer) +
              ") with its settings";
  }
  std::fprintf(stderr, "kashim: the supervisor route cannot run: %s; %s\n", reason.c_str(),
               outcome.c_str());
}

[[noreturn]] void exec_untuned(const Options& options) {
  exec_with_environment(options.command, command_environment(options));
  const int error = errno;
  std::fprintf(stderr, "kashim: %s: %s\n", options.command[0].c_str(), std::strerror(error));
  std::exit(error == ENOENT ? 127 : 126);
}

int available(const char* program) {
  static Config config;  // large; inactive: nothing to tune in the probe
  Tuner tuner(config, identify_stderr());
  ProcessState state;
  take_over_signals(&state);
  LaunchRequest probe;
  probe.probe_only = true;
  probe.argv = {"true"};
  std::string reason = refusal(program != nullptr ? resolve_command(program) : "/");
  bool install_supported = false;
  if (reason.empty()) {
    const Launched launched = launch(probe, tuner, &state);
    reason = launched.unavailable;
    install_supported = launched.install_supported;
    if (const pid_t outer = launched.another_listener ? enclosing_supervisor() : 0; outer > 0) {
      reason += "; COMMAND would run under the enclosing kashim-supervise (pid " +
                std::to_string(outer) + ") with its settings";
    }
  }
  if (!reason.empty()) {
    std::printf("supervise: unavailable: %s\n", reason.c_str());
    return 1;
  }
  std::printf("supervise: available (seccomp user notification, pidfd_getfd)%s\n",
              install_supported
                  ? ""
                  : "; with KASHIM_PEERS, a connection the program accepts is decided only when "
                    "it sets keep-alive itself (handing it over needs SECCOMP_ADDFD_FLAG_SEND, "
                    "Linux 5.14)");
  return 0;
}

[[noreturn]] void run(const Options& options) {
  static Config config;  // ~6 KiB: not on the stack
  const std::vector<int> commands_descriptors = descriptors_from_caller();
  // The configuration (and its KASHIM_PROGRAMS scope, and the file's [program] section) of
  // COMMAND, by the names COMMAND will have: the executable exec finds, and argv[0].
  const std::string program = resolve_command(options.command[0]);
  load_configuration_for(ProgramNames{base_name(program), base_name(options.command[0])}, &config);
  const StderrIdentity stderr_at_start = identify_stderr();
  if (!config.error.empty() && config.log_level >= LogLevel::kError) {
    write_log_line(config, stderr_at_start, config.error.view());
  }
  // Disabled, invalid, or a program KASHIM_PROGRAMS leaves out: nothing to do. (What a COMMAND
  // left out starts may be in scope, and the library would tune it there; supervising the
  // whole tree for it would change what every program of it observes: no_new_privs, COMMAND
  // a child of the supervisor. Such a tree runs as without kashim: doc/config.md.)
  if (!config.active || config.out_of_scope) exec_untuned(options);
  // With a scope or [program ...] sections, another program of COMMAND's tree may get another
  // configuration than COMMAND's, as the library would give it inside that program: each
  // process is then decided by its own (Tuner::act_for).
  const bool per_process = varies_by_program(config);

  if (std::string reason = refusal(program); !reason.empty()) {
    report_unusable(reason, options.strict);
    if (options.strict) std::exit(kNotRun);
    exec_untuned(options);
  }
  Tuner tuner(config, stderr_at_start, per_process);
  ProcessState state;
  take_over_signals(&state);
  take_kept_across_exec(&state.kept);
  take_record_locks(commands_descriptors, &state.kept);
  LaunchRequest request;
  request.argv = options.command;
  request.environment = command_environment(options);
  request.strict = options.strict;
  request.notify_accepts = per_process ? some_program_configuration(accepts_need_notifying)
                                       : accepts_need_notifying(config);
  Launched launched = launch(request, tuner, &state);
  if (!launched.unavailable.empty()) {
    report_unusable(launched.unavailable, options.strict, launched.another_listener);
    if (options.strict) std::exit(kNotRun);
    if (launched.child < 0) {  // the child had its filter already: start again without one
      request.filter = false;
      launched = launch(request, tuner, &state);
    }
  }
  if (launched.child < 0) {
    std::fprintf(stderr, "kashim: could not start %s: %s\n", options.command[0].c_str(),
                 launched.unavailable.c_str());
    std::exit(kNotRun);
  }
  if (request.notify_accepts && !launched.install_supported && launched.listener &&
      config.log_level >= LogLevel::kInfo) {
    write_log_line(config, stderr_at_start,
                   "supervise: this kernel cannot hand over a connection while answering "
                   "(SECCOMP_ADDFD_FLAG_SEND, Linux 5.14): with KASHIM_PEERS, a connection the "
                   "program accepts is decided only when it sets keep-alive itself");
  }
  // The supervisor holds a copy of each listener a thread of COMMAND waits on (COMMAND was
  // started with the limit it had).
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  // COMMAND's descriptors are COMMAND's: a pipe it closes must end while it runs. stderr
  // stays, where the log lines go.
  for (int fd : commands_descriptors) close(fd);
  if (int null = open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  supervise_until_exit(launched.child, std::move(launched.listener), launched.install_supported,
                       tuner, &state);
}

}  // namespace
}  // namespace kashim::supervise

int main(int argc, char** argv) {
  using namespace kashim::supervise;
  Options options;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--route") {
      if (i + 2 != argc) fail_usage("--route takes exactly one PATH");
      std::printf("%s\n", describe_route(choose_route(argv[i + 1])).c_str());
      return 0;
    }
    if (argument == "--available") {
      if (i + 2 < argc) fail_usage("--available takes at most one PATH");
      return available(i + 1 < argc ? argv[i + 1] : nullptr);
    }
    if (argument == "--help") {
      usage(stdout);
      return 0;
    }
    if (argument == "--strict") {
      options.strict = true;
    } else if (argument == "--drop-kashim-env") {
      options.drop_kashim_env = true;
    } else if (argument == "--setenv") {
      if (i + 1 == argc || std::strchr(argv[i + 1], '=') == nullptr) {
        fail_usage("--setenv needs NAME=VALUE");
      }
      options.setenv.emplace_back(argv[++i]);
    } else if (argument == "--unsetenv") {
      if (i + 1 == argc) fail_usage("--unsetenv needs NAME");
      options.unsetenv.emplace_back(argv[++i]);
    } else if (argument == "--") {
      ++i;
      break;
    } else if (argument.starts_with("-")) {
      fail_usage("unknown option '" + std::string(argument) +
                 "' (accepted: --strict, --drop-kashim-env, --setenv, --unsetenv, --route, "
                 "--available)");
    } else {
      break;
    }
  }
  if (i == argc) fail_usage("no COMMAND given");
  options.command.assign(argv + i, argv + argc);
  run(options);
}
