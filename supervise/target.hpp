// One notified system call of the supervised program, and what the supervisor may do with
// it: read the program's memory, duplicate the program's descriptor, check that the call
// is still waiting (the thread may have been interrupted, and its number reused), answer.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "unique_fd.hpp"

namespace kashim::supervise {

// A pidfd of `thread` (PIDFD_THREAD, Linux 6.9: readable once the thread has exited), or
// before 6.9 of its process (readable once the whole process has exited; `of_process` then
// says so); invalid when the thread is gone.
UniqueFd open_thread_pidfd(pid_t thread, bool* of_process = nullptr);

class NotifiedCall {
 public:
  NotifiedCall(int listener, const seccomp_notif& notification)
      : listener_(listener), notification_(notification) {}

  const seccomp_notif& notification() const { return notification_; }
  pid_t thread() const { return static_cast<pid_t>(notification_.pid); }
  std::uint64_t argument(unsigned index) const { return notification_.data.args[index]; }
  int int_argument(unsigned index) const { return static_cast<int>(argument(index)); }

  // Copies `length` bytes at the program's `address`; false when they cannot be read, with
  // errno EFAULT when the kernel would fail the call with EFAULT (ESRCH, EPERM: the
  // program's memory is out of reach).
  bool read_memory(std::uint64_t address, void* into, std::size_t length) const;
  // Copies `length` bytes to the program's `address`, as the kernel copies a call's results;
  // false when it cannot, with errno as read_memory() sets it.
  bool write_memory(std::uint64_t address, const void* from, std::size_t length) const;
  // The program's descriptor `fd`, duplicated into the supervisor (pidfd_getfd); invalid
  // when the program has no such descriptor or the kernel refuses.
  UniqueFd duplicate_fd(int fd) const;
  // The call still waits for an answer: what was read belongs to it.
  bool still_waiting() const;

  // Lets the kernel run the call as the program made it.
  void continue_call() const;
  // Answers the call without running it: it returns `value` to the program.
  void answer(std::int64_t value) const;
  // Answers the call as failed with `error` (errno in the program).
  void fail(int error) const;
  // Installs `fd` (a descriptor of the supervisor) in the program and answers the call with
  // its number, in one step (SECCOMP_ADDFD_FLAG_SEND, Linux 5.14): the number, or -errno
  // (ENOENT or ESRCH: the call is gone; EMFILE: the program has no free descriptor). Nothing
  // is installed when it fails.
  int install_and_answer(int fd, bool close_on_exec) const;

 private:
  void respond(std::int64_t value, int error, std::uint32_t flags) const;
  bool same_file_as_threads(int duplicate, int fd) const;
  int listener_;
  seccomp_notif notification_;
};

// Whether this kernel installs a descriptor and answers in one step (SECCOMP_ADDFD_FLAG_SEND).
// Asked of `listener`, the notification descriptor, while no notification is pending.
bool install_and_answer_supported(int listener);

// Asks the kernel to wake the supervisor on the CPU of the thread that made the call, and
// that thread on the supervisor's when it answers (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux
// 6.6): the two wait for each other, so each round trip is a switch on one CPU rather than a
// wake-up across CPUs. Whether the kernel took it; older kernels refuse it, and then calls
// take the ordinary wake-ups, as before.
bool wake_on_the_callers_cpu(int listener);

// Whether `thread` has the supervisor's own file-system uid and gid (/proc/TID/status), so
// that a socket the supervisor creates for it is owned as its own would be (fstat, netfilter's
// meta skuid). False when it cannot be told.
bool has_supervisors_file_credentials(pid_t thread);

// Whether the process of `thread` can get one more descriptor: fewer open than its
// RLIMIT_NOFILE, so that some number below the limit is free. False when it cannot be told.
bool has_descriptor_room(pid_t thread);

}  // namespace kashim::supervise
