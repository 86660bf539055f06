// The supervised program as its caller sees it: exit status, death by signal, forwarded
// signals, environment, and what happens when the supervisor dies or cannot run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

TEST(SuperviseProcess, ExitStatusIsTheProgramsOwn) {
  for (const char* code : {"0", "1", "42", "255"}) {
    ProcessRun plain = run_supervised_probe({"exit", code}, kTuned, false);
    ProcessRun supervised = run_supervised_probe({"exit", code}, kTuned);
    EXPECT_EQ(supervised.exit_code, plain.exit_code) << code;
    EXPECT_EQ(supervised.exit_code, std::atoi(code));
    EXPECT_EQ(supervised.err, "");
    EXPECT_EQ(supervised.out, "");
  }
}

// A parent that ignores SIGCHLD passes that on through exec; the supervisor must still
// learn COMMAND's status, and COMMAND must still inherit the ignored SIGCHLD.
TEST(SuperviseProcess, AnIgnoredSigchldIsInheritedWithoutLosingTheStatus) {
  const std::string results = scratch_path("sigchld");
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGCHLD, SIG_IGN);
    setenv("KASHIM_IDLE", "31", 1);
    execl(supervisor_path().c_str(), "kashim-supervise", "--", SUPERVISE_PROBE_PATH,
          results.c_str(), "sigchld", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << status;
  EXPECT_NE(read_file(results).find("sigchld_ignored=1\n"), std::string::npos);
  std::filesystem::remove(results);
}

TEST(SuperviseProcess, DeathBySignalIsReproduced) {
  for (int signal : {SIGTERM, SIGKILL, SIGSEGV, SIGABRT, SIGUSR1}) {
    Background supervised = start_background({supervisor_path(), "--", SUPERVISE_PROBE_PATH,
                                              "/dev/null", "kill", std::to_string(signal)},
                                             kTuned);
    const int status = supervised.wait_status();
    ASSERT_TRUE(WIFSIGNALED(status)) << signal << " status " << status << supervised.err_text;
    EXPECT_EQ(WTERMSIG(status), signal);
    EXPECT_FALSE(WCOREDUMP(status)) << "the supervisor must not dump a core of its own";
  }
}

TEST(SuperviseProcess, SignalsAreForwardedOnce) {
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
                     SIGVTALRM, SIGPWR, static_cast<int>(SIGRTMIN) + 1}) {
    const std::string results = scratch_path("signal");
    Background supervised = start_background(
        {supervisor_path(), "--", SUPERVISE_PROBE_PATH, results, "wait-signal"}, kTuned);
    ASSERT_NE(supervised.wait_for_output("ready").find("ready"), std::string::npos);
    // To the whole job, as a shell's `kill %1` does: the program is in a group of its own,
    // so it gets the signal once, from the supervisor.
    const pid_t supervisor = supervised.pid;
    ASSERT_EQ(kill(-supervisor, signal), 0);
    const int status = supervised.wait_status();
    ASSERT_TRUE(WIFEXITED(status)) << signal << supervised.err_text;
    EXPECT_EQ(WEXITSTATUS(status), 100 + signal);
    std::string text = read_file(results);
    EXPECT_NE(text.find("signal=" + std::to_string(signal) + "\n"), std::string::npos) << text;
    EXPECT_NE(text.find("parent=" + std::to_string(supervisor) + "\n"), std::string::npos)
        << "the program's parent is the supervisor: " << text;
    // Reaped by the supervisor before it exited: no zombie left behind.
    const std::size_t at = text.find("pid=");
    ASSERT_NE(at, std::string::npos);
    EXPECT_NE(access(("/proc/" + std::to_string(std::stoi(text.substr(at + 4)))).c_str(), F_OK), 0);
    std::filesystem::remove(results);
  }
}

