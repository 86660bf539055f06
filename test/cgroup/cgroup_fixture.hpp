// What the tests of `kashim cgroup` share: the programs' paths, the prerequisite check, a
// listener outside the cgroup, and the keep-alive values of a socket.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "child.hpp"
#include "harness.hpp"

namespace kashim::testing {

inline const std::string kCgroupTool = KASHIM_CGROUP_TOOL;
inline const std::string kCgroupProbe = KASHIM_CGROUP_PROBE;
inline const std::string kProgramsDir = KASHIM_PROGRAMS_DIR;

// kashim-cgroup was built with its BPF programs (not the "built without BPF support" stub).
bool cgroup_route_built();

// Root and a kashim-cgroup with BPF support: skipped without them, failed under CI=true.
#define KASHIM_REQUIRE_CGROUP_ROUTE()                                                        \
  do {                                                                                       \
    KASHIM_REQUIRE(geteuid() == 0, "root (kashim cgroup loads BPF programs)");               \
    KASHIM_REQUIRE(::kashim::testing::cgroup_route_built(),                                  \
                   "BPF support in kashim-cgroup (clang, libbpf-dev and bpftool at build)"); \
  } while (0)

// A test program, or "" when it was not built (the Go ones need go).
std::string test_program(const std::string& name);
#define KASHIM_REQUIRE_PROGRAM(path) \
  KASHIM_REQUIRE(!(path).empty(), "a test program (Go: golang-go)")

// `kashim-cgroup cgroup run -- command...`
std::vector<std::string> cgroup_run(const std::vector<std::string>& command);

// A TCP listener of the test process itself: outside every cgroup under test.
class Listener {
 public:
  explicit Listener(const std::string& address);  // numeric IPv4 or IPv6, port 0
  ~Listener();
  int port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }
  int accept_one(int timeout_ms = 20000);  // -1 on timeout

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port nothing is bound to on `address` just now (the kernel's choice for port 0).
int free_port(const std::string& address);

// A connection from the test process to ADDRESS:PORT, from SOURCE (port 0 unless given).
int connect_to(const std::string& address, int port, const std::string& source = "",
               int source_port = 0);

// keepalive/idle/intvl/cnt/user_timeout of a socket, read with getsockopt.
std::map<std::string, int> socket_values(int fd);
// What a socket nobody tuned has: the kernel's defaults.
std::map<std::string, int> untouched_values();
// The values kTuned sets.
std::map<std::string, int> tuned_values();
std::string describe(const std::map<std::string, int>& values);

// The cgroup2 mount (/proc/self/mountinfo).
std::string cgroup2_mount_point();

// Whether `path` names anything.
inline bool exists(const std::string& path) {
  struct stat status;
  return stat(path.c_str(), &status) == 0;
}

}  // namespace kashim::testing
