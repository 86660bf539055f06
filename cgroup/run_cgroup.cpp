#include "run_cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

constexpr const char kRunPrefix[] = "kashim-run.";

// The pid a run's cgroup is named after (kashim-run.PID, or kashim-run.PID.N where that name
// was taken), or 0 for any other name.
pid_t pid_of_run(const char* name) {
  constexpr std::size_t length = sizeof kRunPrefix - 1;
  if (std::strncmp(name, kRunPrefix, length) != 0 || name[length] == '\0') return 0;
  char* end = nullptr;
  const long pid = std::strtol(name + length, &end, 10);
  if (*end == '.' && end[1] >= '1' && end[1] <= '9') std::strtol(end + 1, &end, 10);
  return *end == '\0' && pid > 0 && pid <= INT32_MAX ? static_cast<pid_t>(pid) : 0;
}

// A run killed with SIGKILL cannot remove its cgroup (its programs went with its links).
// Such a cgroup is removed by the next run under the same parent when its run is gone
// (no process has its pid; one named after this process was not made by it, which has made
// none yet) and it is over a minute old: a run that has just created its cgroup, in another
// PID namespace sharing this parent, is not robbed of it. rmdir itself refuses a cgroup that
// still has processes or children.
void remove_abandoned_runs(const std::string& parent) {
  DIR* entries = opendir(parent.c_str());
  if (entries == nullptr) return;
  const time_t a_minute_ago = time(nullptr) - 60;
  while (const dirent* entry = readdir(entries)) {
    const pid_t pid = pid_of_run(entry->d_name);
    struct stat status;
    if (pid == 0 || (pid != getpid() && (kill(pid, 0) == 0 || errno != ESRCH)) ||
        fstatat(dirfd(entries), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(status.st_mode) || status.st_mtime > a_minute_ago) {
      continue;
    }
    unlinkat(dirfd(entries), entry->d_name, AT_REMOVEDIR);
  }
  closedir(entries);
}

}  // namespace

RunCgroup::RunCgroup(const std::string& parent)
    : parent_(parent), path_(parent + "/" + kRunPrefix + std::to_string(getpid())) {
  remove_abandoned_runs(parent);
  // The name may be taken, less than a minute ago, by a run of another PID namespace with
  // the same pid (PID 1 of every container), or one killed there: another suffix then.
  const std::string base = path_;
  for (int suffix = 1; mkdir(path_.c_str(), 0755) != 0; ++suffix) {
    if (errno != EEXIST || suffix == 10) {
      throw Refusal(with_errno(
          "cannot create the cgroup " + path_ +
              (errno == EEXIST ? " (it exists: runs killed with SIGKILL left it and " + base +
                                     ".1 to .9; they are removed by the next run once a minute "
                                     "old, or rmdir them)"
                               : std::string(" (it needs write access to the caller's cgroup; "
                                             "systemd: Delegate=yes)")),
          errno));
    }
    path_ = base + "." + std::to_string(suffix);
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
  released_ = true;
  const int moved = empty_and_remove(path_);
  if (access(path_.c_str(), F_OK) == 0) {
    throw Refusal("cannot remove the cgroup " + path_ +
                  ": processes keep entering it, or a cgroup below it cannot be removed");
  }
  return moved;
}

void RunCgroup::release_and_tell(const std::string& command_name) {
  if (const int moved = release(); moved > 0) {
    std::fprintf(stderr,
                 "kashim cgroup: %d process%s left running by %s moved to %s; their new "
                 "connections are no longer tuned\n",
                 moved, moved == 1 ? "" : "es", command_name.c_str(), parent_.c_str());
  }
}

int RunCgroup::empty_and_remove(const std::string& cgroup) {
  int moved = 0;
  // The cgroups COMMAND made below its own (a container runtime, a nested run) first: a
  // cgroup with children cannot be removed.
  if (DIR* entries = opendir(cgroup.c_str())) {
    std::vector<std::string> children;
    while (const dirent* entry = readdir(entries)) {
      if (entry->d_type == DT_DIR && entry->d_name[0] != '.') {
        children.push_back(cgroup + "/" + entry->d_name);
      }
    }
    closedir(entries);
    for (const std::string& child : children) moved += empty_and_remove(child);
  }
  // Bounded: a process forking as fast as it is moved is not waited for forever.
  for (int round = 0; round < 100; ++round) {
    const std::vector<std::string> pids = processes_in(cgroup);
    if (pids.empty() && rmdir(cgroup.c_str()) == 0) break;
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
  return moved;
}

}  // namespace kashim::cgroup
