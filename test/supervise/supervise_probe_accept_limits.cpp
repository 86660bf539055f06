// supervise_probe's scenarios about the accepts the supervisor leaves to the kernel or fails:
// a server with a file-system uid of its own, memory made unreachable, more waiting threads
// than the supervisor waits in.
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "supervise_probe.hpp"

namespace supervise_probe {
namespace {

// Waits up to 5 s, looking every millisecond, for `ready`.
template <typename Ready>
bool within_5s(Ready ready) {
  for (int i = 0; i < 5000; ++i) {
    if (ready()) return true;
    poll(nullptr, 0, 1);
  }
  return false;
}

struct Waiter {
  int listener = -1;
  pid_t thread = 0;
  int result = -1;
  int error = 0;
};

void* wait_in_accept(void* argument) {
  Waiter* waiter = static_cast<Waiter*>(argument);
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  waiter->result = accept(waiter->listener, reinterpret_cast<sockaddr*>(&peer), &length);
  waiter->error = errno;
  return nullptr;
}

}  // namespace

// accept-fsuid: a server that dropped its file-system uid and gid to 65534 (setfsuid, as a
// root server does before it serves) accepts a connection: the kernel makes the socket theirs
// (fstat's owner; netfilter's meta skuid). Without privileges the drop fails: "kept".
int scenario_accept_fsuid(const std::vector<std::string>&) {
  const int listener = make_listener();
  client_from(kMatchingPeer, port_of(listener));
  setfsgid(65534);
  setfsuid(65534);
  const bool dropped = setfsuid(static_cast<uid_t>(-1)) == 65534;  // -1: only asks
  put("fsuid", dropped ? "dropped" : "kept");
  const int fd = accept(listener, nullptr, nullptr);
  put_accept("accepted", fd, errno);
  struct stat status {};
  fstat(fd, &status);
  put("owner", std::to_string(status.st_uid) + ":" + std::to_string(status.st_gid));
  put("values_accepted", values_of(fd));
  return 0;
}

// accept-nondumpable: a thread waits in accept (asking for the peer's address) while the
// main thread makes the process non-dumpable (prctl(PR_SET_DUMPABLE, 0), as agents holding
// secrets do), then one client connects. Under the supervisor, first wait until it waits in
// the accept itself ("supervisor_waits_in_accept"), so that the accept is the supervisor's.
// "returned": whether the accept came back within 5 s, with no other client.
int scenario_accept_nondumpable(const std::vector<std::string>&) {
  Waiter waiter;
  waiter.listener = make_listener();
  pthread_t thread;
  if (pthread_create(&thread, nullptr, wait_in_accept, &waiter) != 0) die("pthread_create");
  // The waiting thread's id, as /proc names it: the only other task of this process.
  within_5s([&] {
    DIR* tasks = opendir("/proc/self/task");
    while (const dirent* entry = tasks == nullptr ? nullptr : readdir(tasks)) {
      const pid_t task = static_cast<pid_t>(std::atoi(entry->d_name));
      if (task > 0 && task != getpid()) waiter.thread = task;
    }
    if (tasks != nullptr) closedir(tasks);
    return waiter.thread > 0 && in_accept(task_of_this_process(waiter.thread));
  });
  if (under_supervisor()) {
    put("supervisor_waits_in_accept",
        within_5s([&] { return supervisor_waits_in_accept(waiter.listener); }));
  }
  prctl(PR_SET_DUMPABLE, 0);
  const int client = client_from(kMatchingPeer, port_of(waiter.listener));
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  const bool returned = pthread_timedjoin_np(thread, nullptr, &deadline) == 0;
  put("returned", returned);
  if (returned) put_accept("accepted", waiter.result, waiter.error);
  if (returned && waiter.result >= 0) put("accepted_connects", connects(waiter.result, client));
  return 0;
}

// accept-many-waiting N K: N threads wait in accept at once, K of them in the kernel's own
// (/proc's wchan: inet_csk_accept; the others wait for the supervisor), then N clients
// connect, one for each. "tuned": how many of the connections came with keep-alive on.
int scenario_accept_many_waiting(const std::vector<std::string>& args) {
  const int count = args.size() < 2 ? 0 : std::atoi(args[0].c_str());
  const int in_kernel = args.size() < 2 ? 0 : std::atoi(args[1].c_str());
  std::vector<Waiter> waiters(static_cast<std::size_t>(count));
  std::vector<pthread_t> threads(waiters.size());
  const int listener = make_listener();
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    waiters[i].listener = listener;
    if (pthread_create(&threads[i], nullptr, wait_in_accept, &waiters[i]) != 0) die("pthread");
  }
  // Every thread in accept, each call answered or waited in: each takes exactly one client.
  const bool all_waiting = within_5s([&] {
    int in = 0, kernel = 0;
    DIR* tasks = opendir("/proc/self/task");
    while (const dirent* entry = tasks == nullptr ? nullptr : readdir(tasks)) {
      const pid_t task = static_cast<pid_t>(std::atoi(entry->d_name));
      if (task <= 0 || task == getpid() || !in_accept(task_of_this_process(task))) continue;
      ++in;
      std::ifstream wchan("/proc/self/task/" + std::to_string(task) + "/wchan");
      std::string where;
      kernel += wchan >> where && where == "inet_csk_accept";
    }
    if (tasks != nullptr) closedir(tasks);
    return in == count && kernel == in_kernel;
  });
  put("all_waiting", all_waiting);
  for (int i = 0; i < count; ++i) client_from(kMatchingPeer, port_of(listener));
  int accepted = 0, tuned = 0;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    pthread_join(threads[i], nullptr);
    accepted += waiters[i].result >= 0;
    tuned += waiters[i].result >= 0 && get_int(waiters[i].result, SOL_SOCKET, SO_KEEPALIVE) == 1;
  }
  put("accepted", accepted);
  put("tuned", tuned);
  return 0;
}

}  // namespace supervise_probe
