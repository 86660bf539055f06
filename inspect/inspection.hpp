// One process's TCP sockets with everything kashim can learn about them: sock_diag's view
// (state, addresses, timer) joined to the process's descriptors through the inode, and the
// keep-alive values read from a pidfd_getfd duplicate of each.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernel_values.hpp"
#include "sock_diag.hpp"
#include "socket_decision.hpp"
#include "unique_fd.hpp"

namespace kashim::inspect {

struct SocketView {
  int fd = -1;
  DiagSocket diag;           // from sock_diag, or from the duplicate when it had no entry
  bool timer_known = false;  // sock_diag listed it (the timer comes from nowhere else)
  bool reused = false;       // the number held another file when duplicated: not read
  std::string timer_note;    // why the timer is unknown for a connection sock_diag missed
  Side side = Side::kUnconnected;
  KeepaliveValues values;  // values.read false: no duplicate
};

enum class ProcessProblem {
  kNone,
  kNoSuchProcess,
  kExited,        // it exited while being inspected
  kNotPermitted,  // its descriptors cannot be listed at all
  kNoDuplicates,  // listed, but pidfd_getfd refused: sock_diag's view only
};

struct ProcessView {
  pid_t pid = 0;
  std::string comm;
  std::vector<SocketView> sockets;  // TCP only, in descriptor order
  ProcessProblem problem = ProcessProblem::kNone;
  int error = 0;     // the errno behind `problem`
  std::string note;  // something else worth one line (another network namespace)
  // kNoDuplicates because it is in other net_cls/net_prio cgroups (net_cgroups.hpp): which.
  std::string net_cgroup;
  UniqueFd pidfd;  // kept, so that `apply` reaches the same process and no successor
  // The main thread has exited: `thread` is the live thread whose descriptor table (shared
  // by all of them) was read, and `thread_pidfd` reaches it (PIDFD_THREAD).
  pid_t thread = 0;
  UniqueFd thread_pidfd;
  // Threads with a descriptor table of their own holding TCP sockets the process's table
  // does not, which are not read: the thread and its count of them (proc_fds.hpp).
  std::vector<std::pair<pid_t, int>> own_tables;
  // The program's names (proc_fds.hpp), by which its configuration is chosen.
  std::string executable, invoked;
  // The configuration for this program (KASHIM_PROGRAMS, [program] sections); nullptr: the
  // command's own.
  const Config* config = nullptr;

  // The pidfd pidfd_getfd duplicates through.
  int files_pidfd() const { return thread != 0 ? thread_pidfd.get() : pidfd.get(); }
};

// sock_diag dumps, one per network namespace, made when first needed.
class DiagCache {
 public:
  // The table for the namespace of the process /proc directory `proc_dir` describes; `note`
  // says why it is empty when it is.
  const DiagTable& table_for(const std::string& proc_dir, std::string* note);
  // The table for namespace `netns` (inode), which `netns_fd` refers to.
  const DiagTable& table_in(int netns_fd, ino_t netns, std::string* note);
  // The listeners of a table this cache made, whichever process holds them.
  const std::vector<const DiagSocket*>& listeners_in(const DiagTable& table);

 private:
  std::map<ino_t, DiagTable> tables_;
  std::map<ino_t, std::string> notes_;
  std::map<const DiagTable*, std::vector<const DiagSocket*>> listeners_;
};

// `between` runs between the listing of the descriptors and their duplication: for tests, to
// stage what a running program may do there.
ProcessView inspect_process(pid_t pid, DiagCache& cache,
                            const std::function<void()>& between = nullptr);

// "thread 123 has a descriptor table of its own holding 2 sockets, not read (...)", one per
// such table.
std::vector<std::string> own_table_lines(const ProcessView& process);

// One line saying what went wrong, for a process whose problem is not kNone.
std::string problem_text(const ProcessView& process);

}  // namespace kashim::inspect
