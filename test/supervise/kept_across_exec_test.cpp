// What exec keeps of a process and fork does not give its child: the interval timers its
// caller left running (alarm()), its child-subreaper flag, and a scheduling policy or nice
// value set with SCHED_RESET_ON_FORK. Without kashim COMMAND, exec'd in its caller's
// process, has them; under the supervisor, which forks COMMAND, too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

constexpr long kRealMs = 3000;     // ITIMER_REAL as the caller sets it (the probe cancels it)
constexpr long kCpuMs = 60000;     // ITIMER_VIRTUAL and ITIMER_PROF: never reached here
constexpr long kIntervalMs = 500;  // ITIMER_REAL's interval

constexpr int kNice = -3;           // with SCHED_RESET_ON_FORK, which fork resets to 0
constexpr int kNotPermitted = 125;  // the caller's setup was refused

bool set_timers_and_subreaper() {
  const itimerval real{{0, kIntervalMs * 1000}, {kRealMs / 1000, 0}};
  const itimerval cpu{{0, 0}, {kCpuMs / 1000, 0}};
  return setitimer(ITIMER_REAL, &real, nullptr) == 0 &&
         setitimer(ITIMER_VIRTUAL, &cpu, nullptr) == 0 &&
         setitimer(ITIMER_PROF, &cpu, nullptr) == 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

bool set_scheduling_reset_on_fork() {
  const sched_param normal{};
  return sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &normal) == 0 &&
         setpriority(PRIO_PROCESS, 0, kNice) == 0;
}

constexpr int kLockedFd = 9;  // the descriptor the caller locks through, given to COMMAND

std::string g_locked_path;  // set by the test, before it forks

// A write lock on the first bytes of a scratch file, through kLockedFd, left open for exec.
bool lock_a_file() {
  const int fd = open(g_locked_path.c_str(), O_RDWR | O_CREAT, 0600);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_len = 10;
  return fd >= 0 && dup2(fd, kLockedFd) == kLockedFd && fcntl(kLockedFd, F_SETLK, &lock) == 0;
}

// SCHED_DEADLINE, 3 ms of every 10 ms, without SCHED_RESET_ON_FORK (glibc has no wrapper).
bool set_deadline_scheduling() {
  struct {
    std::uint32_t size = 48, policy = 6 /* SCHED_DEADLINE */;
    std::uint64_t flags = 0;
    std::int32_t nice = 0;
    std::uint32_t priority = 0;
    std::uint64_t runtime = 3000000, deadline = 10000000, period = 10000000;
  } attributes;
  return syscall(SYS_sched_setattr, 0, &attributes, 0) == 0;
}

