#include "target.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)  // Linux 5.14: install and answer in one step
#endif

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9: a pidfd for one thread rather than a process
#endif

namespace kashim::supervise {

namespace {

// The process a thread belongs to, from /proc: for kernels before 6.9, whose pidfd_open
// accepts only a process's main thread.
pid_t process_of(pid_t thread) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(thread));
  FILE* status = std::fopen(path, "re");
  if (status == nullptr) return -1;
  char line[256];
  pid_t process = -1;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "Tgid: %d", &process) == 1) break;
  }
  std::fclose(status);
  return process;
}

}  // namespace

UniqueFd open_thread_pidfd(pid_t thread, bool* of_process) {
  // The thread's own pidfd reaches the descriptor table it uses, even one it unshared.
  int fd = static_cast<int>(syscall(SYS_pidfd_open, thread, PIDFD_THREAD));
  if (fd < 0 && errno == EINVAL) {
    pid_t process = process_of(thread);
    if (process > 0) fd = static_cast<int>(syscall(SYS_pidfd_open, process, 0));
    if (of_process != nullptr) *of_process = process != thread;
  }
  return UniqueFd(fd);
}

bool NotifiedCall::read_memory(std::uint64_t address, void* into, std::size_t length) const {
  if (address == 0) {  // the kernel's copy faults on NULL; errno must say so, not be stale
    errno = EFAULT;
    return false;
  }
  iovec local{into, length};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), length};
  const ssize_t copied = process_vm_readv(thread(), &local, 1, &remote, 1, 0);
  if (copied >= 0 && copied < static_cast<ssize_t>(length)) errno = EFAULT;  // partly unmapped
  return copied == static_cast<ssize_t>(length);
}

bool NotifiedCall::write_memory(std::uint64_t address, const void* from, std::size_t length) const {
  if (address == 0) {
    errno = EFAULT;
    return false;
  }
  iovec local{const_cast<void*>(from), length};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), length};
  const ssize_t copied = process_vm_writev(thread(), &local, 1, &remote, 1, 0);
  if (copied >= 0 && copied < static_cast<ssize_t>(length)) errno = EFAULT;
  return copied == static_cast<ssize_t>(length);
}

