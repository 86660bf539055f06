// Job control in an interactive shell on a terminal (a pty): ^Z stops the supervised job and
// the shell says so, fg resumes it, ^C reaches the program, and the shell gets its status.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>

#include "supervise_helpers.hpp"

namespace kashim::testing {
namespace {

class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  bool started() const { return pid_ > 0; }
  void type(const std::string& text) {
    ASSERT_EQ(write(master_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // Reads the screen until `text` appears after what was seen before (30 s at most).
  bool shows(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (screen_.find(text, consumed_) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      pollfd entry{master_, POLLIN, 0};
      if (poll(&entry, 1, 1000) <= 0) continue;
      char buffer[512];
      ssize_t got = read(master_, buffer, sizeof buffer);
      if (got <= 0) return false;
      screen_.append(buffer, static_cast<std::size_t>(got));
    }
    consumed_ = screen_.find(text, consumed_) + text.size();
    return true;
  }
  const std::string& screen() const { return screen_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::string screen_;
  std::size_t consumed_ = 0;
};

TEST(SuperviseJobControl, StopResumeAndInterruptInAnInteractiveShell) {
  KASHIM_REQUIRE(access("/bin/bash", X_OK) == 0, "bash");
  const std::string results = scratch_path("job");
  Terminal shell({"/bin/bash", "--norc", "--noprofile", "-i"});
  KASHIM_REQUIRE(shell.started(), "a pseudo-terminal (/dev/ptmx)");
  shell.type("PS1='$ '; KASHIM_IDLE=31 " + supervisor_path() + " -- " + SUPERVISE_PROBE_PATH + " " +
             results + " wait-signal\n");
  ASSERT_TRUE(shell.shows("ready")) << shell.screen();
  shell.type("\x1a");  // ^Z
  ASSERT_TRUE(shell.shows("Stopped")) << shell.screen();
  // By SIGTSTP, as COMMAND was ("Stopped (signal)" is bash's word for a SIGSTOP).
  EXPECT_EQ(shell.screen().find("Stopped (signal)"), std::string::npos) << shell.screen();
  ASSERT_TRUE(shell.shows("$ ")) << shell.screen();
  shell.type("fg\n");
  // The program runs again, and its process group holds the terminal (the supervisor hands
  // it over before it continues the program).
  ASSERT_TRUE(shell.shows("continued")) << shell.screen();
  shell.type("\x03");  // ^C: to the terminal's foreground process group, the program's
  shell.type("echo status=$?\n");
  ASSERT_TRUE(shell.shows("status=102")) << shell.screen();  // 100 + SIGINT
  EXPECT_NE(read_file(results).find("signal=2\n"), std::string::npos);
  shell.type("exit\n");
  std::filesystem::remove(results);
}

// A job started in the background that reads the terminal stops (SIGTTIN), the shell says
// so, and fg gives it the terminal to read from.
TEST(SuperviseJobControl, ABackgroundReaderStopsAndReadsOnceInTheForeground) {
  KASHIM_REQUIRE(access("/bin/bash", X_OK) == 0, "bash");
  const std::string results = scratch_path("reader");
  Terminal shell({"/bin/bash", "--norc", "--noprofile", "-i"});
  KASHIM_REQUIRE(shell.started(), "a pseudo-terminal (/dev/ptmx)");
  shell.type("PS1='$ '; KASHIM_IDLE=31 " + supervisor_path() + " -- " + SUPERVISE_PROBE_PATH + " " +
             results + " read-line &\n");
  ASSERT_TRUE(shell.shows("$ ")) << shell.screen();
  shell.type("wait; jobs\n");  // `wait` returns when the job stops
  ASSERT_TRUE(shell.shows("Stopped")) << shell.screen();
  ASSERT_TRUE(shell.shows("$ ")) << shell.screen();
  shell.type("fg\n");
  ASSERT_TRUE(shell.shows("read-line")) << shell.screen();  // fg names the job
  shell.type("hello\n");
  shell.type("echo status=$?\n");
  ASSERT_TRUE(shell.shows("status=0")) << shell.screen();
  EXPECT_NE(read_file(results).find("line=hello\n"), std::string::npos) << shell.screen();
  shell.type("exit\n");
  std::filesystem::remove(results);
}

// Two scripts for the tests below: COMMAND, which says it has started and waits (bounded)
// until the reader is done, and a reader of the terminal, which waits until COMMAND runs.
struct TerminalReader {
  std::string started = scratch_path("started"), done = scratch_path("done");
  std::string command = scratch_path("command.sh"), reader = scratch_path("reader.sh");
  TerminalReader() {
    std::filesystem::remove(started);
    std::filesystem::remove(done);
    std::ofstream(command) << "touch " << started << "\n"
                           << "for i in $(seq 300); do [ -e " << done
                           << " ] && exit 0; sleep 0.1; done\n";
    std::ofstream(reader) << "for i in $(seq 300); do [ -e " << started
                          << " ] && break; sleep 0.1; done\n"
                          << "read -r x </dev/tty; echo \"got=$x\"; touch " << done << "\n";
  }
  ~TerminalReader() {
    for (const std::string& file : {started, done, command, reader}) std::filesystem::remove(file);
  }
};

// Types `command_line` (made from the two scripts) at an interactive bash, then a line for
// the reader: the reader reads it, and nothing stops.
void expect_the_reader_keeps_the_terminal(
    const std::function<std::string(const TerminalReader&)>& command_line) {
  KASHIM_REQUIRE(access("/bin/bash", X_OK) == 0, "bash");
  TerminalReader scripts;
  Terminal shell({"/bin/bash", "--norc", "--noprofile", "-i"});
  KASHIM_REQUIRE(shell.started(), "a pseudo-terminal (/dev/ptmx)");
  shell.type("PS1='$ '; " + command_line(scripts) + "\n");
  shell.type("hello\n");
  EXPECT_TRUE(shell.shows("got=hello")) << shell.screen();
  EXPECT_EQ(shell.screen().find("Stopped"), std::string::npos) << shell.screen();
  shell.type("exit\n");
}

// In a pipeline the supervisor shares its job with other programs: it hands the terminal to
// nobody, so that the others (a pager; here a reader of /dev/tty) can still read it.
TEST(SuperviseJobControl, TheOtherProgramsOfAPipelineKeepTheTerminal) {
  expect_the_reader_keeps_the_terminal([](const TerminalReader& scripts) {
    return "KASHIM_IDLE=31 " + supervisor_path() + " -- sh " + scripts.command + " | sh " +
           scripts.reader;
  });
}

// A script without job control starts the supervised program in the background and reads
// the terminal itself: the script keeps it.
TEST(SuperviseJobControl, AScriptThatStartsItInTheBackgroundKeepsTheTerminal) {
  expect_the_reader_keeps_the_terminal([](const TerminalReader& scripts) {
    return "bash -c '" + supervisor_path() + " -- sh " + scripts.command + " & . " +
           scripts.reader + "; wait'";
  });
}

// bash's fg of a job still running gives the job's group (the supervisor's) the terminal and
// sends no SIGCONT: COMMAND, whose group is its own, must still get the terminal when it
// reads. COMMAND reads once the test has seen fg name the job.
TEST(SuperviseJobControl, TheForegroundOfAJobStillRunningGetsTheTerminal) {
  KASHIM_REQUIRE(access("/bin/bash", X_OK) == 0, "bash");
  const std::string started = scratch_path("fg-started"), go = scratch_path("fg-go");
  const std::string command = scratch_path("fg-command.sh");
  std::filesystem::remove(started);
  std::filesystem::remove(go);
  std::ofstream(command) << "touch " << started << "\nfor i in $(seq 300); do [ -e " << go
                         << " ] && break; sleep 0.1; done\nread -r x; echo \"read: $x\"\n";
  Terminal shell({"/bin/bash", "--norc", "--noprofile", "-i"});
  KASHIM_REQUIRE(shell.started(), "a pseudo-terminal (/dev/ptmx)");
  shell.type("PS1='$ '; KASHIM_IDLE=31 " + supervisor_path() + " -- sh " + command + " &\n");
  ASSERT_TRUE(shell.shows("[1] ")) << shell.screen();  // the job started; past the echo
  for (int i = 0; i < 2000 && !std::filesystem::exists(started); ++i) usleep(10000);
  ASSERT_TRUE(std::filesystem::exists(started)) << "COMMAND runs, in the background";
  shell.type("fg\n");
  ASSERT_TRUE(shell.shows("sh " + command)) << shell.screen();  // fg names the job
  std::ofstream(go).put('\n');
  shell.type("hello\n");
  EXPECT_TRUE(shell.shows("read: hello")) << shell.screen();
  EXPECT_EQ(shell.screen().find("Stopped"), std::string::npos) << shell.screen();
  shell.type("exit\n");
  for (const std::string& file : {started, go, command}) std::filesystem::remove(file);
}

}  // namespace
}  // namespace kashim::testing
