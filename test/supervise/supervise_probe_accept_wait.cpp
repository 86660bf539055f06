// supervise_probe's scenarios about accept calls that wait: signals with and without
// SA_RESTART, shutdown, two waiting threads, a signal storm, a daemon waiting in accept.
// Keys as in supervise_probe_accept.cpp.
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <string>

#include "supervise_probe.hpp"

namespace supervise_probe {
namespace {

// Waits (bounded by 10 s) until another thread or process has done something.
template <typename Done>
void wait_until(Done done, const char* what) {
  const std::time_t give_up = std::time(nullptr) + 10;
  while (!done()) {
    if (std::time(nullptr) > give_up) die(what);
    sched_yield();
  }
}

// Under the supervisor: waits until one of its threads waits in accept on its copy of
// `listener`, that is, until it has taken the accept's notification and carries the accept
// out. A signal before that ends a call the supervisor never saw (its restart is then the
// first notification), and a descriptor table filled before that is the kernel's EMFILE.
// Without a supervisor, at once.
void wait_for_the_supervisors_accept(int listener) {
  if (!under_supervisor()) return;
  wait_until([listener] { return supervisor_waits_in_accept(listener); },
             "the supervisor never waited in the accept");
}

struct BlockedAccept {
  int listener = -1;
  std::atomic<pid_t> tid{0};
  int result = -1;
  int error = 0;
};

void* accept_in_thread(void* argument) {
  auto* call = static_cast<BlockedAccept*>(argument);
  call->tid = static_cast<pid_t>(syscall(SYS_gettid));
  call->result = accept(call->listener, nullptr, nullptr);
  call->error = errno;
  return nullptr;
}

pthread_t start_accept(BlockedAccept* call) {
  pthread_t thread;
  pthread_create(&thread, nullptr, accept_in_thread, call);
  wait_until([call] { return call->tid != 0; }, "the accepting thread never started");
  wait_until([call] { return in_accept(task_of_this_process(call->tid)); },
             "the thread never blocked in accept");
  return thread;
}

std::atomic<int> g_handled{0};

}  // namespace

// accept-signal restart|eintr: a signal handler (with or without SA_RESTART) interrupts a
// blocked accept. With SA_RESTART the accept goes on and gets the next connection; without,
// it fails with EINTR, and the program closes the listener and listens on its port again.
int scenario_accept_signal(const std::vector<std::string>& args) {
  const bool restart = args.at(0) == "restart";
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_handled; };
  action.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGUSR1, &action, nullptr);
  BlockedAccept call;
  call.listener = make_listener();
  const in_port_t port = port_of(call.listener);
  const pthread_t thread = start_accept(&call);
  wait_for_the_supervisors_accept(call.listener);
  pthread_kill(thread, SIGUSR1);
  int client = -1;
  if (restart) {
    wait_until([] { return g_handled != 0; }, "the signal was never handled");
    wait_until([&call] { return in_accept(task_of_this_process(call.tid)); },
               "the accept did not restart");
    client = client_from(kMatchingPeer, port);
  }
  pthread_join(thread, nullptr);
  // Not the number: the kernel takes it when a blocking accept starts, the supervisor when
  // the connection is there, after this thread's client took one (doc/supervise.md).
  put("result", outcome(call.result, call.error));
  put("handled", g_handled.load());
  if (restart) {
    put("connects", connects(call.result, client));
    put("values_restarted", values_of(call.result));
    return 0;
  }
  // Nobody holds the listener for long once the program closes it: its port is free again.
  close(call.listener);
  const int again = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(port);
  int attempts = 0, result = -1;
  for (; attempts < 3000 && result != 0; ++attempts) {
    result = bind(again, reinterpret_cast<sockaddr*>(&address), sizeof address);
    if (result != 0) {
      timespec pause{0, 1000000};
      nanosleep(&pause, nullptr);
    }
  }
  put("rebind", outcome(result, errno));
  put("values_rebind_attempts", attempts);
  return 0;
}

