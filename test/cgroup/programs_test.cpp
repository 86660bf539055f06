// Python, static C and Go clients and servers under `kashim cgroup run`: the values they read
// back from the kernel are the configured ones, their peer outside the cgroup is untouched,
// and the same programs run outside the cgroup keep their own values.
#include <gtest/gtest.h>

#include "cgroup_fixture.hpp"
#include "programs.hpp"

namespace kashim::testing {
namespace {

struct Outcome {
  std::map<std::string, int> inside;   // what the program read back
  std::map<std::string, int> outside;  // the test's end of the connection
  int exit_code = -1;
  std::string err;
};

Outcome run_client(const TestProgram& program, const std::string& host, bool in_cgroup) {
  Listener listener(host);
  const auto argv = program.argv(host, listener.port_text());
  Child child(in_cgroup ? cgroup_run(argv) : argv, kTuned);
  Outcome outcome;
  const int accepted = listener.accept_one();
  if (accepted < 0) {
    ADD_FAILURE() << program.name << " did not connect";
  } else {
    outcome.inside = values_in(child.err_line());
    outcome.outside = socket_values(accepted);
    close(accepted);  // the client reads the end of the stream and exits 0
  }
  outcome.exit_code = child.wait();
  outcome.err = child.rest_of_err();
  return outcome;
}

Outcome run_server(const TestProgram& program, const std::string& host, bool in_cgroup) {
  const auto argv = program.argv(host, "0");
  Child child(in_cgroup ? cgroup_run(argv) : argv, kTuned);
  Outcome outcome;
  const int port = listening_port(child.err_line());
  if (port == 0) {
    ADD_FAILURE() << program.name << " did not listen";
  } else {
    const int fd = connect_to(host, port);
    outcome.inside = values_in(child.err_line());
    outcome.outside = socket_values(fd);
    close(fd);
  }
  outcome.exit_code = child.wait();
  outcome.err = child.rest_of_err();
  return outcome;
}

// Go switches keep-alive on by itself after connect and accept: 15 s idle and interval.
std::map<std::string, int> go_own_values() {
  auto values = untouched_values();
  values["keepalive"] = 1;
  values["idle"] = 15;
  values["intvl"] = 15;
  return values;
}

class CgroupPrograms : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    KASHIM_REQUIRE_CGROUP_ROUTE();
    if (GetParam() == "::1") KASHIM_REQUIRE_IPV6();
  }
  const std::string& host() const { return GetParam(); }
};

std::vector<TestProgram> clients() {
  return {python_client(), built_program("static_client"), built_program("go_client")};
}
std::vector<TestProgram> servers() {
  return {python_server(), built_program("static_server"), built_program("go_server")};
}

TEST_P(CgroupPrograms, ClientsInTheCgroupGetTheConfiguredValues) {
  for (const TestProgram& program : clients()) {
    SCOPED_TRACE(program.name);
    KASHIM_REQUIRE_PROGRAM(program.path);
    const Outcome outcome = run_client(program, host(), true);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    EXPECT_EQ(describe(outcome.inside), describe(tuned_values()));
    EXPECT_EQ(describe(outcome.outside), describe(untouched_values()));
  }
}

TEST_P(CgroupPrograms, ServersInTheCgroupGetTheConfiguredValues) {
  for (const TestProgram& program : servers()) {
    SCOPED_TRACE(program.name);
    KASHIM_REQUIRE_PROGRAM(program.path);
    const Outcome outcome = run_server(program, host(), true);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    EXPECT_EQ(describe(outcome.inside), describe(tuned_values()));
    EXPECT_EQ(describe(outcome.outside), describe(untouched_values()));
  }
}

TEST_P(CgroupPrograms, TheSameProgramsOutsideTheCgroupKeepTheirOwnValues) {
  for (const TestProgram& program : clients()) {
    SCOPED_TRACE(program.name);
    KASHIM_REQUIRE_PROGRAM(program.path);
    const Outcome outcome = run_client(program, host(), false);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    const bool go = program.name.rfind("go_", 0) == 0;
    EXPECT_EQ(describe(outcome.inside), describe(go ? go_own_values() : untouched_values()));
  }
  for (const TestProgram& program : servers()) {
    SCOPED_TRACE(program.name);
    KASHIM_REQUIRE_PROGRAM(program.path);
    const Outcome outcome = run_server(program, host(), false);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    const bool go = program.name.rfind("go_", 0) == 0;
    EXPECT_EQ(describe(outcome.inside), describe(go ? go_own_values() : untouched_values()));
  }
}

// Sockets created and connected by io_uring (in the process, and by its worker threads with
// IOSQE_ASYNC) belong to the cgroup too: no socket() or connect() system call is needed.
TEST(CgroupIoUring, SocketsCreatedThroughIoUringAreTuned) {
  KASHIM_REQUIRE_CGROUP_ROUTE();
  for (const std::string mode : {"inline", "async"}) {
    SCOPED_TRACE(mode);
    Listener listener("127.0.0.1");
    Child child(cgroup_run({KASHIM_URING_PROBE, "127.0.0.1", listener.port_text(), mode}), kTuned);
    const int accepted = listener.accept_one(5000);
    const std::string line = child.out_line(accepted >= 0 ? 20000 : 0);
    if (accepted >= 0) close(accepted);
    const int status = child.wait();
    KASHIM_REQUIRE(status != 77, "io_uring with IORING_OP_SOCKET (Linux 5.19)");
    EXPECT_EQ(status, 0) << child.rest_of_err();
    EXPECT_EQ(describe(values_in(line)), describe(tuned_values()));
  }
}

INSTANTIATE_TEST_SUITE_P(Loopback, CgroupPrograms, ::testing::Values("127.0.0.1", "::1"),
                         [](const auto& info) { return info.param == "::1" ? "IPv6" : "IPv4"; });

}  // namespace
}  // namespace kashim::testing
