// supervise_probe's scenarios about accept() and accept4(): what a server sees of each call
// (return value, errno, descriptor number and flags, the address and length written), and
// the keep-alive values of each connection under keys starting with "values_" (tuned or
// not: the only keys that may differ with the supervisor). Clients connect from 127.0.0.2
// (the tests' KASHIM_PEERS) or 127.0.0.3 (another peer).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
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

int client_from(const char* source, in_port_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to = loopback(port);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    die("client");
  }
  return fd;
}

// Whether `accepted` is the connection of `client`: its peer is the client's address.
bool connects(int accepted, int client) {
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  const sockaddr_in own = local_address(client);
  return getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
         peer.sin_port == own.sin_port && peer.sin_addr.s_addr == own.sin_addr.s_addr;
}

void put_accept(const std::string& key, int fd, int error) {
  put(key, outcome(fd, error) + (fd >= 0 ? " fd:" + std::to_string(fd) : ""));
}

namespace {

// The system call a task sits in and its first argument, from /proc/.../syscall
// ("288 0x5 ..."); -1 for a task that runs or is gone.
long syscall_of(const std::string& task, unsigned long* first_argument) {
  std::FILE* file = std::fopen((task + "/syscall").c_str(), "re");
  if (file == nullptr) return -1;
  long number = -1;
  unsigned long argument = 0;
  if (std::fscanf(file, "%ld %lx", &number, &argument) < 1) number = -1;
  std::fclose(file);
  if (first_argument != nullptr) *first_argument = argument;
  return number;
}

bool is_accept(long number) {
  return number == SYS_accept || number == SYS_accept4;
}

// Whether `fd` of process `pid` is the socket `inode`.
bool is_socket(pid_t pid, unsigned long fd, ino_t inode) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  char target[64] = {};
  return readlink(path.c_str(), target, sizeof target - 1) > 0 &&
         "socket:[" + std::to_string(inode) + "]" == target;
}

}  // namespace

bool in_accept(const std::string& task) {
  return is_accept(syscall_of(task, nullptr));
}

std::string task_of_this_process(pid_t thread) {
  return "/proc/self/task/" + std::to_string(thread);
}

bool supervisor_waits_in_accept(int listener) {
  struct stat status {};
  if (fstat(listener, &status) != 0) return false;
  const pid_t supervisor = getppid();
  const std::string tasks = "/proc/" + std::to_string(supervisor) + "/task";
  DIR* entries = opendir(tasks.c_str());
  if (entries == nullptr) return false;
  bool waits = false;
  while (const dirent* entry = readdir(entries)) {
    unsigned long fd = 0;
    waits |= entry->d_name[0] != '.' && is_accept(syscall_of(tasks + "/" + entry->d_name, &fd)) &&
             is_socket(supervisor, fd, status.st_ino);
  }
  closedir(entries);
  return waits;
}

bool under_supervisor() {
  char parent[4096] = {};
  const std::string link = "/proc/" + std::to_string(getppid()) + "/exe";
  if (readlink(link.c_str(), parent, sizeof parent - 1) <= 0) return false;
  const char* name = std::strrchr(parent, '/');
  return std::strcmp(name == nullptr ? parent : name + 1, "kashim-supervise") == 0;
}

rlimit fill_descriptor_table() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  const int lowest_free = dup(0);
  close(lowest_free);
  rlimit full = limit;
  full.rlim_cur = static_cast<rlim_t>(lowest_free);
  setrlimit(RLIMIT_NOFILE, &full);
  return limit;
}

namespace {

constexpr const char* kOther = "127.0.0.3";

std::string flags_of(int fd) {
  return std::string("nonblock:") + ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0 ? "1" : "0") +
         " cloexec:" + ((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0 ? "1" : "0");
}

// What a client sees of a connection the server's accept dropped: end of file (0).
long client_read(int client) {
  pollfd entry{client, POLLIN, 0};
  if (poll(&entry, 1, 5000) != 1) return -2;
  char byte;
  return read(client, &byte, 1) < 0 ? -errno : 0;
}

}  // namespace

