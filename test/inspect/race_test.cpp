// The races a running process brings: a descriptor closed and its number handed to another
// socket between listing and duplicating, and a process that exits in the middle. Staged one
// step at a time through kashim-inspect's own pieces (the listing, then the apply).
#include <gtest/gtest.h>

#include <netinet/tcp.h>

#include <cstdio>
#include <memory>

#include "apply.hpp"
#include "config.hpp"
#include "inspect_helpers.hpp"
#include "inspection.hpp"
#include "process_sources.hpp"
#include "remote_fd.hpp"

namespace kashim::testing {
namespace {

using inspect::ProcessView;

// The configuration from these variables alone, parsed by the library's parser.
std::unique_ptr<Config> configuration(const Environment& variables) {
  static Environment current;
  current = variables;
  Sources sources{[](const char* name, void*) -> const char* {
                    for (const auto& [key, value] : current) {
                      if (key == name) return value.c_str();
                    }
                    return nullptr;
                  },
                  process_sources().sysctl, nullptr};
  auto config = std::make_unique<Config>();
  parse_config(sources, config.get());
  return config;
}

struct Applied {
  int status;
  std::string out, err;
};

Applied apply(const ProcessView& view, const Config& config) {
  char *out = nullptr, *err = nullptr;
  std::size_t out_size = 0, err_size = 0;
  std::FILE* out_stream = open_memstream(&out, &out_size);
  std::FILE* err_stream = open_memstream(&err, &err_size);
  const int status = inspect::apply_to_process(view, config, false, out_stream, err_stream);
  std::fclose(out_stream);
  std::fclose(err_stream);
  Applied result{status, out, err};
  std::free(out);
  std::free(err);
  return result;
}

TEST(InspectRace, ADescriptorReusedAfterListingIsLeftAlone) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_GE(client, 0);
  inspect::DiagCache cache;
  const ProcessView view = inspect::inspect_process(target.pid(), cache);
  ASSERT_EQ(view.problem, inspect::ProcessProblem::kNone);
  ASSERT_EQ(view.sockets.size(), 2u);

  // The program closes the connection and the number goes to a new socket.
  ASSERT_EQ(target.ask("replace " + std::to_string(client)), "fd " + std::to_string(client));
  const Applied result = apply(view, *configuration({{"KASHIM_IDLE", "60"}}));
  EXPECT_EQ(result.status, inspect::kExitIncomplete) << result.out;
  EXPECT_NE(result.out.find("fd " + std::to_string(client) + " ESTAB out 127.0.0.1:"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("NOT tuned: the descriptor now holds another file (reused)"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(target.ask("values " + std::to_string(client)), untuned_values());
  // The listener, whose number was not reused, was tuned.
  EXPECT_TRUE(
      target.ask("values " + std::to_string(fd_in(listening))).starts_with("keepalive 1 idle 60 "));

  // The guard itself: the inode the listing gave no longer matches.
  const inspect::Duplicate duplicate =
      inspect::duplicate_socket(view.pidfd.get(), client, view.sockets[1].diag.inode);
  EXPECT_EQ(duplicate.outcome, inspect::Duplicate::Outcome::kReused);
  EXPECT_FALSE(duplicate.fd);
}

// Between the listing and the duplication the program closes a connection and a new socket
// takes its number: what the process holds there now is read (it was dropped, unreported).
TEST(InspectRace, ADescriptorReusedBeforeItsDuplicationIsReadAgain) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_GE(client, 0);
  inspect::DiagCache cache;
  const ProcessView view = inspect::inspect_process(target.pid(), cache, [&] {
    ASSERT_EQ(target.ask("replace " + std::to_string(client)), "fd " + std::to_string(client));
  });
  ASSERT_EQ(view.problem, inspect::ProcessProblem::kNone);
  ASSERT_EQ(view.sockets.size(), 2u);
  const inspect::SocketView& replaced = view.sockets[1];
  EXPECT_EQ(replaced.fd, client);
  EXPECT_FALSE(replaced.reused);
  EXPECT_EQ(replaced.diag.state, TCP_CLOSE) << "the new, unconnected socket";
  EXPECT_TRUE(replaced.values.read);

  const Applied result = apply(view, *configuration({{"KASHIM_IDLE", "60"}}));
  EXPECT_EQ(result.status, inspect::kExitOk) << result.out;
  EXPECT_TRUE(target.ask("values " + std::to_string(client)).starts_with("keepalive 1 idle 60 "))
      << result.out;
}

TEST(InspectRace, ADescriptorClosedAfterListingIsNotCountedAsTuned) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  const int client = fd_in(target.ask("connect 127.0.0.1 " + std::to_string(port_in(listening))));
  ASSERT_GE(client, 0);
  inspect::DiagCache cache;
  const ProcessView view = inspect::inspect_process(target.pid(), cache);
  ASSERT_EQ(view.sockets.size(), 2u);

  ASSERT_EQ(target.ask("close " + std::to_string(client)), "ok");
  const Applied result = apply(view, *configuration({{"KASHIM_IDLE", "60"}}));
  EXPECT_EQ(result.status, inspect::kExitOk) << result.out;
  EXPECT_NE(result.out.find("closed meanwhile: nothing to tune"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(": 1 tuned, 0 already as configured, 0 left alone, 0 not tuned, 1 "
                            "closed meanwhile\n"),
            std::string::npos)
      << result.out;
}

TEST(InspectRace, AProcessThatExitsMidwayEndsWithAMessage) {
  Child target = start_target();
  const std::string listening = target.ask("listen 127.0.0.1");
  ASSERT_GE(port_in(listening), 0);
  inspect::DiagCache cache;
  const ProcessView view = inspect::inspect_process(target.pid(), cache);
  ASSERT_EQ(view.sockets.size(), 1u);
  target.kill_and_wait();

  const Applied result = apply(view, *configuration({{"KASHIM_IDLE", "60"}}));
  EXPECT_EQ(result.status, inspect::kExitNoProcess);
  EXPECT_NE(result.out.find("NOT tuned: the process exited"), std::string::npos) << result.out;
  EXPECT_TRUE(inspect::process_exited(view.pidfd.get()));
}

TEST(InspectRace, AProcessGoneBeforeItsListingIsNotMistakenForAnother) {
  Child target = start_target();
  const pid_t pid = target.pid();
  UniqueFd pidfd = inspect::open_process(pid);
  ASSERT_TRUE(pidfd);
  EXPECT_FALSE(inspect::process_exited(pidfd.get()));
  target.kill_and_wait();
  // Whatever /proc/PID shows now (nothing, or a new process given the number), the pidfd
  // says the process asked about is gone.
  EXPECT_TRUE(inspect::process_exited(pidfd.get()));
}

}  // namespace
}  // namespace kashim::testing
