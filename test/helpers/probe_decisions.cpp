// Scenarios where what the shim remembers outlives what it was about: a descriptor number it
// saw once, a decision made for a socket's first connection, and an inherited listener's
// queue that is drained after the program decided for the listener itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "probe.hpp"

namespace probe {
namespace {

void send_descriptor(int channel, int fd) {
  char byte = 'L';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  if (sendmsg(channel, &message, 0) != 1) die("sendmsg SCM_RIGHTS");
}

int receive_descriptor(int channel) {
  char byte = 0;
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  if (recvmsg(channel, &message, 0) != 1 || CMSG_FIRSTHDR(&message) == nullptr) die("recvmsg");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&message)), sizeof fd);
  return fd;
}

// A listener made by another process that has no kashim (its socket() is the system call),
// handed over a Unix socket, as in a zero-downtime restart; one connection is queued on it.
struct Received {
  int listener = -1;
  int channel = -1;  // closing it lets the sender end
  pid_t sender = -1;
};

}  // namespace

// received-listener [reuse]: a listener from a process without kashim arrives over
// SCM_RIGHTS (received_under); its queued connection is accepted and reported (accepted).
// With "reuse", this process first made a TCP client socket of its own (own_under) and
// closed it, so that the listener arrives under the same number.
int scenario_received_listener(const std::vector<std::string>& args) {
  const bool reuse = !args.empty() && args[0] == "reuse";
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) die("socketpair");
  if (reuse) {
    int own = socket(AF_INET, SOCK_STREAM, 0);
    if (own < 0) die("socket");
    put("own_under", own);
    close(own);
  }
  Received received;
  received.channel = channel[0];
  received.sender = fork();
  if (received.sender < 0) die("fork");
  if (received.sender == 0) {
    close(channel[0]);
    int fd = listener(AF_INET, /*raw=*/true);
    send_descriptor(channel[1], fd);
    int client = raw_client(AF_INET, port_of(fd));
    char byte;
    _exit(read(channel[1], &byte, 1) >= 0 && client >= 0 ? 0 : 1);  // until the receiver is done
  }
  received.listener = receive_descriptor(channel[0]);  // the lowest free number
  close(channel[1]);
  put("received_under", received.listener);
  pollfd ready{received.listener, POLLIN, 0};
  if (poll(&ready, 1, 10000) != 1) die("poll for the queued connection");
  int accepted = accept(received.listener, nullptr, nullptr);
  if (accepted < 0) die("accept on the received listener");
  put("accepted", summary(accepted));
  close(received.channel);
  waitpid(received.sender, nullptr, 0);
  return 0;
}

namespace {

sockaddr_in address_of(const char* host, in_port_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host, &address.sin_addr);
  return address;
}

int listener_on_any_address() {
  int fd = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      listen(fd, 16) != 0) {
    die("listener on any address");
  }
  return fd;
}

// After the socket's first connection (ended), a second one to 127.0.0.1 on the same
// socket; then the program's own idle of 99. Reported under `prefix`: the second
// connection as made (second), and after the program's own value (own).
void connect_again_and_report(const std::string& prefix, int fd, in_port_t port) {
  sockaddr_in second = address_of("127.0.0.1", port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&second), sizeof second) != 0) {
    die(prefix + " second connect");
  }
  put(prefix + "second", summary(fd));
  set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 99);
  put(prefix + "own", summary(fd));
}

}  // namespace