// accept-forms: blocking accepts in every form: from a matching and another peer, accept4's
// flags, a short and a zero length, no address, and the addresses the kernel refuses.
int scenario_accept_forms(const std::vector<std::string>&) {
  const int listener = make_listener();
  const in_port_t port = port_of(listener);
  {  // matching peer, full address
    const int client = client_from(kMatchingPeer, port);
    sockaddr_in address{};
    socklen_t length = sizeof address;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(&address), &length);
    put_accept("a", fd, errno);
    put("a_length", length);
    const sockaddr_in own = local_address(client);
    put("a_address", std::memcmp(&address, &own, sizeof address) == 0);
    put("a_flags", flags_of(fd));
    put("values_a", values_of(fd));
  }
  {  // another peer, no address
    const int client = client_from(kOther, port);
    const int fd = accept(listener, nullptr, nullptr);
    put_accept("b", fd, errno);
    put("b_connects", connects(fd, client));
    put("values_b", values_of(fd));
  }
  for (int flags : {int{SOCK_NONBLOCK | SOCK_CLOEXEC}, int{SOCK_CLOEXEC}, int{SOCK_NONBLOCK}, 0}) {
    const int client = client_from(kMatchingPeer, port);
    const int fd = accept4(listener, nullptr, nullptr, flags);
    const std::string key = "c" + std::to_string(flags);
    put_accept(key, fd, errno);
    put(key + "_flags", flags_of(fd));
    put(key + "_connects", connects(fd, client));
    put("values_" + key, values_of(fd));
  }
  {  // a short length: the full length comes back, the address is cut
    const int client = client_from(kMatchingPeer, port);
    unsigned char buffer[sizeof(sockaddr_in)];
    std::memset(buffer, 0xAA, sizeof buffer);
    socklen_t length = 4;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(buffer), &length);
    put_accept("d", fd, errno);
    put("d_length", length);
    const sockaddr_in own = local_address(client);
    put("d_prefix", std::memcmp(buffer, &own, 4) == 0);
    bool rest_untouched = true;
    for (std::size_t i = 4; i < sizeof buffer; ++i) rest_untouched &= buffer[i] == 0xAA;
    put("d_rest_untouched", rest_untouched);
    put("values_d", values_of(fd));
  }
  {  // a zero length: nothing written but the length
    client_from(kMatchingPeer, port);
    unsigned char buffer[sizeof(sockaddr_in)];
    std::memset(buffer, 0xAA, sizeof buffer);
    socklen_t length = 0;
    const int fd = accept(listener, reinterpret_cast<sockaddr*>(buffer), &length);
    put_accept("e", fd, errno);
    put("e_length", length);
    put("e_untouched", buffer[0] == 0xAA && buffer[sizeof buffer - 1] == 0xAA);
  }
  {  // no address: the length pointer is not looked at
    client_from(kMatchingPeer, port);
    const int fd = accept(listener, nullptr, reinterpret_cast<socklen_t*>(8));
    put_accept("f", fd, errno);
  }
  // The kernel refuses these only after taking the connection, which it then drops.
  void* read_only = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  socklen_t full = sizeof(sockaddr_in), negative = static_cast<socklen_t>(-1);
  sockaddr_in somewhere{};
  struct Refused {
    const char* key;
    void* address;
    socklen_t* length;
  } const refused[] = {{"g_bad_address", reinterpret_cast<void*>(8), &full},
                       {"g_read_only_address", read_only, &full},
                       {"g_bad_length", &somewhere, reinterpret_cast<socklen_t*>(8)},
                       {"g_read_only_length", &somewhere, static_cast<socklen_t*>(read_only)},
                       {"g_negative_length", &somewhere, &negative},
                       {"g_null_length", &somewhere, nullptr}};
  for (const Refused& call : refused) {
    const int client = client_from(kMatchingPeer, port);
    full = sizeof(sockaddr_in);
    const int fd = accept(listener, static_cast<sockaddr*>(call.address), call.length);
    put_accept(call.key, fd, errno);
    put(std::string(call.key) + "_client_reads", client_read(client));
  }
  return 0;
}

// accept-nonblocking: a non-blocking listener: EAGAIN at once, then poll() and accept4.
int scenario_accept_nonblocking(const std::vector<std::string>&) {
  const int listener = make_listener();
  fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
  int fd = accept(listener, nullptr, nullptr);
  put_accept("empty", fd, errno);
  const int client = client_from(kMatchingPeer, port_of(listener));
  pollfd entry{listener, POLLIN, 0};
  put("poll", poll(&entry, 1, 5000));
  fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  put_accept("ready", fd, errno);
  put("ready_connects", connects(fd, client));
  put("ready_flags", flags_of(fd));
  put("values_ready", values_of(fd));
  {  // an address without a length: EFAULT, after the kernel took the connection and dropped it
    const int client = client_from(kMatchingPeer, port_of(listener));
    put("poll_null_length", poll(&entry, 1, 5000));
    sockaddr_in somewhere{};
    fd = accept(listener, reinterpret_cast<sockaddr*>(&somewhere), nullptr);
    put_accept("null_length", fd, errno);
    put("null_length_client_reads", client_read(client));
  }
  fd = accept(listener, nullptr, nullptr);
  put_accept("drained", fd, errno);
  return 0;
}

// accept-emfile: no descriptor left (RLIMIT_NOFILE): EMFILE at once, and the connection stays
// queued for the accept after the limit is raised again.
int scenario_accept_emfile(const std::vector<std::string>&) {
  const int listener = make_listener();
  const int client = client_from(kMatchingPeer, port_of(listener));
  const rlimit limit = fill_descriptor_table();
  int fd = accept(listener, nullptr, nullptr);
  put_accept("full", fd, errno);
  setrlimit(RLIMIT_NOFILE, &limit);
  fd = accept(listener, nullptr, nullptr);
  put_accept("after", fd, errno);
  put("after_connects", connects(fd, client));
  put("values_after", values_of(fd));
  return 0;
}

// accept-ipv6: an IPv6 listener bound to the IPv4-mapped loopback (::ffff:127.0.0.1; no
// other address is listened on): its IPv4 clients' addresses come back IPv4-mapped, 28 bytes,
// and KASHIM_PEERS's IPv4 pattern matches them.
int scenario_accept_ipv6(const std::vector<std::string>&) {
  const int listener = socket(AF_INET6, SOCK_STREAM, 0);
  if (listener < 0) {
    put("ipv6", "unavailable");
    return 0;
  }
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &address.sin6_addr);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 8) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    put("ipv6", "unavailable");
    return 0;
  }
  put("ipv6", "available");
  const int client = client_from(kMatchingPeer, ntohs(address.sin6_port));
  sockaddr_in6 peer{};
  length = sizeof peer;
  const int fd = accept(listener, reinterpret_cast<sockaddr*>(&peer), &length);
  put_accept("mapped", fd, errno);
  put("mapped_length", length);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text);
  put("mapped_address", text);
  put("mapped_port", ntohs(peer.sin6_port) == ntohs(local_address(client).sin_port));
  put("values_mapped", values_of(fd));
  return 0;
}

}  // namespace supervise_probe
