// `kashim cgroup run` as a command runner: the exit status and signals are the command's,
// the cgroup is gone afterwards, refusals are one line, and the wrapper reaches it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "cgroup_fixture.hpp"
#include "run_helpers.hpp"

namespace kashim::testing {
namespace {

// `kashim cgroup run -- command` with its stderr on a file (the keeper writes its line only
// to a terminal or a file), and the keeper's first line there once it has written it.
struct RunWithErrorsOnAFile {
  ProcessRun run;
  std::string keeper_line;
};
RunWithErrorsOnAFile run_with_errors_on_a_file(const std::vector<std::string>& command) {
  const std::string errors = scratch_path("run-errors");
  std::vector<std::string> argv = {"sh", "-c", "exec \"$@\" 2>" + errors, "sh"};
  for (const std::string& word : cgroup_run(command)) argv.push_back(word);
  RunWithErrorsOnAFile result{run_command(argv, kTuned), ""};
  for (int i = 0; i < 2000 && result.keeper_line.find('\n') == std::string::npos; ++i) {
    usleep(10000);  // the line is the signal that the keeper is done; 20 s at most
    result.keeper_line = read_file(errors);
  }
  std::filesystem::remove(errors);
  return result;
}

// COMMAND (sh) printed the pid of the one process it left running: that process is out of
// the run's cgroup (and killed here), and the keeper's line says it moved one.
void expect_the_one_left_running_moved_out(const ProcessRun& run, const std::string& line) {
  const std::string pid = lines_of(run.out).at(0);
  const std::string membership = read_file("/proc/" + pid + "/cgroup");
  kill(std::stoi(pid), SIGKILL);
  EXPECT_EQ(membership.find("kashim-run."), std::string::npos) << membership;
  EXPECT_NE(line.find("1 process left running by sh moved to"), std::string::npos) << line;
}

// The keep-alive values static_client reports for its connection to a listener of the
// test's, run as `argv` followed by the listener's address and port.
std::map<std::string, int> client_values(std::vector<std::string> argv,
                                         const Environment& environment) {
  Listener listener("127.0.0.1");
  argv.insert(argv.end(), {"127.0.0.1", listener.port_text()});
  Child child(argv, environment);
  const int accepted = listener.accept_one();
  EXPECT_GE(accepted, 0);
  auto values = values_in(child.err_line());
  close(accepted);
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  return values;
}

TEST_F(CgroupRun, ExitStatusIsTheCommands) {
  EXPECT_EQ(run_command(cgroup_run({"sh", "-c", "exit 7"}), kTuned).exit_code, 7);
  EXPECT_EQ(run_command(cgroup_run({"true"}), kTuned).exit_code, 0);
  // Killed by a signal: kashim-cgroup dies of the same signal, as the shell then reports.
  EXPECT_EQ(run_command(cgroup_run({"sh", "-c", "kill -TERM $$"}), kTuned).exit_code,
            128 + SIGTERM);
}

TEST_F(CgroupRun, CommandsThatCannotRunAreReportedAsEnvDoes) {
  const ProcessRun missing = run_command(cgroup_run({"kashim-no-such-command"}), kTuned);
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err, "kashim cgroup: kashim-no-such-command: command not found\n");
  const ProcessRun directory = run_command(cgroup_run({"/tmp"}), kTuned);
  EXPECT_EQ(directory.exit_code, 126);
  EXPECT_EQ(directory.err, "kashim cgroup: /tmp: Permission denied\n");
}

TEST_F(CgroupRun, SignalsSentToKashimReachTheCommand) {
  Child child(cgroup_run({"python3", "-c",
                          "import signal, sys\n"
                          "signal.signal(signal.SIGUSR1, lambda *_: sys.exit(3))\n"
                          "print('ready', flush=True)\n"
                          "signal.pause()\n"}),
              kTuned);
  ASSERT_EQ(child.out_line(), "ready");
  kill(child.pid(), SIGUSR1);
  EXPECT_EQ(child.wait(), 3) << child.rest_of_err();
}

TEST_F(CgroupRun, TheCgroupIsRemovedWhenTheCommandExits) {
  Child run(cgroup_run({"sh", "-c", "read line || true"}), kTuned);
  std::string cgroup;
  for (int i = 0; i < 2000 && cgroup.find("/kashim-run.") == std::string::npos; ++i) {
    usleep(10000);  // until COMMAND has moved itself in (20 s at most)
    cgroup = cgroup_of(std::to_string(run.pid()));
  }
  ASSERT_NE(cgroup.find("/kashim-run." + std::to_string(run.pid())), std::string::npos) << cgroup;
  const int keeper = static_cast<int>(syscall(SYS_pidfd_open, keeper_of(run.pid()), 0));
  ASSERT_GE(keeper, 0);
  run.close_in();  // COMMAND exits
  EXPECT_EQ(run.wait(), 0) << run.rest_of_err();
  pollfd ended{keeper, POLLIN, 0};
  ASSERT_EQ(poll(&ended, 1, 20000), 1) << "the keeper never ended";
  close(keeper);
  EXPECT_FALSE(exists(cgroup)) << cgroup;
}

TEST_F(CgroupRun, ProcessesLeftRunningAreMovedOutAndTheCgroupRemoved) {
  const auto [run, line] =
      run_with_errors_on_a_file({"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  expect_the_one_left_running_moved_out(run, line);
}

TEST_F(CgroupRun, TheProcessTheCallerStartedIsTheCommand) {
  Child run(cgroup_run({"sh", "-c", "echo $$ $PPID $(ps -o pgid= $$); exec sleep 30"}), kTuned);
  std::istringstream ids(run.out_line());
  pid_t pid = 0, parent = 0, group = 0;
  ids >> pid >> parent >> group;
  EXPECT_EQ(pid, run.pid()) << run.rest_of_err();
  EXPECT_EQ(parent, getpid());
  EXPECT_EQ(group, getpgid(run.pid()));
  const std::string cgroup = cgroup_of(std::to_string(run.pid()));
  ASSERT_NE(cgroup.find("/kashim-run." + std::to_string(run.pid())), std::string::npos);
  const pid_t keeper = keeper_of(run.pid());
  ASSERT_GT(keeper, 0);
  EXPECT_NE(getsid(keeper), getsid(run.pid())) << "a terminal's signals are not the keeper's";
  const int keeper_ends = static_cast<int>(syscall(SYS_pidfd_open, keeper, 0));
  kill(run.pid(), SIGKILL);
  EXPECT_EQ(run.wait(), 128 + SIGKILL);
  pollfd ended{keeper_ends, POLLIN, 0};
  ASSERT_EQ(poll(&ended, 1, 20000), 1) << "the keeper never ended";
  close(keeper_ends);
  EXPECT_FALSE(exists(cgroup));
}

// The keeper holds none of COMMAND's descriptors: one COMMAND closes, stdout and stderr too,
// ends for its reader while COMMAND still runs (test/helpers/closed_descriptors.py).
TEST_F(CgroupRun, TheKeeperHoldsNoneOfTheCommandsDescriptors) {
  std::vector<std::string> argv = {
      "python3", std::string(KASHIM_SOURCE_DIR) + "/test/helpers/closed_descriptors.py", "9,1,2"};
  const std::string ended = "fd 9: ended\nfd 1: ended\nfd 2: ended\n";
  EXPECT_EQ(run_command(argv, kTuned).out, ended);
  for (const std::string& word : cgroup_run({})) argv.push_back(word);
  EXPECT_EQ(run_command(argv, kTuned).out, ended);
}

// As PID 1 of a PID namespace (a container's entry point) an orphaned keeper would be
// COMMAND's child and die with the namespace: kashim-cgroup stays COMMAND's parent, reaps
// the orphans, and still removes the cgroup, so that the next run can make it again.
TEST_F(CgroupRun, AsPidOneOfANamespaceItStaysTheCommandsParentAndCleansUp) {
  KASHIM_REQUIRE(exists("/usr/bin/unshare"), "unshare (util-linux)");
  const TestCgroup cgroup;
  std::vector<std::string> argv = {"unshare", "--pid", "--fork", "--mount-proc"};
  for (const std::string& word :
       cgroup_run({"sh", "-c", "sleep 0.1 >/dev/null & echo $$ $PPID; wait; exit 3"})) {
    argv.push_back(word);
  }
  argv = cgroup.inside(argv);
  const ProcessRun first = run_command(argv, kTuned);
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_EQ(first.out, "2 1\n") << first.err;
  const std::string left = cgroup.path() + "/kashim-run.1";
  EXPECT_FALSE(exists(left));
  const ProcessRun second = run_command(argv, kTuned);
  EXPECT_EQ(second.exit_code, 3) << second.err;
  // One that a run killed with SIGKILL left (every such run is PID 1 there): a recent one
  // does not stop the next run, an old one is removed by it.
  ASSERT_EQ(mkdir(left.c_str(), 0755), 0);
  const ProcessRun beside = run_command(argv, kTuned);
  EXPECT_EQ(beside.exit_code, 3) << beside.err;
  EXPECT_TRUE(exists(left)) << "recent: it may be another namespace's run, just starting";
  const timespec an_hour_ago[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, left.c_str(), an_hour_ago, 0), 0);
  const ProcessRun after = run_command(argv, kTuned);
  EXPECT_EQ(after.exit_code, 3) << after.err;
  EXPECT_FALSE(exists(left));
  EXPECT_FALSE(exists(left + ".1"));
  rmdir(left.c_str());
}

// A signal that ends kashim-cgroup while it sets the run up (^C, a service stopped at that
// moment) ends the run as it would end COMMAND, and leaves no cgroup behind: it waits until
// the keeper is there to remove it. strace delivers SIGTERM as the cgroup is made.
TEST_F(CgroupRun, ASignalDuringTheSetUpLeavesNoCgroupBehind) {
  KASHIM_REQUIRE(exists("/usr/bin/strace"), "strace");
  const std::string trace = scratch_path("strace");
  std::vector<std::string> argv = {
      "strace", "-o", trace, "-e", "trace=mkdir", "-e", "inject=mkdir:signal=TERM"};
  for (const std::string& word : cgroup_run({"sh", "-c", "echo ran"})) argv.push_back(word);
  const ProcessRun run = run_command(argv, kTuned);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.exit_code, 128 + SIGTERM) << run.err;
  // mkdir("/sys/fs/cgroup/.../kashim-run.PID", 0755) = 0
  const std::string traced = read_file(trace);
  std::filesystem::remove(trace);
  const std::size_t start = traced.find("mkdir(\"") + 7;
  ASSERT_NE(traced.find("/kashim-run."), std::string::npos) << traced;
  const std::string cgroup = traced.substr(start, traced.find('"', start) - start);
  for (int i = 0; i < 2000 && exists(cgroup); ++i) {
    usleep(10000);  // until the keeper is done with it (20 s at most)
  }
  EXPECT_FALSE(exists(cgroup)) << cgroup;
}

// Should the keeper itself be killed with SIGKILL, the links go with it and its cgroup stays;
// the next run under the same parent removes it once no process has its PID and it is over a
// minute old (doc/cgroup.md).
TEST_F(CgroupRun, ACgroupLeftByAKilledKeeperIsRemovedByTheNextRun) {
  Child killed(cgroup_run({"sleep", "30"}), kTuned);
  const pid_t keeper = [&] {
    for (int i = 0; i < 2000; ++i, usleep(5000)) {  // until the command is sleep, bounded
      if (read_file("/proc/" + std::to_string(killed.pid()) + "/comm") == "sleep\n") {
        return keeper_of(killed.pid());
      }
    }
    return pid_t{0};
  }();
  ASSERT_GT(keeper, 0);
  const std::string left = cgroup_of(std::to_string(killed.pid()));
  kill(keeper, SIGKILL);
  kill(killed.pid(), SIGKILL);
  EXPECT_EQ(killed.wait(), 128 + SIGKILL);
  ASSERT_EQ(read_file(left + "/cgroup.procs"), "");
  ASSERT_TRUE(exists(left)) << "left behind when the keeper was killed";

  // Recent: kept (its run may be one in another PID namespace that is just starting).
  ASSERT_EQ(run_command(cgroup_run({"true"}), kTuned).exit_code, 0);
  EXPECT_TRUE(exists(left));
  const timespec an_hour_ago[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, left.c_str(), an_hour_ago, 0), 0);
  // A cgroup named after a process that is alive (the test's own): kept, however old.
  const std::string parent = left.substr(0, left.rfind('/'));
  const std::string living = parent + "/kashim-run." + std::to_string(getpid());
  ASSERT_EQ(mkdir(living.c_str(), 0755), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, living.c_str(), an_hour_ago, 0), 0);

  const ProcessRun next = run_command(cgroup_run({"true"}), kTuned);
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(next.err, "");
  EXPECT_FALSE(exists(left));
  EXPECT_TRUE(exists(living));
  rmdir(living.c_str());
  rmdir(left.c_str());
}

