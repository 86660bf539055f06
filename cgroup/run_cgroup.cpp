#include "run_cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "refusal.hpp"

namespace kashim::cgroup {

namespace {

std::vector<std::string> processes_in(const std::string& cgroup) {
  std::ifstream procs(cgroup + "/cgroup.procs");
  std::vector<std::string> pids;
  for (std::string pid; std::getline(procs, pid);) {
    if (!pid.empty()) pids.push_back(pid);
  }
  return pids;
}

void pause_briefly() {
  const timespec pause = {0, 10 * 1000 * 1000};
  nanosleep(&pause, nullptr);
}

}  // namespace

RunCgroup::RunCgroup(const std::string& parent)
    : parent_(parent), path_(parent + "/kashim-run." + std::to_string(getpid())) {
  if (mkdir(path_.c_str(), 0755) != 0) {
    throw Refusal(with_errno("cannot create the cgroup " + path_ +
                                 " (it needs write access to the caller's cgroup; systemd: "
                                 "Delegate=yes)",
                             errno));
  }
  fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  procs_fd_ = open((path_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0 || procs_fd_ < 0) {
    const int error = errno;
    close_and_remove();  // nothing else was done
    throw Refusal(with_errno("cannot open the cgroup " + path_, error));
  }
}

RunCgroup::~RunCgroup() {
  close_and_remove();
}

void RunCgroup::close_and_remove() {
  if (procs_fd_ >= 0) close(procs_fd_);
  if (fd_ >= 0) close(fd_);
  procs_fd_ = fd_ = -1;
  if (!released_) rmdir(path_.c_str());
  released_ = true;
}

int RunCgroup::release() {
  int moved = 0;
  // Bounded: a process forking as fast as it is moved is not waited for forever.
  for (int round = 0; round < 100; ++round) {
    const std::vector<std::string> pids = processes_in(path_);
    if (pids.empty() && rmdir(path_.c_str()) == 0) break;
    if (pids.empty()) {
      pause_briefly();  // the last exiting process is still being taken out (EBUSY)
      continue;
    }
    std::ofstream parent_procs(parent_ + "/cgroup.procs");
    for (const std::string& pid : pids) {
      parent_procs << pid << std::endl;  // one write per pid, as the kernel wants
      if (parent_procs) ++moved;
      parent_procs.clear();
    }
  }
  released_ = true;
  if (access(path_.c_str(), F_OK) == 0) {
    throw Refusal("cannot remove the cgroup " + path_ + ": processes keep entering it");
  }
  return moved;
}

}  // namespace kashim::cgroup
