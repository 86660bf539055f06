#include "run_helpers.hpp"

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
    if (pid.find_first_not_of("0123456789") != std::string::npos ||
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

}  // namespace kashim::testing