// COMMAND gets the KASHIM_* variables its caller had, not those the wrapper made of its
// options, as on the supervisor route.
TEST_F(CgroupRun, TheCommandGetsItsCallersEnvironment) {
  const ProcessRun run =
      run_command({KASHIM_WRAPPER_PATH, "cgroup", "run", "--idle", "41", "--", "env"},
                  {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}, {"KASHIM_MODE", "fallback"}});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> kashim_variables;
  for (const std::string& line : lines_of(run.out)) {
    if (line.rfind("KASHIM_", 0) == 0) kashim_variables.push_back(line);
  }
  EXPECT_EQ(kashim_variables, (std::vector<std::string>{"KASHIM_LIBRARY=" KASHIM_LIBRARY_PATH,
                                                        "KASHIM_MODE=fallback"}))
      << run.out;
}

TEST_F(CgroupRun, OptionsOtherThanTheConfigurationsAreRefusedInOneLine) {
  for (const std::string option : {"--bogus", "--check", "--program=x"}) {
    const ProcessRun run =
        run_command({KASHIM_WRAPPER_PATH, "cgroup", "run", option, "--", "sh", "-c", "echo ran"},
                    {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
    EXPECT_EQ(run.exit_code, 2) << option;
    EXPECT_EQ(run.out, "") << option;
    EXPECT_NE(run.err.find(option.substr(0, option.find('='))), std::string::npos) << run.err;
  }
}

// The scope and the [program] sections are COMMAND's, by its names, as the library decides.
TEST_F(CgroupRun, TheScopeAndProgramSectionsAreTheCommands) {
  const ProcessRun outside = run_command(cgroup_run({"cat", "/proc/self/cgroup"}),
                                         {{"KASHIM_IDLE", "31"}, {"KASHIM_PROGRAMS", "nginx"}});
  ASSERT_EQ(outside.exit_code, 0) << outside.err;
  EXPECT_EQ(outside.out.find("kashim-run."), std::string::npos) << outside.out;

  const std::string client = test_program("static_client");
  KASHIM_REQUIRE_PROGRAM(client);
  const std::string file = scratch_path("kashim.conf");
  {
    std::ofstream config(file);
    config << "idle = 60\n[program static_client]\nidle = 77\n";
  }
  EXPECT_EQ(client_values(cgroup_run({client}), {{"KASHIM_CONFIG", file}})["idle"], 77);
}

// COMMAND may make cgroups below its own (a container runtime, a nested run) and leave a
// process there: the keeper moves it out too and removes them all.
TEST_F(CgroupRun, CgroupsTheCommandMadeBelowItsOwnAreRemovedToo) {
  const std::string make_inner =
      "inner=" + cgroup2_mount_point() +
      "$(sed -n 's/^0:://p' /proc/self/cgroup)/inner && mkdir $inner && "
      "(sleep 30 >/dev/null 2>&1 & echo $! > $inner/cgroup.procs; echo $!)";
  const auto [run, line] = run_with_errors_on_a_file({"sh", "-c", make_inner});
  ASSERT_EQ(run.exit_code, 0) << run.err << line;
  expect_the_one_left_running_moved_out(run, line);
}

TEST_F(CgroupRun, InvalidConfigurationIsOneLineAndNothingRuns) {
  const ProcessRun run =
      run_command(cgroup_run({"sh", "-c", "echo ran"}), {{"KASHIM_IDLE", "forever"}});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_NE(run.err.find("KASHIM_IDLE"), std::string::npos) << run.err;
}

TEST_F(CgroupRun, WithoutPrivilegesItRefusesInOneLine) {
  KASHIM_REQUIRE(exists("/usr/bin/setpriv"), "setpriv (util-linux)");
  std::vector<std::string> argv = {"setpriv",        "--reuid=65534",   "--regid=65534",
                                   "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"};
  for (const std::string& word : cgroup_run({"sh", "-c", "echo ran"})) argv.push_back(word);
  const ProcessRun run = run_command(argv, kTuned);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  ASSERT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_NE(run.err.find("run it as root"), std::string::npos) << run.err;
}

TEST_F(CgroupRun, WithoutACgroup2MountItRefusesInOneLine) {
  KASHIM_REQUIRE(exists("/usr/bin/unshare"), "unshare (util-linux)");
  // A private mount namespace without the cgroup2 mount: nothing else is affected.
  std::string command = "umount " + cgroup2_mount_point() + " && exec";
  for (const std::string& word : cgroup_run({"sh", "-c", "echo ran"})) command += " " + word;
  const ProcessRun run = run_command({"unshare", "--mount", "sh", "-c", command}, kTuned);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "kashim cgroup: no cgroup v2 file system is mounted (/proc/self/mountinfo lists none):"
            " kashim cgroup needs the unified hierarchy (mount -t cgroup2 none /sys/fs/cgroup)\n");
}

// Through the wrapper, `kashim cgroup run` says what every other route says, before it
// starts anything: a directory, an empty name (as env(1)), a bad value (the option typed).
TEST_F(CgroupRun, TheWrapperRefusesWhatEveryRouteRefusesWithTheSameLine) {
  const std::vector<std::tuple<std::vector<std::string>, int, std::string>> cases = {
      {{"--", "/tmp"}, 126, "kashim: /tmp: is a directory\n"},
      {{"--", ""}, 127, "kashim: '': No such file or directory\n"},
      {{"--idle", "0", "--", "sh", "-c", "echo ran"},
       2,
       "kashim: --idle 0: KASHIM_IDLE=0 is out of range 1s..32767s\n"},
  };
  for (const auto& [arguments, status, line] : cases) {
    std::vector<std::string> argv = {KASHIM_WRAPPER_PATH, "cgroup", "run"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const ProcessRun run = run_command(argv, {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
    EXPECT_EQ(run.exit_code, status) << line;
    EXPECT_EQ(run.out, "");
    EXPECT_EQ(run.err, line);
  }
}

TEST_F(CgroupRun, TheWrapperPassesItsOptions) {
  const std::string client = test_program("static_client");
  KASHIM_REQUIRE_PROGRAM(client);
  auto values = client_values(
      {KASHIM_WRAPPER_PATH, "cgroup", "run", "--idle", "41", "--cnt", "2", "--", client},
      {{"KASHIM_LIBRARY", KASHIM_LIBRARY_PATH}});
  EXPECT_EQ(values["keepalive"], 1);
  EXPECT_EQ(values["idle"], 41);
  EXPECT_EQ(values["cnt"], 2);
  EXPECT_EQ(values["intvl"], untouched_values()["intvl"]);
}

}  // namespace
}  // namespace kashim::testing
