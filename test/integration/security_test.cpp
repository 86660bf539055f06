// What an unprivileged user or a hostile file system can make of the shim: a setuid
// program's environment, a symbolic link planted at the log file's path, a log file that
// cannot be opened, the log descriptor leaking into children.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "harness.hpp"

namespace kashim::testing {
namespace {

// A directory under /tmp that every user can enter, removed with everything in it.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    char name[] = "/tmp/kashim-security-XXXXXX";
    if (mkdtemp(name) != nullptr) path_ = name;
    chmod(path_.c_str(), 0755);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool exists(const std::string& path) {
  struct stat status;
  return lstat(path.c_str(), &status) == 0;
}

TEST(Privileged, ASetuidProgramIgnoresTheConfigurationAndStaysSilent) {
  KASHIM_REQUIRE(geteuid() == 0, "root (to make a setuid-root helper)");
  KASHIM_REQUIRE(run_command({"setpriv", "--version"}, {}).exit_code == 0, "setpriv");
  // The probe with libkashim.so linked in: LD_PRELOAD itself is ignored for setuid
  // programs, but /etc/ld.so.preload and linking are not.
  ScratchDirectory directory;
  const std::string helper = directory / "probe";
  std::filesystem::copy_file(KASHIM_LINKED_PROBE_PATH, helper);
  ASSERT_EQ(chown(helper.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(helper.c_str(), 04755), 0);
  const std::string log = directory / "kashim.log";
  Environment environment = with(with(kTuned, "KASHIM_LOG", "debug"), "KASHIM_LOG_FILE", log);
  const std::vector<std::string> scenario = {"socket", "v4", "stream"};

  // The premise: run by root, the helper is not privileged and the shim in it works.
  ProcessRun ordinary = run_probe_program({}, helper, scenario, environment);
  expect_clean(ordinary);
  expect_tuned(ordinary);
  EXPECT_NE(read_file(log).find("started in process"), std::string::npos);
  unlink(log.c_str());

  // Run by nobody, it is setuid root: AT_SECURE. Exactly as without the shim, and silent.
  ProcessRun secure =
      run_probe_program({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, helper,
                        scenario, with(environment, "KASHIM_CHECK", "1"));
  ProcessRun without = run_probe(scenario, kTuned, /*preload=*/false);
  expect_clean(secure);
  EXPECT_EQ(secure.value("keepalive"), "0");
  EXPECT_EQ(secure.values, without.values);
  EXPECT_FALSE(exists(log)) << "a privileged process must not create the user's log file";
}

TEST(LogFile, ASymbolicLinkPlantedAtThePathIsNeverFollowed) {
  ScratchDirectory directory;
  const std::string victim = directory / "victim";
  const std::string log = directory / "kashim.log";
  std::ofstream(victim) << "precious\n";
  std::filesystem::create_symlink(victim, log);
  ProcessRun run = run_probe({"connect", "v4", "blocking"},
                             with(with(kTuned, "KASHIM_LOG", "info"), "KASHIM_LOG_FILE", log));
  expect_clean(run);
  expect_tuned(run);
  EXPECT_EQ(read_file(victim), "precious\n");
  EXPECT_TRUE(std::filesystem::is_symlink(log));
}

TEST(LogFile, OneThatCannotBeOpenedCostsTheProgramNothing) {
  ScratchDirectory directory;
  ProcessRun without = run_probe({"errors"}, kTuned, /*preload=*/false);
  for (const std::string& path :
       {directory / "missing/kashim.log", directory / "", std::string("/proc/version")}) {
    ProcessRun run =
        run_probe({"errors"}, with(with(kTuned, "KASHIM_LOG", "debug"), "KASHIM_LOG_FILE", path));
    expect_clean(run);
    EXPECT_EQ(run.values, without.values) << path;
    ProcessRun tuned =
        run_probe({"socket", "v6", "stream"},
                  with(with(kTuned, "KASHIM_LOG", "debug"), "KASHIM_LOG_FILE", path));
    expect_clean(tuned);
    expect_tuned(tuned);
  }
}

// Opened per line, the log descriptor exists only for a moment, but another thread may
// exec in that moment: O_CLOEXEC keeps it out of the new program. strace shows the flags.
TEST(LogFile, OpenedCloseOnExecWithoutFollowingLinks) {
  KASHIM_REQUIRE(run_command({"strace", "-V"}, {}).exit_code == 0, "strace");
  const std::string log = scratch_path("cloexec.log");
  const std::string trace = scratch_path("cloexec.trace");
  ProcessRun run = run_command({"strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, "-E",
                                "LD_PRELOAD=" + preload_value(KASHIM_LIBRARY_PATH),
                                KASHIM_PROBE_PATH, "/dev/null", "connect", "v4", "blocking"},
                               with(with(kTuned, "KASHIM_LOG", "debug"), "KASHIM_LOG_FILE", log));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  int opens = 0;
  for (const std::string& line : lines_of(read_file(trace))) {
    if (line.find('"' + log + '"') == std::string::npos) continue;
    ++opens;
    EXPECT_NE(line.find("O_CLOEXEC"), std::string::npos) << line;
    EXPECT_NE(line.find("O_NOFOLLOW"), std::string::npos) << line;
  }
  EXPECT_GE(opens, 2) << "the start line and the connection's line";
  unlink(log.c_str());
  unlink(trace.c_str());
}

}  // namespace
}  // namespace kashim::testing
