#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace kashim::testing {

Child::Child(const std::vector<std::string>& argv, Reads reads) {
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  const int read_stream = reads == Reads::kStdout ? 1 : 2;
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], read_stream);
  posix_spawn_file_actions_addopen(&actions, 3 - read_stream, "/dev/null", O_WRONLY, 0);
  // Nothing the test runner left open reaches it: its descriptors are its own sockets.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (auto& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  std::string path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char* environment[] = {path.data(), nullptr};
  const int spawned =
      posix_spawnp(&pid_, args[0].c_str(), &actions, nullptr, pointers.data(), environment);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  to_child_ = in_pipe[1];
  from_child_ = out_pipe[0];
  if (spawned != 0) throw std::runtime_error("cannot run " + args[0] + ": " + strerror(spawned));
}

Child::~Child() {
  kill_and_wait();
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
}

std::string Child::read_line() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    if (auto end = buffered_.find('\n'); end != std::string::npos) {
      std::string line = buffered_.substr(0, end);
      buffered_.erase(0, end + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd entry{from_child_, POLLIN, 0};
    if (left.count() <= 0 || poll(&entry, 1, static_cast<int>(left.count())) <= 0) return "";
    char chunk[4096];
    const ssize_t got = read(from_child_, chunk, sizeof chunk);
    if (got <= 0) return "";
    buffered_.append(chunk, static_cast<std::size_t>(got));
  }
}

void Child::send(const std::string& line) {
  const std::string text = line + "\n";
  if (write(to_child_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw std::runtime_error("cannot write to the child");
  }
}

std::string Child::ask(const std::string& line) {
  send(line);
  return read_line();
}

void Child::kill_and_wait() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int fd_in(const std::string& answer) {
  int fd = -1;
  return std::sscanf(answer.c_str(), "fd %d", &fd) == 1 ? fd : -1;
}

int port_in(const std::string& answer) {
  int fd = -1, port = -1;
  return std::sscanf(answer.c_str(), "fd %d port %d", &fd, &port) == 2 ? port : -1;
}

}  // namespace kashim::testing
