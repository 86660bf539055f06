// A program started by a test and talked to while it runs: its stdin, stdout and stderr are
// pipes, read a line at a time with a deadline.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "harness.hpp"

namespace kashim::testing {

class Child {
 public:
  // `environment` is all the program gets, beside PATH.
  Child(const std::vector<std::string>& argv, const Environment& environment);
  ~Child();  // SIGKILL if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // The next line of stdout (or stderr), without its newline; "" at the end or after
  // `timeout_ms` (the test then fails on the missing values, not by hanging).
  std::string out_line(int timeout_ms = 20000) { return line(&out_, out_fd_, timeout_ms); }
  std::string err_line(int timeout_ms = 20000) { return line(&err_, err_fd_, timeout_ms); }
  void write_in(const std::string& text);
  void close_in();
  // Waits for the exit: the status, or 128 + signal. Collects the rest of stderr.
  int wait();
  const std::string& rest_of_err() const { return err_; }
  // Reads stderr to its end: true when every process holding it (the command, and a
  // kashim-cgroup keeper) has closed it within `timeout_ms`.
  bool err_closed(int timeout_ms = 20000);

 private:
  std::string line(std::string* buffer, int fd, int timeout_ms);

  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
  int status_ = -1;
};

// "event keepalive=1 idle=31 ..." -> {keepalive: 1, idle: 31, ...}
std::map<std::string, int> values_in(const std::string& line);

}  // namespace kashim::testing