UniqueFd NotifiedCall::duplicate_fd(int fd) const {
  if (fd < 0) return UniqueFd();
  bool of_process = false;
  UniqueFd pidfd = open_thread_pidfd(thread(), &of_process);
  if (!pidfd) return UniqueFd();
  UniqueFd duplicate(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (of_process && duplicate && !same_file_as_threads(duplicate.get(), fd)) {
    return UniqueFd();  // the process's table, not the one this thread unshared: untouched
  }
  return duplicate;
}

// Before Linux 6.9 a pidfd reaches only the process's own descriptor table; a thread that
// unshared its own (unshare(CLONE_FILES), clone without CLONE_FILES) may hold something else
// under the same number. Its /proc/TID/fd link is its own table's: the same file, or not.
bool NotifiedCall::same_file_as_threads(int duplicate, int fd) const {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fd/%d", static_cast<int>(thread()), fd);
  struct stat theirs, ours;
  return stat(path, &theirs) == 0 && fstat(duplicate, &ours) == 0 && theirs.st_dev == ours.st_dev &&
         theirs.st_ino == ours.st_ino;
}

bool NotifiedCall::still_waiting() const {
  std::uint64_t id = notification_.id;
  return ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

void NotifiedCall::continue_call() const {
  respond(0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

void NotifiedCall::answer(std::int64_t value) const {
  respond(value, 0, 0);
}

void NotifiedCall::fail(int error) const {
  respond(0, -error, 0);
}

int NotifiedCall::install_and_answer(int fd, bool close_on_exec) const {
  seccomp_notif_addfd request;
  std::memset(&request, 0, sizeof request);
  request.id = notification_.id;
  request.flags = SECCOMP_ADDFD_FLAG_SEND;
  request.srcfd = static_cast<std::uint32_t>(fd);
  request.newfd_flags = close_on_exec ? O_CLOEXEC : 0;
  int result;
  // EINTR: interrupted before the program's thread took the descriptor, which the kernel then
  // withdraws (had it been taken, the number would have come back): asking again is safe.
  while ((result = ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &request)) < 0 && errno == EINTR) {
  }
  return result >= 0 ? result : -errno;
}

bool install_and_answer_supported(int listener) {
  // A request for a notification that does not exist: a kernel that knows the flag looks for
  // it (ENOENT); an older one refuses the flag (EINVAL), and before 5.9 the request itself.
  seccomp_notif_addfd request;
  std::memset(&request, 0, sizeof request);
  request.id = 0;
  request.flags = SECCOMP_ADDFD_FLAG_SEND;
  request.srcfd = static_cast<std::uint32_t>(listener);
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &request) < 0 && errno == ENOENT;
}

bool wake_on_the_callers_cpu(int listener) {
  // <linux/seccomp.h> of older kernels lacks them; the values are the kernel's ABI.
  constexpr unsigned long kSetFlags = _IOW('!', 4, __u64);  // SECCOMP_IOCTL_NOTIF_SET_FLAGS
  constexpr unsigned long kSyncWakeUp = 1;                  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
  return ioctl(listener, kSetFlags, kSyncWakeUp) == 0;
}

namespace {

// The file-system uid and gid (the fourth of the "Uid:" and "Gid:" fields) of a status file.
bool read_file_credentials(const char* path, unsigned* uid, unsigned* gid) {
  FILE* status = std::fopen(path, "re");
  if (status == nullptr) return false;
  char line[256];
  int found = 0;
  unsigned ignored[3];
  while (found < 2 && std::fgets(line, sizeof line, status) != nullptr) {
    found += std::sscanf(line, "Uid: %u %u %u %u", &ignored[0], &ignored[1], &ignored[2], uid) == 4;
    found += std::sscanf(line, "Gid: %u %u %u %u", &ignored[0], &ignored[1], &ignored[2], gid) == 4;
  }
  std::fclose(status);
  return found == 2;
}

}  // namespace

bool has_supervisors_file_credentials(pid_t thread) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(thread));
  // The supervisor's own never change: read once, rather than at every accept.
  struct Credentials {
    bool known = false;
    unsigned uid = 0, gid = 0;
  };
  static const Credentials own = [] {
    Credentials credentials;
    credentials.known =
        read_file_credentials("/proc/self/status", &credentials.uid, &credentials.gid);
    return credentials;
  }();
  unsigned uid = 0, gid = 0;
  return own.known && read_file_credentials(path, &uid, &gid) && uid == own.uid && gid == own.gid;
}

bool has_descriptor_room(pid_t thread) {
  rlimit limit{};
  if (prlimit(thread, RLIMIT_NOFILE, nullptr, &limit) != 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fd", static_cast<int>(thread));
  // Linux 6.2 gives the number of open descriptors as the directory's size; before, count.
  struct stat directory_status;
  if (stat(path, &directory_status) != 0) return false;
  std::uint64_t open_count = static_cast<std::uint64_t>(directory_status.st_size);
  if (open_count == 0) {
    DIR* directory = opendir(path);
    if (directory == nullptr) return false;
    while (const dirent* entry = readdir(directory)) open_count += entry->d_name[0] != '.';
    closedir(directory);
  }
  // Fewer open than the limit: some number below it is free, and the kernel takes the lowest.
  return limit.rlim_cur == RLIM_INFINITY || open_count < limit.rlim_cur;
}

void NotifiedCall::respond(std::int64_t value, int error, std::uint32_t flags) const {
  seccomp_notif_resp response;
  std::memset(&response, 0, sizeof response);
  response.id = notification_.id;
  response.val = value;
  response.error = error;
  response.flags = flags;
  // ENOENT: the call is gone (the thread was interrupted or died); nothing is owed to it.
  while (ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, &response) != 0 && errno == EINTR) {
  }
}

}  // namespace kashim::supervise