// A job-control stop sent to the supervisor (no terminal here) stops COMMAND, and the
// supervisor with the same signal: its caller sees the stop as it would COMMAND's.
TEST(SuperviseProcess, AStopSentToTheSupervisorStopsBothWithTheSameSignal) {
  for (int stop : {SIGTSTP, SIGTTIN, SIGTTOU}) {
    const std::string results = scratch_path("stop");
    Background supervised = start_background(
        {supervisor_path(), "--", SUPERVISE_PROBE_PATH, results, "wait-signal"}, kTuned);
    ASSERT_NE(supervised.wait_for_output("ready").find("ready"), std::string::npos);
    const std::string text = read_file(results);
    const std::size_t at = text.find("pid=");
    ASSERT_NE(at, std::string::npos) << text;
    const std::string program = std::to_string(std::stoi(text.substr(at + 4)));
    ASSERT_EQ(kill(supervised.pid, stop), 0);
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 1000 && (got = waitpid(supervised.pid, &status, WNOHANG | WUNTRACED)) == 0;
         ++i) {
      usleep(10000);  // bounded (10 s): a supervisor that never stops fails, not hangs
    }
    ASSERT_EQ(got, supervised.pid) << stop;
    EXPECT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == stop) << stop << " " << status;
    const std::string state = read_file("/proc/" + program + "/stat");
    EXPECT_NE(state.find(") T "), std::string::npos) << stop << " " << state;
    kill(supervised.pid, SIGCONT);
    kill(supervised.pid, SIGTERM);
    EXPECT_EQ(WEXITSTATUS(supervised.wait_status()), 100 + SIGTERM) << stop;
    std::filesystem::remove(results);
  }
}

// A signal queued with a value (sigqueue) reaches COMMAND as queued, from its sender.
TEST(SuperviseProcess, AQueuedSignalKeepsItsSenderAndKind) {
  Background supervised =
      start_background({supervisor_path(), "--", "python3", "-c",
                        "import signal\n"
                        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
                        "print('ready', flush=True)\n"
                        "info = signal.sigwaitinfo({signal.SIGUSR1})\n"
                        "print('code=%d pid=%d' % (info.si_code, info.si_pid), flush=True)\n"},
                       kTuned);
  ASSERT_NE(supervised.wait_for_output("ready").find("ready"), std::string::npos);
  ASSERT_EQ(sigqueue(supervised.pid, SIGUSR1, sigval{4242}), 0);
  const std::string line = supervised.wait_for_output("pid=");
  EXPECT_NE(line.find("code=" + std::to_string(SI_QUEUE) + " pid=" + std::to_string(getpid())),
            std::string::npos)
      << line << supervised.err_text;
  EXPECT_EQ(WEXITSTATUS(supervised.wait_status()), 0);
}

TEST(SuperviseProcess, KillingTheSupervisorTakesTheProgramWithIt) {
  const std::string results = scratch_path("killed");
  Background supervised = start_background(
      {supervisor_path(), "--", SUPERVISE_PROBE_PATH, results, "wait-signal"}, kTuned);
  ASSERT_NE(supervised.wait_for_output("ready").find("ready"), std::string::npos);
  std::string text = read_file(results);
  const std::size_t at = text.find("pid=");
  ASSERT_NE(at, std::string::npos) << text;
  const pid_t program = std::stoi(text.substr(at + 4));
  ASSERT_EQ(kill(supervised.pid, SIGKILL), 0);
  const int status = supervised.wait_status();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // Its notified calls would fail with ENOSYS from now on: it must not go on running.
  EXPECT_TRUE(process_ends(program)) << "program " << program << " survived its supervisor";
  std::filesystem::remove(results);
}

