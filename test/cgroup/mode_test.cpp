// Force and fallback mode in the kernel. Force: the configured values win over the
// program's own setsockopt, whether it comes before connect (sock_ops then overrides it) or
// after (Go's 15 s: the cgroup/setsockopt program rewrites it). Fallback: whatever the
// program sets itself stands; the rest is configured.
#include <gtest/gtest.h>

#include "cgroup_fixture.hpp"
#include "programs.hpp"

namespace kashim::testing {
namespace {

class CgroupModes : public ::testing::Test {
 protected:
  void SetUp() override { KASHIM_REQUIRE_CGROUP_ROUTE(); }
};

Environment in_mode(const char* mode) {
  return with(kTuned, "KASHIM_MODE", mode);
}

// cgroup_probe connect with its own setsockopt calls: what it reads back, and its status.
std::map<std::string, int> probe_connect(const Environment& environment,
                                         const std::vector<std::string>& options,
                                         int* exit_code = nullptr) {
  Listener listener("127.0.0.1");
  std::vector<std::string> argv = {kCgroupProbe, "connect", "127.0.0.1", listener.port_text()};
  argv.insert(argv.end(), options.begin(), options.end());
  Child child(cgroup_run(argv), environment);
  const int accepted = listener.accept_one();
  auto values = values_in(child.out_line());
  if (accepted >= 0) close(accepted);
  const int status = child.wait();
  if (exit_code != nullptr) {
    *exit_code = status;
  } else {
    EXPECT_EQ(status, 0) << child.rest_of_err();
  }
  return values;
}

std::map<std::string, int> go_client_values(const Environment& environment) {
  const std::string go_client = test_program("go_client");
  Listener listener("127.0.0.1");
  Child child(cgroup_run({go_client, "127.0.0.1", listener.port_text()}), environment);
  const int accepted = listener.accept_one();
  auto values = values_in(child.err_line());
  if (accepted >= 0) close(accepted);
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  return values;
}

TEST_F(CgroupModes, ForceWinsOverGosOwnValuesSetAfterConnect) {
  KASHIM_REQUIRE_PROGRAM(test_program("go_client"));
  EXPECT_EQ(describe(go_client_values(in_mode("force"))), describe(tuned_values()));
}

TEST_F(CgroupModes, FallbackKeepsGosOwnValuesAndConfiguresTheRest) {
  KASHIM_REQUIRE_PROGRAM(test_program("go_client"));
  auto expected = tuned_values();
  expected["idle"] = 15;  // Go's, set after connect
  expected["intvl"] = 15;
  EXPECT_EQ(describe(go_client_values(in_mode("fallback"))), describe(expected));
}

TEST_F(CgroupModes, ForceOverridesValuesSetBeforeConnect) {
  const auto values = probe_connect(in_mode("force"), {"--before", "keepalive=0,idle=5,cnt=9"});
  EXPECT_EQ(describe(values), describe(tuned_values()));
}

TEST_F(CgroupModes, FallbackKeepsValuesSetBeforeConnect) {
  const auto values = probe_connect(in_mode("fallback"), {"--before", "idle=5,cnt=9"});
  auto expected = tuned_values();
  expected["idle"] = 5;
  expected["cnt"] = 9;
  EXPECT_EQ(describe(values), describe(expected));
}

TEST_F(CgroupModes, FallbackKeepsKeepaliveSwitchedOffBeforeConnect) {
  const auto values = probe_connect(in_mode("fallback"), {"--before", "keepalive=0"});
  auto expected = tuned_values();
  expected["keepalive"] = 0;
  EXPECT_EQ(describe(values), describe(expected));
}

TEST_F(CgroupModes, ForceKeepsKeepaliveOnWhenTheProgramSwitchesItOff) {
  const auto values = probe_connect(in_mode("force"), {"--after", "keepalive=0,user_timeout=1"});
  EXPECT_EQ(describe(values), describe(tuned_values()));
}

TEST_F(CgroupModes, FallbackLetsTheProgramChangeItsConnection) {
  const auto values = probe_connect(in_mode("fallback"), {"--after", "keepalive=0,idle=9"});
  auto expected = tuned_values();
  expected["keepalive"] = 0;
  expected["idle"] = 9;
  EXPECT_EQ(describe(values), describe(expected));
}

TEST_F(CgroupModes, ForceLeavesOptionsItDoesNotManage) {
  // Only TCP_KEEPCNT configured: the program's idle stands in force mode too.
  const auto values =
      probe_connect({{"KASHIM_CNT", "4"}}, {"--after", "idle=9,intvl=8,user_timeout=700"});
  EXPECT_EQ(values.at("keepalive"), 1);
  EXPECT_EQ(values.at("idle"), 9);
  EXPECT_EQ(values.at("intvl"), 8);
  EXPECT_EQ(values.at("cnt"), 4);
  EXPECT_EQ(values.at("user_timeout"), 700);
}

TEST_F(CgroupModes, AnInvalidValueStillFailsAsWithoutKashim) {
  // TCP_KEEPIDLE 0 is EINVAL: force mode must not turn it into a valid call.
  int status = -1;
  probe_connect(in_mode("force"), {"--after", "idle=0"}, &status);
  EXPECT_EQ(status, 1);
}

// To the kernel, the preload library's setsockopt calls are the program's: in force mode the
// cgroup's values win over a `kashim --idle 50` run inside it (doc/cgroup.md).
TEST_F(CgroupModes, ForceWinsOverThePreloadLibraryRunInsideTheCgroup) {
  KASHIM_SKIP_WHEN_SANITIZED("the wrapper preloads without the sanitizer runtime");
  Listener listener("127.0.0.1");
  Environment environment = with(in_mode("force"), "KASHIM_LIBRARY", KASHIM_LIBRARY_PATH);
  Child child(
      cgroup_run({KASHIM_WRAPPER_PATH, "--preload", "--idle", "50", "--intvl", "50", "--log",
                  "info", "--", kCgroupProbe, "connect", "127.0.0.1", listener.port_text()}),
      environment);
  const int accepted = listener.accept_one();
  const auto values = values_in(child.out_line());
  if (accepted >= 0) close(accepted);
  const int status = child.wait();
  const std::string err = child.rest_of_err();
  EXPECT_EQ(status, 0) << err;
  // The library's line (the values it reads back after tuning: the cgroup's already).
  EXPECT_NE(err.find("connecting to 127.0.0.1:" + listener.port_text() + ": keep-alive on"),
            std::string::npos)
      << "the library tuned it: " << err;
  EXPECT_EQ(describe(values), describe(tuned_values()));
}

TEST_F(CgroupModes, FallbackListenerOptionsReachTheConnectionsItAccepts) {
  Child child(cgroup_run({kCgroupProbe, "listen", "127.0.0.1", "--before", "idle=5"}),
              in_mode("fallback"));
  const std::string announced = child.out_line();
  ASSERT_EQ(announced.rfind("port=", 0), 0u) << announced;
  const int fd = connect_to("127.0.0.1", std::stoi(announced.substr(5)));
  const auto values = values_in(child.out_line());
  close(fd);
  EXPECT_EQ(child.wait(), 0) << child.rest_of_err();
  auto expected = tuned_values();
  expected["idle"] = 5;
  EXPECT_EQ(describe(values), describe(expected));
}

}  // namespace
}  // namespace kashim::testing
