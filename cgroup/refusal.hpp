// Why kashim-cgroup stops: one line for the user and an exit status. Thrown, so that the
// owners of whatever was created on the way (a cgroup, loaded programs, pins) undo it as
// the stack unwinds: nothing half-attached is left behind.
#pragma once

#include <stdexcept>
#include <string>

namespace kashim::cgroup {

inline constexpr int kExitRefused = 1;  // privileges, kernel features, the system's state
inline constexpr int kExitUsage = 2;    // bad arguments or configuration

class Refusal : public std::runtime_error {
 public:
  explicit Refusal(const std::string& line, int exit_code = kExitRefused)
      : std::runtime_error(line), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// "<what>: <strerror(error)>" and, for EPERM/EACCES, what it takes.
std::string with_errno(const std::string& what, int error);

}  // namespace kashim::cgroup
