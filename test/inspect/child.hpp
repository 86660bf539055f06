// A program the tests keep running while kashim inspects and tunes it from outside: its
// stdin is ours to write, and its stdout or stderr is ours to read line by line, so every
// step waits for the program's own answer rather than for time to pass.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kashim::testing {

class Child {
 public:
  enum class Reads { kStdout, kStderr };
  // `argv` runs with PATH as its only variable; the other stream goes to /dev/null.
  explicit Child(const std::vector<std::string>& argv, Reads reads = Reads::kStdout);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills it if still running

  pid_t pid() const { return pid_; }
  // The next line it writes, without the newline; "" at end of file or after 20 s.
  std::string read_line();
  // Writes `line` and a newline to its stdin.
  void send(const std::string& line);
  // send() then read_line(): one command of inspect_target.
  std::string ask(const std::string& line);
  // Kills it and waits until it is gone.
  void kill_and_wait();

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffered_;
};

// The descriptor number in an "fd N" answer, or -1.
int fd_in(const std::string& answer);
// The port in an "fd N port P" answer, or -1.
int port_in(const std::string& answer);

}  // namespace kashim::testing
