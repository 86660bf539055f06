#include "programs.hpp"

#include <cstdlib>

#include "cgroup_fixture.hpp"

namespace kashim::testing {

namespace {

constexpr const char kPythonReport[] = R"(
import socket, sys
def report(who, what, s):
    names = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE), (6, socket.TCP_KEEPIDLE),
             (6, socket.TCP_KEEPINTVL), (6, socket.TCP_KEEPCNT), (6, 18)]
    keepalive, idle, intvl, cnt, user_timeout = [s.getsockopt(l, n) for l, n in names]
    print(f"{who}: {what} keepalive={keepalive} idle={idle} intvl={intvl} cnt={cnt} "
          f"user_timeout={user_timeout}", file=sys.stderr, flush=True)
def read_until_end(s):
    while s.recv(4096):
        pass
)";

constexpr const char kPythonClient[] = R"(
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
report("python_client", "connected", c)
read_until_end(c)
)";

constexpr const char kPythonServer[] = R"(
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
l = socket.socket(family)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen()
print(f"python_server: listening on port {l.getsockname()[1]}", file=sys.stderr, flush=True)
a, _ = l.accept()
report("python_server", "accepted", a)
read_until_end(a)
)";

}  // namespace

std::vector<std::string> TestProgram::argv(const std::string& host, const std::string& port) const {
  if (name == "python_client")
    return {"python3", "-c", std::string(kPythonReport) + kPythonClient, host, port};
  if (name == "python_server")
    return {"python3", "-c", std::string(kPythonReport) + kPythonServer, host, port};
  return {path, host, port};
}

TestProgram python_client() {
  return {"python_client", "python3"};
}
TestProgram python_server() {
  return {"python_server", "python3"};
}
TestProgram built_program(const std::string& name) {
  return {name, test_program(name)};
}

int listening_port(const std::string& line) {
  const std::size_t at = line.find("listening on port ");
  return at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 18);
}

}  // namespace kashim::testing
