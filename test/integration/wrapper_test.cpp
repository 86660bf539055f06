// scripts/kashim, the wrapper, run as a user would run it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// The wrapper from the source tree, pointed at this build's library (the build directory
// need not be the build/ beside scripts/ that it would find by itself).
ProcessRun wrapper(std::vector<std::string> args, Environment environment = {}) {
  args.insert(args.begin(), KASHIM_WRAPPER_PATH);
  environment.emplace_back("KASHIM_LIBRARY", KASHIM_LIBRARY_PATH);
  return run_command(args, environment);
}

TEST(Wrapper, CheckPrintsTheLibrarysReportAndSucceedsWhenValid) {
  ProcessRun run = wrapper({"--check", "--idle", "30", "--intvl=5", "--cnt", "3"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("kashim " KASHIM_VERSION ": configuration valid, shim active\n"))
      << run.out;
  EXPECT_NE(run.out.find("TCP_KEEPIDLE      30s  from KASHIM_IDLE"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("TCP_KEEPINTVL     5s  from KASHIM_INTVL"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("TCP_KEEPCNT       3  from KASHIM_CNT"), std::string::npos) << run.out;
}

TEST(Wrapper, CheckFailsWithTheLibrarysErrorWhenInvalid) {
  ProcessRun run = wrapper({"--check", "--cnt", "500"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("error: KASHIM_CNT=500 is out of range 1..127"), std::string::npos)
      << run.out;
}

TEST(Wrapper, CheckReadsTheEnvironmentToo) {
  ProcessRun run = wrapper({"--check"}, {{"KASHIM_USER_TIMEOUT", "1.5s"}});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("KASHIM_USER_TIMEOUT=1.5s is not a duration"), std::string::npos);
}

TEST(Wrapper, RunsTheCommandWithTheSettings) {
  ProcessRun run = wrapper({"--idle", "33", "--intvl", "3", "--cnt", "2", "--user-timeout", "auto",
                            "--", KASHIM_PROBE_PATH, "/dev/stderr", "socket", "v4", "stream"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "");
  for (const char* expected :
       {"keepalive=1\n", "idle=33\n", "intvl=3\n", "cnt=2\n", "user_timeout=39000\n"}) {
    EXPECT_NE(run.err.find(expected), std::string::npos) << expected << " in\n" << run.err;
  }
}

// COMMAND's environment is its caller's, plus what the preload route needs (LD_PRELOAD,
// LD_AUDIT, the options' KASHIM_* variables), or exactly its caller's under the supervisor:
// not the one the wrapper's bash leaves, which adds PWD and SHLVL where the caller (a
// systemd service) had none and lowers SHLVL at exec. Nor does the wrapper act on the names
// bash reads for itself: a BASH_ENV file (here one that fails), SHELLOPTS=xtrace (a trace
// on stderr), BASHOPTS=failglob, an exported function named exec; nor fail on those it
// holds read-only (SHELLOPTS, PPID) or dynamic (RANDOM).
TEST(Wrapper, TheCommandGetsItsCallersEnvironment) {
  KASHIM_SKIP_WHEN_SANITIZED("env -i drops the sanitizer runtime a sanitized library needs first");
  const std::string bash_env = ::testing::TempDir() + "kashim-wrapper-bash-env";
  std::ofstream(bash_env) << "echo BASH_ENV ran >&2; exit 3\n";
  const std::vector<std::vector<std::string>> callers = {
      {"PATH=/usr/bin:/bin", "X=1"},
      {"PATH=/usr/bin:/bin", "X=1", "SHLVL=3", "PWD=/somewhere/else"},
      {"PATH=/usr/bin:/bin", "BASH_ENV=" + bash_env, "SHELLOPTS=xtrace", "BASHOPTS=failglob",
       "BASH_FUNC_exec%%=() { echo hijacked; }", "PPID=1", "RANDOM=4", "SHLVL=x",
       "POSIXLY_CORRECT=1"}};
  for (const char* route : {"--preload", "--supervise"}) {
    for (const std::vector<std::string>& caller : callers) {
      std::vector<std::string> command = {"env", "-i"};
      command.insert(command.end(), caller.begin(), caller.end());
      command.push_back(std::string("KASHIM_LIBRARY=") + KASHIM_LIBRARY_PATH);
      for (const char* argument :
           {KASHIM_WRAPPER_PATH, route, "--idle", "30", "--", "/usr/bin/env"}) {
        command.push_back(argument);
      }
      ProcessRun run = run_command(command, {});
      ASSERT_EQ(run.exit_code, 0) << run.err;
      EXPECT_EQ(run.err, "") << route << ", " << caller.back();
      std::set<std::string> seen, expected(caller.begin(), caller.end());
      expected.insert(std::string("KASHIM_LIBRARY=") + KASHIM_LIBRARY_PATH);
      if (std::string(route) == "--preload") expected.insert("KASHIM_IDLE=30");
      std::istringstream lines(run.out);
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("LD_PRELOAD=") && !line.starts_with("LD_AUDIT=")) seen.insert(line);
      }
      EXPECT_EQ(seen, expected) << route << "\n" << run.out;
    }
  }
  std::remove(bash_env.c_str());
}

// In a PID namespace that still sees its parent's /proc (unshare --pid without --mount-proc)
// the wrapper is PID 1 to itself, and /proc/1 is another process (the host's init): its
// environment is not the caller's, nor its fd 2 the wrapper's. /proc/self is always its own.
TEST(Wrapper, InAPidNamespaceWithoutItsOwnProcTheCallersEnvironmentAndStderrAreRead) {
  KASHIM_SKIP_WHEN_SANITIZED("env -i drops the sanitizer runtime a sanitized library needs first");
  KASHIM_REQUIRE(geteuid() == 0, "root (for unshare --pid)");
  for (const char* route : {"--preload", "--supervise"}) {
    ProcessRun run = run_command(
        {"env", "-i", "PATH=/usr/bin:/bin", "X=1", "KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH, "unshare",
         "--pid", "--fork", KASHIM_WRAPPER_PATH, route, "--", "/usr/bin/env"},
        {});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.err, "") << route;
    std::set<std::string> seen,
        expected = {"PATH=/usr/bin:/bin", "X=1", "KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH};
    for (const std::string& line : lines_of(run.out)) {
      if (!line.starts_with("LD_PRELOAD=") && !line.starts_with("LD_AUDIT=")) seen.insert(line);
    }
    EXPECT_EQ(seen, expected) << route << "\n" << run.out;
    ProcessRun closed = run_command({"unshare", "--pid", "--fork", "/bin/sh", "-c",
                                     R"(exec "$@" 2>&-)", "sh", KASHIM_WRAPPER_PATH, route, "--",
                                     "/bin/sh", "-c", "readlink /proc/self/fd/2; echo status $?"},
                                    {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
    EXPECT_EQ(closed.out, "status 1\n") << route;
  }
}

TEST(Wrapper, PeersAndDirectionAsTheLibraryParsedThem) {
  ProcessRun run =
      wrapper({"--check", "--peers", "10.1.2.3/8:5432, [::ffff:192.0.2.7]", "--direction=OUT"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("\n  direction         out: connections opened"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("\n  peers             10.0.0.0/8:5432, 192.0.2.7  from KASHIM_PEERS\n"),
            std::string::npos)
      << run.out;
  run = wrapper({"--check", "--peers", "db.internal:5432"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("error: KASHIM_PEERS pattern \"db.internal:5432\" is not an IPv4 "
                         "address (accepted: "),
            std::string::npos)
      << run.out;
  run = wrapper({"--check", "--direction", "sideways"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("error: KASHIM_DIRECTION=sideways is not a direction"), std::string::npos);
}

TEST(Wrapper, PeersReachTheProgram) {
  // The wrapper puts libkashim.so first in LD_PRELOAD; ASan must be first, and its sendto
  // interceptor recurses when it is not.
  KASHIM_SKIP_WHEN_SANITIZED("the wrapper puts libkashim.so before the sanitizer runtime");
  ProcessRun run = wrapper({"--idle", "42", "--intvl", "5", "--cnt", "3", "--peers", "127.0.0.2",
                            "--", KASHIM_PROBE_PATH, "/dev/stderr", "peers", "v4", "0"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("out.127.0.0.2.p=1/42/5/3\n"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("out.127.0.0.1.p=0/1000/1/9\n"), std::string::npos) << run.err;
}

TEST(Wrapper, KeepsWhatWasAlreadyInLdPreload) {
  // The early library stays loaded (its constructor sets KASHIM_EARLY_FD) and its socket,
  // made through our hook, is tuned.
  ProcessRun run = wrapper({"--idle", "44", KASHIM_PROBE_PATH, "/dev/stderr", "early"},
                           {{"LD_PRELOAD", KASHIM_EARLY_PATH}});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("idle=44\n"), std::string::npos) << run.err;
}

TEST(Wrapper, ReachesLibrariesLoadedWithDeepBind) {
  KASHIM_SKIP_WHEN_SANITIZED("the sanitizer runtime refuses RTLD_DEEPBIND (google/sanitizers#611)");
  // Through libkashim-audit.so, which the wrapper adds to LD_AUDIT.
  ProcessRun run = wrapper(
      {"--idle", "45", KASHIM_PROBE_PATH, "/dev/stderr", "deepbind", KASHIM_DEEPBOUND_PATH});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("keepalive=1\n"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("idle=45\n"), std::string::npos) << run.err;
}

TEST(Wrapper, CommandExitStatusPassesThrough) {
  EXPECT_EQ(wrapper({"--idle", "5", "--", "sh", "-c", "exit 7"}).exit_code, 7);
}

// The options --help lists, in its order.
std::vector<std::string> options_in_help() {
  std::vector<std::string> options;
  const std::string help = wrapper({"--help"}).out;
  std::regex option(R"(\n  (--[a-z-]+))");
  for (std::sregex_iterator it(help.begin(), help.end(), option), end; it != end; ++it) {
    options.push_back((*it)[1]);
  }
  return options;
}

TEST(Wrapper, AnUnknownOptionIsNamedWithTheAcceptedOnes) {
  std::string accepted;
  for (const std::string& option : options_in_help())
    accepted += (accepted.empty() ? "" : ", ") + option;
  ASSERT_GE(accepted.size(), 100u) << accepted;
  ProcessRun typo = wrapper({"--idel", "60", "--", "true"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.out, "");
  EXPECT_EQ(typo.err, "kashim: unknown option '--idel', did you mean '--idle'? (accepted: " +
                          accepted + ")\nTry 'kashim --help' for more information.\n");
  // Nothing near enough: no guess.
  ProcessRun unknown = wrapper({"--frobnicate", "--", "true"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(lines_of(unknown.err).at(0),
            "kashim: unknown option '--frobnicate' (accepted: " + accepted + ")");
}

TEST(Wrapper, SuperviseAndPreloadTogetherAreRefused) {
  ProcessRun run = wrapper({"--supervise", "--preload", "--", "sh", "-c", "echo ran"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(lines_of(run.err).at(0),
            "kashim: --supervise and --preload cannot go together (choose one route)");
  EXPECT_EQ(wrapper({"--preload", "--supervise", "--", "true"}).exit_code, 2);
  EXPECT_EQ(wrapper({"--preload", "--preload", "--", "true"}).exit_code, 0);
}

// The library reads its configuration at the first socket call: a command that makes none
// would run with nothing said. The wrapper asks the library first and stops with its line.
TEST(Wrapper, AnInvalidConfigurationStopsTheRunBeforeTheCommand) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--idle", "0"}, "kashim: --idle 0: KASHIM_IDLE=0 is out of range 1s..32767s"},
      {{"--idle=1.5"},
       "kashim: --idle=1.5: KASHIM_IDLE=1.5 is not a duration (accepted: 1s..32767s, a whole "
       "number with an optional unit ms, s, m or h; no unit means seconds)"},
      {{"--mode", "forcee"},
       "kashim: --mode forcee: KASHIM_MODE=forcee is not a mode (accepted: force, fallback)"},
      {{"--cnt", "5", "--cnt", "500"}, "kashim: --cnt 500: KASHIM_CNT=500 is out of range 1..127"},
      // The log settings are read first; an error there was not reported by the library's
      // check, and COMMAND ran untuned.
      {{"--log", "loud"},
       "kashim: --log loud: KASHIM_LOG=loud is not a log level (accepted: off, error, info, "
       "debug)"},
  };
  for (const auto& [options, line] : cases) {
    std::vector<std::string> argv = options;
    argv.insert(argv.end(), {"--", "sh", "-c", "echo ran"});
    ProcessRun run = wrapper(argv);
    EXPECT_EQ(run.exit_code, 2) << line;
    EXPECT_EQ(run.out, "") << "COMMAND must not run";
    EXPECT_EQ(run.err, line + "\n");
  }
  // Inherited: named as it was set.
  ProcessRun inherited = wrapper({"--", "sh", "-c", "echo ran"}, {{"KASHIM_IDLE", "-5"}});
  EXPECT_EQ(inherited.exit_code, 2);
  EXPECT_EQ(inherited.out, "");
  EXPECT_EQ(lines_of(inherited.err).at(0).rfind("kashim: KASHIM_IDLE=-5 is not a duration", 0), 0u)
      << inherited.err;
  // From the configuration file: named by its line; an option that overrides it runs.
  const std::string file = scratch_path("bad.conf");
  { std::ofstream(file) << "idle = 0\n"; }
  ProcessRun from_file = wrapper({"--", "sh", "-c", "echo ran"}, {{"KASHIM_CONFIG", file}});
  EXPECT_EQ(from_file.exit_code, 2);
  EXPECT_EQ(from_file.out, "");
  EXPECT_EQ(from_file.err, "kashim: " + file + ":1: idle = 0 is out of range 1s..32767s\n");
  EXPECT_EQ(wrapper({"--idle", "30", "--", "sh", "-c", "echo ran"}, {{"KASHIM_CONFIG", file}}).out,
            "ran\n");
  std::remove(file.c_str());
}

// A caller's closed stderr is closed for COMMAND too, on every route: bash opened the
// wrapper's script on descriptor 2 and left it there, so that COMMAND's files got other
// numbers. readlink(1) of its own fd 2 fails as it does without kashim.
TEST(Wrapper, AClosedStderrStaysClosed) {
  const std::string run_with_stderr_closed = R"(exec "$@" 2>&-)";
  for (const std::vector<std::string>& route : {std::vector<std::string>{},
                                                {KASHIM_WRAPPER_PATH, "--"},
                                                {KASHIM_WRAPPER_PATH, "--supervise", "--"}}) {
    std::vector<std::string> argv = {"/bin/sh", "-c", run_with_stderr_closed, "sh"};
    argv.insert(argv.end(), route.begin(), route.end());
    argv.insert(argv.end(), {"/bin/sh", "-c", "readlink /proc/self/fd/2; echo status $?"});
    ProcessRun run = run_command(argv, {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
    EXPECT_EQ(run.out, "status 1\n") << (route.empty() ? "without kashim" : route.at(1));
    EXPECT_EQ(run.exit_code, 0);
  }
}

// The wrapper runs the few programs it needs itself (readlink, true) from the system's
// directories: a caller's PATH that holds none of them must not stop COMMAND, which is
// looked for in that PATH alone.
TEST(Wrapper, RunsWhereThePathHoldsNoneOfItsOwnPrograms) {
  KASHIM_SKIP_WHEN_SANITIZED("env -i drops the sanitizer runtime a sanitized library needs first");
  for (const char* path : {"PATH=/nonexistent", "PATH="}) {
    ProcessRun run = run_command({"env", "-i", path, "KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH,
                                  KASHIM_WRAPPER_PATH, "--idle", "30", "--", "/bin/echo", "ran"},
                                 {});
    EXPECT_EQ(run.exit_code, 0) << path << ": " << run.err;
    EXPECT_EQ(run.out, "ran\n") << path;
    EXPECT_EQ(run.err, "") << path;
    ProcessRun by_name = run_command({"env", "-i", path, "KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH,
                                      KASHIM_WRAPPER_PATH, "--", "echo", "ran"},
                                     {});
    EXPECT_EQ(by_name.exit_code, 127) << path;
    EXPECT_EQ(by_name.err, "kashim: echo: command not found\n") << path;
  }
}

// Odd entries a C caller can hand execve: a BASH_SOURCE (bash's own name) and an entry with
// no name ("=x") made the wrapper fail before COMMAND ran.
TEST(Wrapper, OddEnvironmentEntriesDoNotStopTheCommand) {
  KASHIM_SKIP_WHEN_SANITIZED("env -i drops the sanitizer runtime a sanitized library needs first");
  ProcessRun named = run_command(
      {"env", "-i", "PATH=/usr/bin:/bin", "BASH_SOURCE=elsewhere",
       "KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH, KASHIM_WRAPPER_PATH, "--", "/bin/echo", "ran"},
      {});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.out, "ran\n");
  // env(1) and python3 cannot make a nameless entry; perl (Debian's perl-base) can.
  ProcessRun nameless = run_command(
      {"perl", "-e",
       R"(%ENV = ("PATH", "/usr/bin:/bin", "KASHIM_LIBRARY", shift, "", "x"); exec @ARGV)",
       KASHIM_LIBRARY_PATH, KASHIM_WRAPPER_PATH, "--", "/bin/echo", "ran"},
      {});
  EXPECT_EQ(nameless.exit_code, 0) << nameless.err;
  EXPECT_EQ(nameless.out, "ran\n") << nameless.err;
}

TEST(Wrapper, UsageErrors) {
  EXPECT_EQ(wrapper({"--idle"}).exit_code, 2);
  EXPECT_EQ(wrapper({"--idle", "5"}).exit_code, 2) << "no command";
  ProcessRun missing = wrapper({"--", "no-such-command-kashim"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err, "kashim: no-such-command-kashim: command not found\n");
}

TEST(Wrapper, HelpAndVersion) {
  ProcessRun help = wrapper({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(help.out.starts_with("Usage: kashim [OPTIONS] [--] COMMAND [ARGS...]\n"));
  for (const char* option : {"--idle", "--intvl", "--cnt", "--user-timeout", "--mode", "--log",
                             "--log-file", "--check", "--version"}) {
    EXPECT_NE(help.out.find(option), std::string::npos) << option;
  }
  ProcessRun version = wrapper({"--version"}, {{"KASHIM_DISABLE", "1"}});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, "kashim " KASHIM_VERSION "\n");
}

TEST(Wrapper, RelativeLogFileBecomesAbsolute) {
  ProcessRun run = wrapper({"--check", "--log-file", "k.log"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("to /"), std::string::npos) << run.out;
}

TEST(Wrapper, FindsTheLibraryAfterCmakeInstall) {
  std::string prefix = "/tmp/kashim-install-" + std::to_string(getpid());
  ProcessRun install =
      run_command({"cmake", "--install", KASHIM_BUILD_DIR, "--prefix", prefix}, {});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  // No KASHIM_LIBRARY: the installed wrapper must find the installed library by itself.
  ProcessRun run = run_command({prefix + "/bin/kashim", "--idle", "34", "--", KASHIM_PROBE_PATH,
                                "/dev/stderr", "socket", "v6", "stream"},
                               {});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("idle=34\n"), std::string::npos) << run.err;
  ProcessRun check = run_command({prefix + "/bin/kashim", "--check"}, {});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  run_command({"rm", "-rf", prefix}, {});
}

// The README, the man page, the wrapper's --help and the bash completion tell the same
// facts in four places; these tests keep them in step with the code that defines them.
std::string source_file(const std::string& path) {
  std::ifstream in(std::string(KASHIM_SOURCE_DIR) + "/" + path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> matches_of(const std::string& text, const std::string& pattern) {
  std::set<std::string> found;
  std::regex expression(pattern);
  for (std::sregex_iterator it(text.begin(), text.end(), expression), end; it != end; ++it) {
    found.insert((*it)[1]);
  }
  return found;
}

TEST(Documentation, EveryVariableTheLibraryReadsIsDocumented) {
  std::set<std::string> variables =
      matches_of(source_file("core/config.cpp") + source_file("core/config_options.cpp") +
                     source_file("core/process_sources.cpp"),
                 R"re("(KASHIM_[A-Z_]+)")re");
  ASSERT_GE(variables.size(), 11u);
  std::string readme = source_file("README.md"), man = source_file("doc/kashim.1");
  for (const std::string& variable : variables) {
    EXPECT_NE(readme.find("`" + variable + "`"), std::string::npos) << variable << " in README.md";
    EXPECT_NE(man.find(".B " + variable + "\n"), std::string::npos) << variable << " in kashim.1";
  }
}

TEST(Documentation, EveryWrapperOptionIsInTheManPageAndTheCompletion) {
  std::set<std::string> options = matches_of(wrapper({"--help"}).out, R"(\n  (--[a-z-]+))");
  ASSERT_GE(options.size(), 12u);
  std::string man = source_file("doc/kashim.1"),
              completion = source_file("doc/kashim.bash-completion");
  for (const std::string& option : options) {
    std::string escaped = std::regex_replace(option, std::regex("-"), "\\-");
    EXPECT_NE(
        man.find(".B" +
                 std::string(option == "--check" || option == "--help" || option == "--version"
                                 ? " "
                                 : "I ") +
                 escaped),
        std::string::npos)
        << option << " in kashim.1";
    EXPECT_NE(completion.find(option), std::string::npos) << option << " in the completion";
  }
}

}  // namespace
}  // namespace kashim::testing
