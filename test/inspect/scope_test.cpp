// Program scoping: `kashim apply --pid` and `kashim status` decide for the program the
// process runs as the library decides inside it (KASHIM_PROGRAMS, and the configuration
// file's [program NAME] sections). Each case runs the same program under the library too,
// and compares what each route leaves on its connection.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "inspect_helpers.hpp"

namespace kashim::testing {
namespace {

// The values of a connection `target` opens to its own listener.
struct Connection {
  int fd;
  std::string values() { return target->ask("values " + std::to_string(fd)); }
  Child* target;
};

Connection connect_to_itself(Child& target) {
  const std::string listening = target.ask("listen 127.0.0.1");
  return {fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening)))), &target};
}

// inspect_target under the preload library with `variables` ("NAME=VALUE").
Child preloaded_target(const std::vector<std::string>& variables) {
  std::vector<std::string> argv = {"env", "LD_PRELOAD=" + preload_value(KASHIM_LIBRARY_PATH)};
  argv.insert(argv.end(), variables.begin(), variables.end());
  argv.push_back(KASHIM_INSPECT_TARGET_PATH);
  return Child(argv);
}

// A configuration file only its owner may write, as the library requires.
std::string write_config(const std::string& text) {
  const std::string path = "/tmp/kashim-scope-test-" + std::to_string(getpid()) + ".conf";
  std::ofstream(path) << text;
  chmod(path.c_str(), 0644);
  return path;
}

TEST(InspectScope, AProgramKashimProgramsLeavesOutIsLeftAloneAsTheLibraryLeavesIt) {
  Child preloaded = preloaded_target({"KASHIM_PROGRAMS=nginx", "KASHIM_IDLE=60"});
  Connection library = connect_to_itself(preloaded);
  ASSERT_GE(library.fd, 0);
  Child target = start_target();
  Connection applied = connect_to_itself(target);
  ASSERT_GE(applied.fd, 0);
  const std::string pid = std::to_string(target.pid());

  const Environment out_of_scope = {{"KASHIM_PROGRAMS", "nginx"}};
  ProcessRun apply = kashim({"apply", "--pid", pid, "--idle", "60"}, out_of_scope);
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("left alone (program inspect_target not in scope (matches no item of "
                           "\"nginx\"))"),
            std::string::npos)
      << apply.out;
  EXPECT_EQ(lines_of(apply.out).back(), "pid " + pid +
                                            " (inspect_target): 0 tuned, 0 already as "
                                            "configured, 2 left alone, 0 not tuned");
  EXPECT_EQ(library.values(), untuned_values());
  EXPECT_EQ(applied.values(), library.values());

  ProcessRun status = kashim({"status", "--json", "--idle", "60", pid}, out_of_scope);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  const std::string object = socket_object(status.out, target.pid(), applied.fd);
  EXPECT_EQ(field(object, "kashim"), "\"skip\"");
  EXPECT_NE(field(object, "kashim_reason").find("not in scope"), std::string::npos) << object;
  EXPECT_NE(status.out.find("\"in_scope\":false"), std::string::npos) << status.out;
  ProcessRun table = kashim({"status", "--idle", "60", pid}, out_of_scope);
  EXPECT_EQ(lines_of(table.out).back(),
            "pid " + pid +
                " (inspect_target): left alone: program inspect_target not in scope (matches no "
                "item of \"nginx\")");

  // Named by the list: tuned, by both routes.
  Child included = preloaded_target({"KASHIM_PROGRAMS=nginx,inspect_*", "KASHIM_IDLE=60"});
  Connection library_included = connect_to_itself(included);
  ProcessRun in_scope =
      kashim({"apply", "--pid", pid, "--idle", "60"}, {{"KASHIM_PROGRAMS", "nginx,inspect_*"}});
  EXPECT_EQ(in_scope.exit_code, 0) << in_scope.out << in_scope.err;
  EXPECT_TRUE(applied.values().starts_with("keepalive 1 idle 60 "));
  EXPECT_EQ(applied.values(), library_included.values());
}

TEST(InspectScope, AProgramSectionOfTheConfigurationFileAppliesToThatProgramsSockets) {
  const std::string path =
      write_config("idle = 60\n[program inspect_target]\nidle = 120\n[program nc]\nidle = 30\n");
  Child preloaded = preloaded_target({"KASHIM_CONFIG=" + path});
  Connection library = connect_to_itself(preloaded);
  ASSERT_GE(library.fd, 0);
  Child target = start_target();
  Connection applied = connect_to_itself(target);
  const std::string pid = std::to_string(target.pid());

  ProcessRun apply = kashim({"apply", "--pid", pid}, {{"KASHIM_CONFIG", path}});
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_TRUE(library.values().starts_with("keepalive 1 idle 120 ")) << library.values();
  EXPECT_EQ(applied.values(), library.values());
  ProcessRun status = kashim({"status", "--json", pid}, {{"KASHIM_CONFIG", path}});
  EXPECT_EQ(field(socket_object(status.out, target.pid(), applied.fd), "kashim"), "\"ok\"");
  // The command's own configuration is the global part: idle 60.
  EXPECT_NE(status.out.find("{\"configuration\":{\"active\":true,\"mode\":\"force\",\"direction\":"
                            "\"both\",\"peer_patterns\":0,\"idle_s\":60,"),
            std::string::npos)
      << status.out;
  unlink(path.c_str());
}

// A program started through a link is known by the link's name, as the library knows it
// (the path exec was given, AT_EXECFN), not by the file the link leads to (/proc/PID/exe).
TEST(InspectScope, AProgramStartedThroughALinkIsChosenByTheLinksNameAsByTheLibrary) {
  const std::string path = write_config(
      "idle = 60\n[program inspect_target]\nidle = 120\n[program linked_target]\nidle = 90\n");
  const std::string link = ::testing::TempDir() + "linked_target";
  std::remove(link.c_str());
  ASSERT_EQ(symlink(KASHIM_INSPECT_TARGET_PATH, link.c_str()), 0);
  Child preloaded(
      {"env", "LD_PRELOAD=" + preload_value(KASHIM_LIBRARY_PATH), "KASHIM_CONFIG=" + path, link});
  Connection library = connect_to_itself(preloaded);
  ASSERT_GE(library.fd, 0);
  Child target({link});
  Connection applied = connect_to_itself(target);
  ASSERT_GE(applied.fd, 0);
  ProcessRun apply =
      kashim({"apply", "--pid", std::to_string(target.pid())}, {{"KASHIM_CONFIG", path}});
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_TRUE(library.values().starts_with("keepalive 1 idle 90 ")) << library.values();
  EXPECT_EQ(applied.values(), library.values());
  unlink(link.c_str());
  unlink(path.c_str());
}

}  // namespace
}  // namespace kashim::testing
