// Scenarios about sockets a process gets from the one before it: inherited across exec,
// handed over by systemd or inetd, or handed down to a child.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "probe.hpp"

namespace probe {

// inherited FD [accept [N]|stop-parent]: a descriptor this program got from its parent.
// With "accept" it is a listener: N connections (default 1) are accepted and reported
// (accepted, accepted_2, ...), then the listener again (inherited_after); else it is
// reported itself. "stop-parent" ends the parent with SIGTERM (systemd-socket-activate
// --accept, which would otherwise wait for more connections, and whose death ends this
// program too: its children have SIGTERM as parent-death signal), once the results are
// written.
int scenario_inherited(const std::vector<std::string>& args) {
  if (args.empty()) die("inherited needs a descriptor");
  int fd = atoi(args[0].c_str());
  put("inherited", summary(fd));
  if (args.size() > 1 && args[1] == "stop-parent") {
    fflush(g_out);
    kill(getppid(), SIGTERM);
  }
  if (args.size() > 1 && args[1] == "accept") {
    const int count = args.size() > 2 ? atoi(args[2].c_str()) : 1;
    for (int i = 1; i <= count; ++i) {
      int accepted = accept(fd, nullptr, nullptr);
      if (accepted < 0) die("accept on the inherited listener");
      const std::string suffix = i == 1 ? "" : "_" + std::to_string(i);
      put("accepted" + suffix, summary(accepted));
      put("accepted_from" + suffix, peer_text(accepted));
    }
    put("inherited_after", summary(fd));
  }
  return 0;
}

// handoff PORT|listen [own] [as-stdin|as-fd]: this program (under the shim, say) makes a
// socket — a connection to 127.0.0.1:PORT, or with "listen" a listener — optionally sets
// its own keep-alive ("own": SO_KEEPALIVE 0, idle 77), then runs a child program on it the
// way system() would: the child (this probe again, scenario "inherited", with the socket on
// standard input or under its own number, and accepting once if it is a listener) gets the
// same environment. Reported: the socket before the child ran (before_child) and after
// (after_child); a child must never change what this process decided.
int scenario_handoff(const std::vector<std::string>& args) {
  if (args.empty()) die("handoff needs a port or 'listen'");
  const bool listening = args[0] == "listen";
  bool own = false, as_stdin = true;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "own") own = true;
    if (args[i] == "as-fd") as_stdin = false;
  }
  int fd = -1;
  in_port_t port = 0;
  if (listening) {
    fd = listener(AF_INET);
    port = port_of(fd);
  } else {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_storage address = loopback(AF_INET, static_cast<in_port_t>(atoi(args[0].c_str())));
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length_of(AF_INET)) != 0) die("connect");
  }
  if (own) {
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 77);
  }
  put("before_child", summary(fd));
  int client = -1;
  if (listening) client = raw_client(AF_INET, port);  // queued for the child's accept()
  fflush(g_out);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    const int number = as_stdin ? 0 : fd;
    if (as_stdin) dup2(fd, 0);
    const std::string text = std::to_string(number);
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) _exit(127);
    self[length] = '\0';
    if (listening) {
      execl(self, self, "/dev/null", "inherited", text.c_str(), "accept", nullptr);
    } else {
      execl(self, self, "/dev/null", "inherited", text.c_str(), nullptr);
    }
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  put("child_status", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  put("after_child", summary(fd));
  if (client >= 0) close(client);
  return 0;
}

// reused-listener FD: accepts one connection from the inherited listener FD (first), closes
// it, and puts a listener of its own under the same number (same_number), with its own
// idle of 99, then accepts a connection on it (own).
int scenario_reused_listener(const std::vector<std::string>& args) {
  if (args.empty()) die("reused-listener needs a descriptor");
  const int number = atoi(args[0].c_str());
  int first = accept(number, nullptr, nullptr);
  if (first < 0) die("accept on the inherited listener");
  put("first", summary(first));
  close(number);
  int own = listener(AF_INET);
  set_int(own, IPPROTO_TCP, TCP_KEEPIDLE, 99);
  if (own != number) {
    if (dup2(own, number) != number) die("dup2");
    close(own);
  }
  put("same_number", "yes");
  int client = raw_client(AF_INET, port_of(number));
  int accepted = accept(number, nullptr, nullptr);
  if (accepted < 0) die("accept on the program's own listener");
  put("own", summary(accepted));
  close(client);
  return 0;
}

}  // namespace probe
