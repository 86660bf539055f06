#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace kashim::testing {

namespace {

long long now_ms() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const Environment& environment) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    std::abort();
  }
  std::vector<std::string> variables = {std::string("PATH=") + getenv("PATH")};
  for (const auto& [name, value] : environment) variables.push_back(name + "=" + value);
  std::vector<char*> args, envp;
  for (const std::string& word : argv) args.push_back(const_cast<char*>(word.c_str()));
  for (std::string& variable : variables) envp.push_back(variable.data());
  args.push_back(nullptr);
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
}

Child::~Child() {
  if (status_ < 0 && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_fd_, out_fd_, err_fd_}) {
    if (fd >= 0) close(fd);
  }
}

std::string Child::line(std::string* buffer, int fd, int timeout_ms) {
  const long long deadline = now_ms() + timeout_ms;
  for (;;) {
    if (std::size_t newline = buffer->find('\n'); newline != std::string::npos) {
      std::string text = buffer->substr(0, newline);
      buffer->erase(0, newline + 1);
      return text;
    }
    const long long left = deadline - now_ms();
    if (left <= 0) return "";
    pollfd ready = {fd, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[512];
    const ssize_t got = read(fd, chunk, sizeof chunk);
    if (got == 0) return "";
    if (got > 0) buffer->append(chunk, static_cast<std::size_t>(got));
  }
}

void Child::write_in(const std::string& text) {
  [[maybe_unused]] ssize_t written = write(in_fd_, text.data(), text.size());
}

void Child::close_in() {
  close(in_fd_);
  in_fd_ = -1;
}

int Child::wait() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  // Non-blocking: a process the command left running may hold stderr open.
  fcntl(err_fd_, F_SETFL, fcntl(err_fd_, F_GETFL) | O_NONBLOCK);
  char chunk[512];
  for (ssize_t got; (got = read(err_fd_, chunk, sizeof chunk)) > 0;) {
    err_.append(chunk, static_cast<std::size_t>(got));
  }
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return status_;
}

bool Child::err_closed(int timeout_ms) {
  fcntl(err_fd_, F_SETFL, fcntl(err_fd_, F_GETFL) & ~O_NONBLOCK);
  const long long deadline = now_ms() + timeout_ms;
  for (long long left; (left = deadline - now_ms()) > 0;) {
    pollfd ready = {err_fd_, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[512];
    const ssize_t got = read(err_fd_, chunk, sizeof chunk);
    if (got == 0) return true;
    if (got > 0) err_.append(chunk, static_cast<std::size_t>(got));
  }
  return false;
}

std::map<std::string, int> values_in(const std::string& line) {
  std::map<std::string, int> values;
  std::istringstream words(line);
  for (std::string word; words >> word;) {
    const std::size_t equals = word.find('=');
    if (equals != std::string::npos) values[word.substr(0, equals)] = std::atoi(&word[equals + 1]);
  }
  return values;
}

}  // namespace kashim::testing