// accept-across-a-stop: a thread waits in accept; once it does (under the supervisor, once
// the supervisor waits in it) prints this process's pid, the listener's port and "ready".
// Then reports what the accept returned ("result") and whether it is the connection of a
// client from 127.0.0.2 ("from_matching_peer"). The test stops and continues this process.
int scenario_accept_across_a_stop(const std::vector<std::string>&) {
  BlockedAccept call;
  call.listener = make_listener();
  const pthread_t thread = start_accept(&call);
  wait_for_the_supervisors_accept(call.listener);
  std::printf("%d %d\nready\n", static_cast<int>(getpid()), port_of(call.listener));
  std::fflush(stdout);
  pthread_join(thread, nullptr);
  put("result", outcome(call.result, call.error));
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  char text[INET_ADDRSTRLEN] = "";
  if (getpeername(call.result, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
  }
  put("from_matching_peer", std::string(text) == kMatchingPeer);
  return 0;
}

// accept-shutdown: shutdown(SHUT_RD) on the listener wakes a blocked accept with EINVAL.
int scenario_accept_shutdown(const std::vector<std::string>&) {
  BlockedAccept call;
  call.listener = make_listener();
  const pthread_t thread = start_accept(&call);
  put("shutdown", outcome(shutdown(call.listener, SHUT_RD), errno));
  pthread_join(thread, nullptr);
  put_accept("result", call.result, call.error);
  return 0;
}

// accept-two-threads: two threads blocked in accept on one listener get one connection each.
int scenario_accept_two_threads(const std::vector<std::string>&) {
  BlockedAccept calls[2];
  const int listener = make_listener();
  pthread_t threads[2];
  for (int i = 0; i < 2; ++i) {
    calls[i].listener = listener;
    threads[i] = start_accept(&calls[i]);
  }
  const int clients[2] = {client_from(kMatchingPeer, port_of(listener)),
                          client_from(kMatchingPeer, port_of(listener))};
  int tuned_connections = 0, matched = 0;
  for (int i = 0; i < 2; ++i) {
    pthread_join(threads[i], nullptr);
    put_accept("thread" + std::to_string(i), calls[i].result >= 0 ? 0 : -1, calls[i].error);
    tuned_connections += get_int(calls[i].result, SOL_SOCKET, SO_KEEPALIVE) == 1;
    for (int client : clients) matched += connects(calls[i].result, client);
  }
  put("matched", matched);
  put("values_tuned", tuned_connections);
  return 0;
}

// accept-emfile-waiting: the descriptor table fills up while a thread waits in accept. The
// kernel took the number when the accept started, so the accept succeeds; the supervisor
// takes one when the connection is there, finds none (EMFILE), and keeps the connection for
// the next accept. Either way the client's connection is accepted once ("accepted_client").
int scenario_accept_emfile_waiting(const std::vector<std::string>&) {
  BlockedAccept call;
  call.listener = make_listener();
  const int client = socket(AF_INET, SOCK_STREAM, 0);  // before the table is full
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, kMatchingPeer, &from.sin_addr);
  bind(client, reinterpret_cast<sockaddr*>(&from), sizeof from);
  const pthread_t thread = start_accept(&call);
  wait_for_the_supervisors_accept(call.listener);  // it found a free descriptor before
  const rlimit limit = fill_descriptor_table();
  sockaddr_in to = loopback(port_of(call.listener));
  if (connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) die("connect");
  pthread_join(thread, nullptr);
  setrlimit(RLIMIT_NOFILE, &limit);
  put("first", outcome(call.result, call.error));
  const int fd = call.result >= 0 ? call.result : accept(call.listener, nullptr, nullptr);
  put("accepted_client", connects(fd, client));
  put("values_accepted", values_of(fd));
  return 0;
}

// accept-storm N: N connections accepted while a thread sends the accepting thread signals
// (no SA_RESTART; the accept is made again after EINTR): every connection is accepted once.
int scenario_accept_storm(const std::vector<std::string>& args) {
  const int count = std::atoi(args.at(0).c_str());
  struct sigaction action {};
  action.sa_handler = [](int) { ++g_handled; };
  sigaction(SIGUSR1, &action, nullptr);
  static int listener = make_listener();
  static std::atomic<bool> done{false};
  static std::atomic<pthread_t> server_thread{};
  static std::set<in_port_t> accepted_ports;
  static int interrupted = 0, wrong_flags = 0;
  auto serve = [](void* total) -> void* {
    server_thread = pthread_self();
    for (int got = 0; got < *static_cast<int*>(total);) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      // Every other accept asks for a non-blocking connection: one the supervisor took for
      // an interrupted call and hands to the next must still get the flags that call asked.
      const int flags = got % 2 == 0 ? 0 : SOCK_NONBLOCK;
      const int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, flags);
      if (fd < 0) {
        if (errno != EINTR) die("accept in the storm");
        ++interrupted;
        continue;
      }
      accepted_ports.insert(peer.sin_port);
      wrong_flags += ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) != (flags != 0);
      close(fd);
      ++got;
    }
    done = true;
    return nullptr;
  };
  auto storm = [](void*) -> void* {
    while (!done) {
      pthread_kill(server_thread, SIGUSR1);
      timespec pause{0, 200000};
      nanosleep(&pause, nullptr);
    }
    return nullptr;
  };
  int total = count;
  pthread_t server, signaller;
  pthread_create(&server, nullptr, serve, &total);
  wait_until([] { return server_thread.load() != pthread_t{}; }, "the server never started");
  pthread_create(&signaller, nullptr, storm, nullptr);
  std::set<in_port_t> client_ports;
  for (int i = 0; i < count; ++i) {
    const int client = client_from(kMatchingPeer, port_of(listener));
    client_ports.insert(local_address(client).sin_port);
    close(client);
  }
  pthread_join(server, nullptr);
  pthread_join(signaller, nullptr);
  put("accepted", static_cast<long>(accepted_ports.size()));
  put("all_clients", accepted_ports == client_ports);
  put("wrong_flags", wrong_flags);
  put("values_interrupted", interrupted);
  return 0;
}

// daemon-accept FILE: forks a child that leaves the caller's pipes and session and waits in
// accept; once it does, this process reports the port and exits. The child writes what it
// accepted to FILE (the test connects from 127.0.0.2).
int scenario_daemon_accept(const std::vector<std::string>& args) {
  const int listener = make_listener();
  const pid_t child = fork();
  if (child == 0) {
    const int null = open("/dev/null", O_RDWR);
    for (int fd : {0, 1, 2}) dup2(null, fd);
    setsid();
    const int fd = accept(listener, nullptr, nullptr);
    const int error = errno;
    FILE* out = std::fopen(args.at(0).c_str(), "w");
    std::fprintf(out, "accept=%s\ndaemon=%s\n", outcome(fd, error).c_str(), values_of(fd).c_str());
    std::fclose(out);
    _exit(0);
  }
  wait_until([child] { return in_accept("/proc/" + std::to_string(child)); },
             "the child never blocked in accept");
  put("daemon_pid", child);
  put("port", port_of(listener));
  return 0;
}

}  // namespace supervise_probe
