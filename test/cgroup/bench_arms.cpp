#include "bench_arms.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace kashim::testing {

std::string cgroup2_mount_of_self() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    if (line.find(" - cgroup2 ") == std::string::npos) continue;
    std::size_t start = 0;
    for (int field = 0; field < 4; ++field) start = line.find(' ', start) + 1;
    return line.substr(start, line.find(' ', start) - start);  // the fifth field
  }
  return "";
}

std::string own_cgroup_directory() {
  std::ifstream membership("/proc/self/cgroup");
  for (std::string line; std::getline(membership, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    std::string relative = line.substr(3);
    if (relative == "/") relative.clear();
    return cgroup2_mount_of_self() + relative;
  }
  return "";
}

bool move_self_to(const std::string& cgroup) {
  const int procs = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (procs < 0) return false;
  const std::string pid = std::to_string(getpid());
  const bool moved = write(procs, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  close(procs);
  return moved;
}

KashimRun::KashimRun(const std::string& tool, const std::string& self,
                     const std::vector<std::pair<std::string, std::string>>& environment) {
  int to_command[2], from_command[2];
  if (pipe2(to_command, O_CLOEXEC) != 0) return;
  if (pipe2(from_command, O_CLOEXEC) != 0) {
    close(to_command[0]);
    close(to_command[1]);
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(to_command[0], STDIN_FILENO);
    dup2(from_command[1], STDOUT_FILENO);
    for (const auto& [name, value] : environment) {
      if (value.empty()) {
        unsetenv(name.c_str());
      } else {
        setenv(name.c_str(), value.c_str(), 1);
      }
    }
    execl(tool.c_str(), tool.c_str(), "cgroup", "run", "--", self.c_str(), "--hold", nullptr);
    _exit(127);
  }
  close(to_command[0]);
  close(from_command[1]);
  to_command_ = to_command[1];
  // The command's one line: its cgroup. EOF instead means the run failed (its stderr says why).
  char buffer[4096];
  std::size_t used = 0;
  while (used < sizeof buffer) {
    const ssize_t got = read(from_command[0], buffer + used, sizeof buffer - used);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    used += static_cast<std::size_t>(got);
    if (std::memchr(buffer, '\n', used) != nullptr) break;
  }
  close(from_command[0]);
  const std::string line(buffer, used);
  if (line.find('\n') != std::string::npos) cgroup_ = line.substr(0, line.find('\n'));
}

KashimRun::~KashimRun() {
  if (to_command_ >= 0) close(to_command_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

int hold_cgroup() {
  std::printf("%s\n", own_cgroup_directory().c_str());
  std::fflush(stdout);
  for (;;) {
    char byte;
    const ssize_t got = read(STDIN_FILENO, &byte, 1);
    if (got == 0 || (got < 0 && errno != EINTR)) return 0;
  }
}

namespace {

int bpf(int command, bpf_attr* attributes) {
  return static_cast<int>(syscall(SYS_bpf, command, attributes, sizeof *attributes));
}

// "r0 = 1; exit": a program that lets everything through and does nothing else.
int load_returning_at_once(bpf_prog_type type, bpf_attach_type expected) {
  const bpf_insn instructions[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static const char kLicense[] = "GPL";
  bpf_attr attributes{};
  attributes.prog_type = type;
  attributes.expected_attach_type = expected;
  attributes.insns = reinterpret_cast<__u64>(instructions);
  attributes.insn_cnt = 2;
  attributes.license = reinterpret_cast<__u64>(kLicense);
  return bpf(BPF_PROG_LOAD, &attributes);
}

int link_to_cgroup(int program, int cgroup, bpf_attach_type type) {
  bpf_attr attributes{};
  attributes.link_create.prog_fd = static_cast<__u32>(program);
  attributes.link_create.target_fd = static_cast<__u32>(cgroup);
  attributes.link_create.attach_type = type;
  return bpf(BPF_LINK_CREATE, &attributes);
}

}  // namespace

EmptyPrograms::EmptyPrograms(const std::string& parent, const std::string& name, unsigned hooks) {
  const std::string directory = parent + "/cgroup_bench." + name + "." + std::to_string(getpid());
  if (mkdir(directory.c_str(), 0755) != 0) {
    error_ = "mkdir " + directory + ": " + std::strerror(errno);
    return;
  }
  cgroup_ = directory;
  const int cgroup = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) {
    error_ = "open " + directory + ": " + std::strerror(errno);
    return;
  }
  const struct {
    bpf_prog_type type;
    bpf_attach_type attach;
  } kHooks[] = {{BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS},
                {BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT}};
  for (std::size_t i = 0; i < std::size(kHooks); ++i) {
    if (!(hooks & (1u << i))) continue;
    const auto& hook = kHooks[i];
    const int program = load_returning_at_once(hook.type, hook.attach);
    const int link = program < 0 ? -1 : link_to_cgroup(program, cgroup, hook.attach);
    if (program >= 0) fds_.push_back(program);
    if (link < 0) {
      error_ = std::string("an empty BPF program: ") + std::strerror(errno);
      break;
    }
    fds_.push_back(link);
  }
  close(cgroup);
}

EmptyPrograms::~EmptyPrograms() {
  for (int fd : fds_) close(fd);
  if (!cgroup_.empty()) rmdir(cgroup_.c_str());
}

Attachments::Attachments(const std::string& parent, const std::string& tool,
                         const std::string& self)
    : sockops(parent, "sockops", EmptyPrograms::kSockOps),
      setsockopt(parent, "setsockopt", EmptyPrograms::kSetsockopt),
      both(parent, "both", EmptyPrograms::kSockOps | EmptyPrograms::kSetsockopt),
      inactive(tool, self, {{"KASHIM_DISABLE", "1"}}),
      keepalive(tool, self,
                {{"KASHIM_IDLE", ""},
                 {"KASHIM_INTVL", ""},
                 {"KASHIM_CNT", ""},
                 {"KASHIM_USER_TIMEOUT", ""}}),
      configured(tool, self, {}) {}

std::string Attachments::error() const {
  for (const EmptyPrograms* programs : {&sockops, &setsockopt, &both}) {
    if (!programs->error().empty()) return programs->error();
  }
  for (const KashimRun* run : {&inactive, &keepalive, &configured}) {
    if (run->cgroup().empty()) return "a `kashim-cgroup cgroup run` did not start";
  }
  return "";
}

}  // namespace kashim::testing
