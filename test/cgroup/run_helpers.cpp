#include "run_helpers.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "cgroup_fixture.hpp"

namespace kashim::testing {

std::string cgroup_of(const std::string& pid) {
  for (const std::string& line : lines_of(read_file("/proc/" + pid + "/cgroup"))) {
    if (line.rfind("0::", 0) == 0) return cgroup2_mount_point() + line.substr(3);
  }
  return "";
}

pid_t keeper_of(pid_t command) {
  const std::string wanted = "Pid:\t" + std::to_string(command) + "\n";
  for (const auto& process : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = process.path().filename();
    // Not COMMAND itself: moved into the cgroup but not yet exec'd, it is still kashim-cgroup
    // holding a pidfd of its own, and it has a lower pid than its keeper.
    if (pid.find_first_not_of("0123456789") != std::string::npos ||
        pid == std::to_string(command) ||
        read_file("/proc/" + pid + "/comm") != "kashim-cgroup\n") {
      continue;
    }
    std::error_code ignored;
    for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fdinfo", ignored)) {
      if (read_file(fd.path()).find(wanted) != std::string::npos) return std::stoi(pid);
    }
  }
  return 0;
}

std::pair<pid_t, int> keeper_and_pidfd_of(pid_t command) {
  const std::string wanted = "Pid:\t" + std::to_string(command) + "\n";
  const pid_t keeper = keeper_of(command);
  std::error_code ignored;
  const std::string fdinfo = "/proc/" + std::to_string(keeper) + "/fdinfo";
  for (const auto& fd : std::filesystem::directory_iterator(fdinfo, ignored)) {
    if (read_file(fd.path()).find(wanted) != std::string::npos) {
      return {keeper, std::stoi(fd.path().filename())};
    }
  }
  return {0, -1};
}

TestCgroup::TestCgroup()
    : path_(cgroup_of(std::to_string(getpid())) + "/kashim-test." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
            std::to_string(getpid())) {
  EXPECT_EQ(mkdir(path_.c_str(), 0755), 0) << path_;
}

TestCgroup::~TestCgroup() {
  for (int i = 0; i < 2000 && rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i) {
    usleep(10000);  // the last process of a PID namespace is still being taken out
  }
  EXPECT_FALSE(exists(path_)) << path_ << " is left";
}

std::vector<std::string> TestCgroup::inside(const std::vector<std::string>& argv) const {
  std::vector<std::string> wrapped = {"sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                                      path_ + "/cgroup.procs"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

}  // namespace kashim::testing
