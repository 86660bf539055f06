// One notified system call of the supervised program, and what the supervisor may do with
// it: read the program's memory, duplicate the program's descriptor, check that the call
// is still waiting (the thread may have been interrupted, and its number reused), answer.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace kashim::supervise {

// A descriptor the supervisor owns, closed when it goes out of scope.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

class NotifiedCall {
 public:
  NotifiedCall(int listener, const seccomp_notif& notification)
      : listener_(listener), notification_(notification) {}

  const seccomp_notif& notification() const { return notification_; }
  pid_t thread() const { return static_cast<pid_t>(notification_.pid); }
  std::uint64_t argument(unsigned index) const { return notification_.data.args[index]; }
  int int_argument(unsigned index) const { return static_cast<int>(argument(index)); }

  // Copies `length` bytes at the program's `address`; false when they cannot be read (the
  // kernel would fail the call with EFAULT).
  bool read_memory(std::uint64_t address, void* into, std::size_t length) const;
  // The program's descriptor `fd`, duplicated into the supervisor (pidfd_getfd); invalid
  // when the program has no such descriptor or the kernel refuses.
  OwnedFd duplicate_fd(int fd) const;
  // The call still waits for an answer: what was read belongs to it.
  bool still_waiting() const;

  // Lets the kernel run the call as the program made it.
  void continue_call() const;
  // Answers the call without running it: it returns `value` to the program.
  void answer(std::int64_t value) const;

 private:
  void respond(std::int64_t value, int error, std::uint32_t flags) const;
  int listener_;
  seccomp_notif notification_;
};

}  // namespace kashim::supervise
