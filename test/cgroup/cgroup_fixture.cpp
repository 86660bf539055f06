#include "cgroup_fixture.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <fstream>
#include <sstream>

namespace kashim::testing {

bool cgroup_route_built() {
  static const bool built =
      run_command({kCgroupTool, "cgroup", "status"}, {}).err.find("without BPF") ==
      std::string::npos;
  return built;
}

bool cgroup2_writable() {
  const std::string mount = cgroup2_mount_point();
  struct statvfs filesystem;
  return !mount.empty() && statvfs(mount.c_str(), &filesystem) == 0 &&
         (filesystem.f_flag & ST_RDONLY) == 0 && access(mount.c_str(), W_OK) == 0;
}

std::string test_program(const std::string& name) {
  const std::string path = kProgramsDir + "/" + name;
  return access(path.c_str(), X_OK) == 0 ? path : "";
}

std::vector<std::string> cgroup_run(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {kCgroupTool, "cgroup", "run", "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

namespace {

socklen_t address_of(const std::string& text, int port, sockaddr_storage* address) {
  *address = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(address);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof *v4;
  }
  inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(static_cast<uint16_t>(port));
  return sizeof *v6;
}

int int_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

}  // namespace

Listener::Listener(const std::string& address) {
  sockaddr_storage storage;
  const socklen_t length = address_of(address, 0, &storage);
  fd_ = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0 || listen(fd_, 8) != 0) {
    ADD_FAILURE() << "cannot listen on " << address;
    return;
  }
  socklen_t bound = sizeof storage;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &bound);
  port_ = ntohs(storage.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

Listener::~Listener() {
  close(fd_);
}

int Listener::accept_one(int timeout_ms) {
  pollfd ready = {fd_, POLLIN, 0};
  if (poll(&ready, 1, timeout_ms) != 1) return -1;
  return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
}

int free_port(const std::string& address) {
  Listener listener(address);
  return listener.port();
}

int connect_to(const std::string& address, int port, const std::string& source, int source_port) {
  sockaddr_storage storage;
  const socklen_t length = address_of(address, port, &storage);
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!source.empty()) {
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage from;
    const socklen_t from_length = address_of(source, source_port, &from);
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), from_length) != 0) {
      ADD_FAILURE() << "cannot bind to " << source << ":" << source_port;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    ADD_FAILURE() << "cannot connect to " << address << ":" << port;
  }
  return fd;
}

std::map<std::string, int> socket_values(int fd) {
  return {{"keepalive", int_option(fd, SOL_SOCKET, SO_KEEPALIVE)},
          {"idle", int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE)},
          {"intvl", int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL)},
          {"cnt", int_option(fd, IPPROTO_TCP, TCP_KEEPCNT)},
          {"user_timeout", int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)}};
}

std::map<std::string, int> untouched_values() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto values = socket_values(fd);
  close(fd);
  return values;
}

std::map<std::string, int> tuned_values() {
  return {{"keepalive", 1}, {"idle", 31}, {"intvl", 7}, {"cnt", 4}, {"user_timeout", 2500}};
}

std::string describe(const std::map<std::string, int>& values) {
  std::string text;
  for (const auto& [name, value] : values) text += name + "=" + std::to_string(value) + " ";
  return text;
}

std::string cgroup2_mount_point() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    for (std::size_t i = 6; i + 1 < words.size(); ++i) {
      if (words[i] == "-" && words[i + 1] == "cgroup2") return words[4];
    }
  }
  return "";
}

}  // namespace kashim::testing