// reconnect: with KASHIM_PEERS=127.0.0.2, a socket whose first connection goes to 127.0.0.2
// (wanted) and whose second goes to 127.0.0.1 (not wanted), on the same socket: after
// connect(AF_UNSPEC) ends the first (unspec_*), and after a non-blocking first attempt was
// refused (refused_*). A socket that connects straight to 127.0.0.1 is the control (fresh_*).
int scenario_reconnect(const std::vector<std::string>&) {
  int server = listener_on_any_address();
  const in_port_t port = port_of(server);
  int spare = listener_on_any_address();
  const in_port_t closed_port = port_of(spare);
  close(spare);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in first = address_of("127.0.0.2", port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&first), sizeof first) != 0) die("first connect");
  put("unspec_first", summary(fd));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  if (connect(fd, &unspec, sizeof unspec) != 0) die("connect AF_UNSPEC");
  connect_again_and_report("unspec_", fd, port);

  int retried = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in refused = address_of("127.0.0.2", closed_port);
  errno = 0;
  const int attempt = connect(retried, reinterpret_cast<sockaddr*>(&refused), sizeof refused);
  put("refused_attempt", outcome(attempt, errno));
  pollfd done{retried, POLLOUT, 0};
  poll(&done, 1, 10000);
  put("refused_so_error", get_int(retried, SOL_SOCKET, SO_ERROR));
  if (fcntl(retried, F_SETFL, 0) != 0) die("fcntl");  // blocking for the second attempt
  // The first connect() after a refusal reports it once (ECONNABORTED); the next connects.
  errno = 0;
  const int reset = connect(retried, reinterpret_cast<sockaddr*>(&refused), sizeof refused);
  put("refused_reset", outcome(reset, errno));
  connect_again_and_report("refused_", retried, port);

  int fresh = socket(AF_INET, SOCK_STREAM, 0);
  connect_again_and_report("fresh_", fresh, port);
  return 0;
}

namespace {

// A TCP listener made by a process without kashim (the system call), under number 3, the
// first systemd hands over.
void listener_under_3() {
  int fd = listener(AF_INET, /*raw=*/true);
  if (fd != 3) {
    if (dup2(fd, 3) != 3) die("dup2");
    close(fd);
  }
}

void name_this_process_in_listen_fds() {
  setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  setenv("LISTEN_FDS", "1", 1);
}

std::string this_program() {
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) die("readlink");
  return std::string(self, static_cast<std::size_t>(length));
}

}  // namespace

// listener-off systemd|exec: a listener made by a process without kashim (the system call)
// is handed to this program across exec under number 3: by systemd socket activation
// (LISTEN_FDS=1, LISTEN_PID this process), or plainly. The program switches keep-alive off
// on it, its own choice, before any connection arrives; two connections are then accepted
// (first, second) and the listener reported (listener).
int scenario_listener_off(const std::vector<std::string>& args) {
  if (args.empty()) die("listener-off needs systemd or exec");
  listener_under_3();
  if (args[0] == "systemd") name_this_process_in_listen_fds();
  const std::string self = this_program();
  fflush(g_out);
  execl(self.c_str(), self.c_str(), g_path, "listener-off-service", nullptr);
  die("exec");
}

int scenario_listener_off_service(const std::vector<std::string>&) {
  const int fd = 3;
  if (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0) != 0) die("SO_KEEPALIVE 0");
  for (const char* name : {"first", "second"}) {
    int client = raw_client(AF_INET, port_of(fd));
    int accepted = accept(fd, nullptr, nullptr);
    if (client < 0 || accepted < 0) die("accept");
    put(name, summary(accepted));
  }
  put("listener", summary(fd));
  return 0;
}

// activated direct|env|sh: systemd socket activation of a service started through a wrapper
// that execs it (ExecStart=/usr/bin/env ..., a shell's exec, a launcher script). The
// listener (fd 3, made without kashim) has the connection that started the service
// queued; LISTEN_FDS=1 and LISTEN_PID name this process, which the wrapper keeps. Then
// this program runs directly, or by `env`, or by `sh -c 'exec ...'`, as scenario
// "inherited 3 accept": the queued connection is reported as accepted.
int scenario_activated(const std::vector<std::string>& args) {
  if (args.empty()) die("activated needs direct, env or sh");
  listener_under_3();
  raw_client(AF_INET, port_of(3));  // queued before the service starts
  name_this_process_in_listen_fds();
  const std::string program = this_program();
  const char* self = program.c_str();
  fflush(g_out);
  if (args[0] == "env") {
    execl("/usr/bin/env", "env", self, g_path, "inherited", "3", "accept", nullptr);
  } else if (args[0] == "sh") {
    execl("/bin/sh", "sh", "-c", "exec \"$0\" \"$@\"", self, g_path, "inherited", "3", "accept",
          nullptr);
  } else {
    execl(self, self, g_path, "inherited", "3", "accept", nullptr);
  }
  die("exec");
}

}  // namespace probe
