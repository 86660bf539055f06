// The programs run inside the cgroup: Python, static C and Go clients and servers, all
// reporting on stderr as test/programs does ("NAME: connected keepalive=K idle=I ...",
// "NAME: listening on port P", "NAME: accepted keepalive=...").
#pragma once

#include <string>
#include <vector>

namespace kashim::testing {

struct TestProgram {
  std::string name;  // for messages
  std::string path;  // "" when not built
  std::vector<std::string> argv(const std::string& host, const std::string& port) const;
};

// python3 running a script in the same report format.
TestProgram python_client();
TestProgram python_server();
// From ${PROJECT_BINARY_DIR}/test/programs.
TestProgram built_program(const std::string& name);

// The port in "NAME: listening on port P", or 0.
int listening_port(const std::string& line);

}  // namespace kashim::testing
