// The cgroup of one `kashim cgroup run`: created under the caller's own cgroup, and removed
// when the run ends.
#pragma once

#include <string>

namespace kashim::cgroup {

class RunCgroup {
 public:
  // Creates <parent>/kashim-run.<our pid>, after removing those of runs killed before they
  // could remove their own; Refusal when it cannot.
  explicit RunCgroup(const std::string& parent);
  // Removes it unless release_and_tell() did (an error path: nothing ran in it).
  ~RunCgroup();
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;

  const std::string& path() const { return path_; }
  const std::string& parent() const { return parent_; }
  int fd() const { return fd_; }              // the directory, for attaching programs
  int procs_fd() const { return procs_fd_; }  // its cgroup.procs, open for writing

  // Moves the processes the command left running, in this cgroup or below it, back to the
  // parent cgroup and removes this one and those below, with one line on stderr when it
  // moved any. Refusal when it cannot remove them.
  void release_and_tell(const std::string& command_name);
  // In the process that forked the keeper: the keeper releases the cgroup, not this object.
  void leave_to_keeper() { released_ = true; }

 private:
  void close_and_remove();
  int release();  // how many processes were moved
  int empty_and_remove(const std::string& cgroup);

  std::string parent_;
  std::string path_;
  int fd_ = -1;
  int procs_fd_ = -1;
  bool released_ = false;
};

}  // namespace kashim::cgroup