// The probe's `scenario` with `argument`, exec'd by a process that first runs `set_up`,
// under the supervisor when `supervised`.
ProcessRun run_after_setting(bool (*set_up)(), bool supervised, const std::string& argument,
                             const char* scenario = "kept-across-exec") {
  const std::string results = scratch_path("kept");
  const pid_t pid = fork();
  if (pid == 0) {
    if (!set_up()) _exit(kNotPermitted);
    setenv("KASHIM_IDLE", "31", 1);
    if (supervised) {
      execl(supervisor_path().c_str(), "kashim-supervise", "--", SUPERVISE_PROBE_PATH,
            results.c_str(), scenario, argument.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(SUPERVISE_PROBE_PATH, SUPERVISE_PROBE_PATH, results.c_str(), scenario, argument.c_str(),
            static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  ProcessRun run;
  int status = 0;
  if (waitpid(pid, &status, 0) == pid) {
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  take_values(read_file(results), &run);
  std::filesystem::remove(results);
  return run;
}

long number(const ProcessRun& run, const std::string& key) {
  const std::string text = run.value(key);
  return text.starts_with("<missing") ? -1 : std::stol(text);
}

TEST(SuperviseKeptAcrossExec, TheCallersTimersAndSubreaperFlagAreThePrograms) {
  const ProcessRun plain = run_after_setting(set_timers_and_subreaper, false, "-");
  const ProcessRun supervised = run_after_setting(set_timers_and_subreaper, true, "-");
  ASSERT_EQ(plain.exit_code, 0);
  ASSERT_EQ(supervised.exit_code, 0);
  for (const ProcessRun* run : {&plain, &supervised}) {
    const char* which = run == &plain ? "without kashim" : "under the supervisor";
    // Less than set by the time the start took; the machine may be loaded, but not for 2 s.
    EXPECT_GT(number(*run, "real_ms"), kRealMs - 2000) << which;
    EXPECT_LE(number(*run, "real_ms"), kRealMs) << which;
    EXPECT_EQ(number(*run, "real_interval_ms"), kIntervalMs) << which;
    EXPECT_GT(number(*run, "virtual_ms"), kCpuMs - 2000) << which;
    EXPECT_GT(number(*run, "prof_ms"), kCpuMs - 2000) << which;
    EXPECT_EQ(number(*run, "subreaper"), 1) << which;
  }
}

// The supervisor gives its timer away rather than copying it: once COMMAND has cancelled
// it, no SIGALRM comes (a copy left running in the supervisor would fire, and be forwarded).
TEST(SuperviseKeptAcrossExec, ATimerTheProgramCancelsNeverFires) {
  const ProcessRun supervised = run_after_setting(set_timers_and_subreaper, true, "wait");
  ASSERT_EQ(supervised.exit_code, 0);
  EXPECT_GT(number(supervised, "real_ms"), 0);
  EXPECT_EQ(number(supervised, "alarm_after_cancel"), 0);
}

// A POSIX record lock the caller took is owned by its process, which exec keeps and fork
// does not pass on: COMMAND must hold it, as without kashim, not lose it to the supervisor.
TEST(SuperviseKeptAcrossExec, ARecordLockTheCallerHeldIsHeldByTheProgram) {
  const std::string fd = std::to_string(kLockedFd);
  g_locked_path = scratch_path("locked");
  const ProcessRun plain = run_after_setting(lock_a_file, false, fd, "record-lock");
  const ProcessRun supervised = run_after_setting(lock_a_file, true, fd, "record-lock");
  ASSERT_EQ(plain.exit_code, 0);
  ASSERT_EQ(supervised.exit_code, 0);
  EXPECT_EQ(plain.value("holder"), plain.value("pid"));
  EXPECT_EQ(supervised.value("holder"), supervised.value("pid"));
  std::filesystem::remove(g_locked_path);
}

// A container's entry point, `kashim -- COMMAND`, makes the supervisor the pid namespace's
// init, where COMMAND would have been: COMMAND's orphaned descendants must still come to
// COMMAND (as its subreaper), not to the supervisor, which never waits for them.
TEST(SuperviseKeptAcrossExec, AsInitTheProgramStillGetsItsOrphans) {
  const ProcessRun plain = run_probe_program({"unshare", "--pid", "--fork", "--mount-proc"},
                                             SUPERVISE_PROBE_PATH, {"orphan"}, kTuned);
  KASHIM_REQUIRE(plain.exit_code == 0 && plain.value("pid") == "1",
                 "a pid namespace of its own (unshare --pid, as root)");
  const ProcessRun supervised =
      run_probe_program({"unshare", "--pid", "--fork", "--mount-proc", supervisor_path(), "--"},
                        SUPERVISE_PROBE_PATH, {"orphan"}, kTuned);
  ASSERT_EQ(supervised.exit_code, 0) << supervised.err;
  EXPECT_EQ(plain.value("orphan_reaped"), "1");
  EXPECT_EQ(supervised.value("pid"), "2");
  EXPECT_EQ(supervised.value("orphan_reaped"), "1");
}

// Needs the right to lower a nice value (root, CAP_SYS_NICE or RLIMIT_NICE), as the caller
// in the field has it. A real-time policy would be reset the same way; the nice value keeps
// the test from running anything real-time.
TEST(SuperviseKeptAcrossExec, ASchedulingSetWithResetOnForkIsTheProgramsToo) {
  const ProcessRun plain = run_after_setting(set_scheduling_reset_on_fork, false, "-");
  KASHIM_REQUIRE(plain.exit_code != kNotPermitted, "the right to lower a nice value");
  const ProcessRun supervised = run_after_setting(set_scheduling_reset_on_fork, true, "-");
  ASSERT_EQ(plain.exit_code, 0);
  ASSERT_EQ(supervised.exit_code, 0);
  EXPECT_EQ(number(plain, "policy"), SCHED_OTHER | SCHED_RESET_ON_FORK);
  EXPECT_EQ(number(plain, "nice"), kNice);
  EXPECT_EQ(number(supervised, "policy"), number(plain, "policy"));
  EXPECT_EQ(number(supervised, "nice"), number(plain, "nice"));
}

// A deadline task may not fork unless SCHED_RESET_ON_FORK is set: the supervisor could not
// start COMMAND at all (exit 125), which without kashim runs, with its deadline policy.
TEST(SuperviseKeptAcrossExec, AProgramRunWithADeadlinePolicyStartsWithIt) {
  const ProcessRun plain = run_after_setting(set_deadline_scheduling, false, "-");
  KASHIM_REQUIRE(plain.exit_code != kNotPermitted, "the right to set SCHED_DEADLINE (root)");
  const ProcessRun supervised = run_after_setting(set_deadline_scheduling, true, "-");
  ASSERT_EQ(plain.exit_code, 0);
  EXPECT_EQ(supervised.exit_code, 0);
  EXPECT_EQ(number(plain, "policy"), 6);
  EXPECT_EQ(number(supervised, "policy"), number(plain, "policy"));
}

}  // namespace
}  // namespace kashim::testing