// A daemon that outlives COMMAND still runs under the filter: its calls are answered after
// the supervisor's main process has exited with COMMAND's status.
TEST(SuperviseProcess, ADaemonOutlivingTheProgramIsStillServed) {
  const std::string report = scratch_path("daemon");
  ProcessRun run = run_supervised_probe({"daemon", report}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const pid_t daemon = std::stoi(run.value("daemon_pid"));
  ASSERT_TRUE(process_ends(daemon));
  const std::string text = read_file(report);
  EXPECT_NE(text.find("connect=ok\n"), std::string::npos) << text;
  EXPECT_NE(text.find("daemon=1/31/7/4/2500\n"), std::string::npos) << text;
  std::filesystem::remove(report);
}

// The same on a terminal whose session ends with COMMAND (script -c, ssh -t, a CI runner's
// pty): the hangup reaches the supervisor's process group as the copy serving the daemon
// starts, and must not end it (the daemon's calls would fail with ENOSYS from then on).
// COMMAND starts the daemon as a shell script would, and exits.
TEST(SuperviseProcess, ADaemonIsStillServedAfterItsTerminalHungUp) {
  KASHIM_REQUIRE(access("/usr/bin/script", X_OK) == 0, "script (bsdutils)");
  const std::string report = scratch_path("daemon"), go = scratch_path("daemon-go");
  const std::string daemon = scratch_path("daemon.py"), starter = scratch_path("starter.sh");
  std::filesystem::remove(go);
  std::filesystem::remove(report);
  std::ofstream(daemon)
      << "import os, socket, sys, time\n"
         "for _ in range(2000):  # until the test says the session is over (20 s at most)\n"
         "    if os.path.exists(sys.argv[2]): break\n"
         "    time.sleep(0.01)\n"
         "server = socket.create_server(('127.0.0.1', 0))\n"
         "try:\n"
         "    client = socket.create_connection(server.getsockname())\n"
         "    idle = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)\n"
         "    result = 'connect=ok idle=%d' % idle\n"
         "except OSError as error:\n"
         "    result = 'connect=%s' % error.strerror\n"
         "open(sys.argv[1], 'w').write(result + '\\n')\n";
  std::ofstream(starter) << "trap '' HUP\nsetsid python3 " << daemon << " " << report << " " << go
                         << " </dev/null >/dev/null 2>&1 &\n";
  const ProcessRun run = run_command(
      {"script", "-qec", "exec " + supervisor_path() + " -- sh " + starter, "/dev/null"}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  std::ofstream(go).put('\n');  // the session is over: script has returned
  std::string text;
  for (int i = 0; i < 2000 && (text = read_file(report)).find('\n') == std::string::npos; ++i) {
    usleep(10000);  // the daemon is nobody's child here: its report is the signal, 20 s at most
  }
  EXPECT_EQ(text, "connect=ok idle=31\n");
  for (const std::string& file : {report, go, daemon, starter}) std::filesystem::remove(file);
}

// The supervisor holds none of the descriptors COMMAND inherited, but stderr (its log
// lines): one COMMAND closes is closed, and a pipe's reader sees its end while COMMAND
// still runs (test/helpers/closed_descriptors.py).
TEST(SuperviseProcess, ADescriptorTheProgramClosesIsClosed) {
  const std::string driver = std::string(KASHIM_SOURCE_DIR) + "/test/helpers/closed_descriptors.py";
  const std::string ended = "fd 9: ended\nfd 1: ended\n";
  EXPECT_EQ(run_command({"python3", driver, "9,1"}, kTuned).out, ended);
  EXPECT_EQ(run_command({"python3", driver, "9,1", supervisor_path(), "--"}, kTuned).out, ended);
}

TEST(SuperviseProcess, TheProgramGetsItsOwnEnvironmentBack) {
  // As the wrapper calls it: every KASHIM_* dropped, the caller's own put back.
  ProcessRun run = run_probe_program(
      {supervisor_path(), "--drop-kashim-env", "--setenv", "KASHIM_LOG=error", "--"},
      SUPERVISE_PROBE_PATH, {"environment"},
      with(with(kTuned, "KASHIM_LOG", "info"), "LD_LIBRARY_PATH", "/nowhere"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("env_KASHIM_LOG"), "error");
  EXPECT_EQ(run.value("env_LD_LIBRARY_PATH"), "/nowhere");
  EXPECT_EQ(run.values.count("env_KASHIM_IDLE"), 0u);
  EXPECT_EQ(run.values.count("env_LD_PRELOAD"), 0u);
}

// systemd names the process it started, the supervisor, in LISTEN_PID, LISTEN_PIDFDID and
// WATCHDOG_PID; COMMAND checks them against itself (sd_listen_fds, sd_watchdog_enabled), so
// they must name COMMAND.
TEST(SuperviseProcess, SystemdsVariablesNameTheProgram) {
  ProcessRun run = run_probe_program(
      {"python3", "-c",
       "import os, sys\n"
       "me = str(os.getpid())\n"
       "os.environ.update(LISTEN_PID=me, WATCHDOG_PID=me, LISTEN_FDS='0', WATCHDOG_USEC='1000',\n"
       "  LISTEN_PIDFDID=str(os.fstat(os.pidfd_open(os.getpid())).st_ino))\n"
       "os.execv(sys.argv[1], sys.argv[1:])\n",
       supervisor_path(), "--"},
      SUPERVISE_PROBE_PATH, {"environment"}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("env_LISTEN_PID"), run.value("pid"));
  EXPECT_EQ(run.value("env_WATCHDOG_PID"), run.value("pid"));
  EXPECT_EQ(run.value("env_LISTEN_PIDFDID"), run.value("pidfd_id"));
  EXPECT_EQ(run.value("env_LISTEN_FDS"), "0");
  EXPECT_EQ(run.value("env_WATCHDOG_USEC"), "1000");
}

TEST(SuperviseProcess, SocketActivationsListenPidNamesTheProgram) {
  ProcessRun run = run_probe_program(
      {"sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=0 exec \"$0\" \"$@\"", supervisor_path(), "--"},
      SUPERVISE_PROBE_PATH, {"environment"}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.value("env_LISTEN_PID"), run.value("pid"));
  EXPECT_EQ(run.value("env_LISTEN_FDS"), "0");
  // Naming another process, it is left alone.
  run = run_probe_program({supervisor_path(), "--"}, SUPERVISE_PROBE_PATH, {"environment"},
                          with(kTuned, "LISTEN_PID", "1"));
  EXPECT_EQ(run.value("env_LISTEN_PID"), "1");
}

// Run as root (CAP_SYS_ADMIN, no no_new_privs), the exec of a program set-user-ID or
// set-group-ID to another user or group clears the parent-death signal that ends COMMAND with its
// supervisor; without CAP_SYS_ADMIN the filter needs no_new_privs, which would run it without its
// privileges.
TEST(SuperviseProcess, ASetUserIdProgramRunsUntunedOrNotAtAllWithStrict) {
  const std::string copy = scratch_path("setuid_probe");
  std::filesystem::copy_file(SUPERVISE_PROBE_PATH, copy);
  const bool root = geteuid() == 0;
  if (root) {  // set-group-ID to nogroup: the probe, still root, can write its results
    ASSERT_EQ(chown(copy.c_str(), 0, 65534), 0);
  }
  ASSERT_EQ(chmod(copy.c_str(), root ? 02755 : 04755), 0);
  ProcessRun untuned = run_probe_program({supervisor_path(), "--"}, copy, {"connect"}, kTuned);
  EXPECT_EQ(untuned.err,
            "kashim: the supervisor route cannot run: " + copy +
                (root ? " is set-user-ID or set-group-ID to another user or group (its exec "
                        "clears the parent-death signal that ends COMMAND with kashim-supervise; "
                        "should the supervisor die, COMMAND would run on with its connect, listen "
                        "and setsockopt failing with ENOSYS)"
                      : " is set-user-ID or set-group-ID (without CAP_SYS_ADMIN the filter needs "
                        "no_new_privs, which would run it without its privileges)") +
                "; COMMAND runs untuned\n");
  EXPECT_NE(untuned.err.find("COMMAND runs untuned"), std::string::npos);
  EXPECT_NE(untuned.value("client"), "1/31/7/4/2500");
  EXPECT_EQ(lines_of(untuned.err).size(), 1u) << "one clear line";

  ProcessRun strict =
      run_probe_program({supervisor_path(), "--strict", "--"}, copy, {"connect"}, kTuned);
  EXPECT_EQ(strict.exit_code, 125);
  EXPECT_NE(strict.err.find("COMMAND not run (--strict)"), std::string::npos) << strict.err;
  EXPECT_EQ(strict.values.count("client"), 0u) << "the program must not have run";
  std::filesystem::remove(copy);
}

// Only one seccomp listener may be in a process's filter chain: a supervisor under another
// one cannot install its own, which is how a kernel or container that refuses the filter
// looks to it. The outer supervisor still tunes the program.
TEST(SuperviseProcess, WhereTheFilterIsRefusedTheProgramRunsUntunedOrNotAtAll) {
  ProcessRun nested = run_probe_program({supervisor_path(), "--", supervisor_path(), "--"},
                                        SUPERVISE_PROBE_PATH, {"connect"}, kTuned);
  EXPECT_EQ(nested.exit_code, 0) << nested.err;
  EXPECT_NE(nested.err.find("the supervisor route cannot run: seccomp"), std::string::npos)
      << nested.err;
  EXPECT_EQ(lines_of(nested.err).size(), 1u) << nested.err;
  EXPECT_EQ(nested.value("client"), "1/31/7/4/2500");

  ProcessRun strict =
      run_probe_program({supervisor_path(), "--", supervisor_path(), "--strict", "--"},
                        SUPERVISE_PROBE_PATH, {"connect"}, kTuned);
  EXPECT_EQ(strict.exit_code, 125) << strict.err;
  EXPECT_EQ(strict.values.count("client"), 0u);
}

// A seccomp filter makes kernels before 5.16 (spec_store_bypass_disable=seccomp, their
// default) force speculation mitigations on the program: slower, and seen in its
// /proc/PID/status. The supervisor's filter is no sandbox and asks for none.
TEST(SuperviseProcess, TheFilterLeavesTheProgramsSpeculationControlsAlone) {
  const std::vector<std::string> show = {"grep", "^Speculation", "/proc/self/status"};
  std::vector<std::string> supervised = {supervisor_path(), "--"};
  supervised.insert(supervised.end(), show.begin(), show.end());
  const ProcessRun plain_run = run_command(show, kTuned);
  const ProcessRun supervised_run = run_command(supervised, kTuned);
  ASSERT_EQ(plain_run.exit_code, 0) << plain_run.err;
  EXPECT_EQ(supervised_run.out, plain_run.out) << supervised_run.err;
  // Where this kernel or CPU has no such mitigation to force, the two agree anyway: the flag
  // itself is what strace shows.
  KASHIM_REQUIRE(access("/usr/bin/strace", X_OK) == 0, "strace");
  const std::string trace = scratch_path("seccomp-trace");
  std::vector<std::string> traced = {"strace", "-f", "-e", "trace=seccomp", "-o", trace};
  traced.insert(traced.end(), supervised.begin(), supervised.end());
  ASSERT_EQ(run_command(traced, kTuned).exit_code, 0);
  const std::string calls = read_file(trace);
  EXPECT_NE(calls.find("SECCOMP_FILTER_FLAG_NEW_LISTENER"), std::string::npos) << calls;
  EXPECT_NE(calls.find("SECCOMP_FILTER_FLAG_SPEC_ALLOW"), std::string::npos) << calls;
}

// The program and the supervisor wait for each other, so the supervisor asks to be woken on
// the CPU of the thread that made the call (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6):
// a supervised connect+close cost 2.5 times a plain one here before, 1.6 times after
// (scripts/bench). Older kernels refuse the request, and the program runs as before.
TEST(SuperviseProcess, TheSupervisorAsksToBeWokenOnTheCallersCpu) {
  KASHIM_REQUIRE(access("/usr/bin/strace", X_OK) == 0, "strace");
  const std::string trace = scratch_path("set-flags");
  const ProcessRun run = run_command(
      {"strace", "-e", "trace=ioctl", "-o", trace, supervisor_path(), "--", "true"}, kTuned);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string calls = read_file(trace);
  // SECCOMP_IOCTL_NOTIF_SET_FLAGS with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, as strace 6.1
  // prints it (it has no name for the request yet).
  const std::string request = "_IOC(_IOC_WRITE, 0x21, 0x4, 0x8), 0x1) = ";
  const std::size_t at = calls.find(request);
  ASSERT_NE(at, std::string::npos) << calls;
  utsname system{};
  ASSERT_EQ(uname(&system), 0);
  int major = 0, minor = 0;
  ASSERT_EQ(std::sscanf(system.release, "%d.%d", &major, &minor), 2) << system.release;
  const bool kernel_knows_it = major > 6 || (major == 6 && minor >= 6);
  const bool taken = calls.compare(at + request.size(), 2, "0\n") == 0;
  EXPECT_EQ(taken, kernel_knows_it) << system.release << "\n" << calls;
}

// Without kashim a signal handler installed without SA_RESTART never makes connect, listen
// or setsockopt fail with EINTR. Once the supervisor has taken the notification, only a
// fatal signal ends the program's wait (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 5.19);
// not with accepts notified (KASHIM_PEERS), where a signal must end a blocking accept.
TEST(SuperviseProcess, OnlyAFatalSignalEndsAWaitForTheSupervisorsAnswer) {
  KASHIM_REQUIRE(access("/usr/bin/strace", X_OK) == 0, "strace");
  const std::string trace = scratch_path("seccomp-flags");
  auto flags_with = [&](const Environment& environment) {
    EXPECT_EQ(run_command({"strace", "-f", "-e", "trace=seccomp", "-o", trace, supervisor_path(),
                           "--", "true"},
                          environment)
                  .exit_code,
              0);
    return read_file(trace);
  };
  const std::string plain = flags_with(kTuned);
  EXPECT_NE(plain.find("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"), std::string::npos) << plain;
  const std::string with_peers = flags_with(with(kTuned, "KASHIM_PEERS", "127.0.0.2"));
  EXPECT_NE(with_peers.find("SECCOMP_FILTER_FLAG_NEW_LISTENER"), std::string::npos) << with_peers;
  EXPECT_EQ(with_peers.find("WAIT_KILLABLE_RECV"), std::string::npos) << with_peers;
}

// The kernel asks no_new_privs only of a filter installed without CAP_SYS_ADMIN. Run as
// root, the supervisor sets none: a set-user-ID program in COMMAND's tree (run after COMMAND
// dropped to another user) keeps its privileges. Without privileges it must set it.
TEST(SuperviseProcess, RunAsRootSetUserIdProgramsInTheTreeKeepTheirPrivileges) {
  KASHIM_REQUIRE(geteuid() == 0, "root");
  KASHIM_REQUIRE(access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux)");
  const std::string id = scratch_path("setuid_id");
  std::filesystem::copy_file("/usr/bin/id", id, std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(chmod(id.c_str(), 04755), 0);
  const std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups"};
  std::vector<std::string> command = as_nobody;
  command.insert(command.end(), {id, "-u"});
  std::vector<std::string> supervised = {supervisor_path(), "--"};
  supervised.insert(supervised.end(), command.begin(), command.end());
  const ProcessRun plain_run = run_command(command, kTuned);
  KASHIM_REQUIRE(plain_run.out == "0\n", "a scratch directory that honours set-user-ID");
  const ProcessRun supervised_run = run_command(supervised, kTuned);
  EXPECT_EQ(supervised_run.out, "0\n") << supervised_run.err;
  std::filesystem::remove(id);

  const std::vector<std::string> show = {"grep", "^NoNewPrivs", "/proc/self/status"};
  std::vector<std::string> as_root = {supervisor_path(), "--"};
  as_root.insert(as_root.end(), show.begin(), show.end());
  EXPECT_EQ(run_command(as_root, kTuned).out, run_command(show, kTuned).out);
  std::vector<std::string> unprivileged = as_nobody;
  unprivileged.insert(unprivileged.end(), {"--inh-caps=-all", "--bounding-set=-all"});
  unprivileged.insert(unprivileged.end(), as_root.begin(), as_root.end());
  const ProcessRun unprivileged_run = run_command(unprivileged, kTuned);
  EXPECT_EQ(unprivileged_run.exit_code, 0) << unprivileged_run.err;
  EXPECT_EQ(unprivileged_run.out, "NoNewPrivs:\t1\n") << unprivileged_run.err;
}

// Run as root, a program set-user-ID root changes no ID at exec and keeps the parent-death
// signal: nothing stands in the way, and it is tuned as any other.
TEST(SuperviseProcess, ASetUserIdRootProgramIsSupervisedByRootAndRefusedWithoutCapSysAdmin) {
  KASHIM_REQUIRE(geteuid() == 0, "root");
  const std::string copy = scratch_path("setuid_root_probe");
  std::filesystem::copy_file(SUPERVISE_PROBE_PATH, copy);
  ASSERT_EQ(chmod(copy.c_str(), 04755), 0);
  ProcessRun run =
      run_probe_program({supervisor_path(), "--strict", "--"}, copy, {"connect"}, kTuned);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.value("client"), "1/31/7/4/2500");
  // Without CAP_SYS_ADMIN the same program is refused: no_new_privs would drop its privileges.
  KASHIM_REQUIRE(access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux)");
  run = run_probe_program(
      {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
       "--bounding-set=-all", supervisor_path(), "--strict", "--"},
      copy, {"connect"}, kTuned);
  EXPECT_EQ(run.exit_code, 125);
  EXPECT_EQ(run.err, "kashim: the supervisor route cannot run: " + copy +
                         " is set-user-ID or set-group-ID (without CAP_SYS_ADMIN the filter needs "
                         "no_new_privs, which would run it without its privileges); COMMAND not "
                         "run (--strict)\n");
  std::filesystem::remove(copy);
}

TEST(SuperviseProcess, AnInvalidConfigurationIsReportedAndTheProgramRunsUntuned) {
  ProcessRun run = run_supervised_probe({"connect"}, {{"KASHIM_IDLE", "soon"}});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("KASHIM_IDLE"), std::string::npos) << run.err;
  EXPECT_EQ(lines_of(run.err).size(), 1u) << run.err;
  EXPECT_NE(run.value("client"), "1/31/7/4/2500");
}

}  // namespace
}  // namespace kashim::testing
