#include "programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "kashim.skel.h"
#include "refusal.hpp"

namespace kashim::cgroup {

namespace {

bool g_verbose = false;

int print_libbpf(libbpf_print_level level, const char* format, va_list arguments) {
  if (!g_verbose || level == LIBBPF_DEBUG) return 0;
  return std::vfprintf(stderr, format, arguments);
}

// A probe's answer: 1 supported, 0 not; a negative errno when the kernel would not say.
void require_feature(int answer, const std::string& what) {
  if (answer == 1) return;
  if (answer == -EPERM || answer == -EACCES) {
    throw Refusal(with_errno("cannot load BPF programs", -answer));
  }
  if (answer < 0) throw Refusal(with_errno("cannot probe the kernel for " + what, -answer));
  throw Refusal("this kernel lacks " + what + " (Linux 5.10 or later with CONFIG_CGROUP_BPF)");
}

}  // namespace

void show_libbpf_messages(bool verbose) {
  g_verbose = verbose;
  libbpf_set_print(print_libbpf);
}

void probe_kernel() {
  // Privileges first: without them the probes below cannot tell a missing feature from a
  // refusal. The smallest map there is, created and closed.
  const int map =
      bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, sizeof(__u32), sizeof(__u32), 1, nullptr);
  if (map < 0) throw Refusal(with_errno("cannot create BPF maps", errno));
  close(map);
  require_feature(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, nullptr),
                  "sock_ops programs (BPF_PROG_TYPE_SOCK_OPS)");
  require_feature(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCKOPT, nullptr),
                  "cgroup/setsockopt programs (BPF_PROG_TYPE_CGROUP_SOCKOPT)");
  require_feature(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, nullptr),
                  "socket storage maps (BPF_MAP_TYPE_SK_STORAGE)");
  require_feature(libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_setsockopt, nullptr),
                  "bpf_setsockopt in sock_ops programs");
  // Socket storage from sock_ops came in 5.10, after bpf_setsockopt learned the keep-alive
  // options (5.9): a kernel that has it has those too.
  require_feature(libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sk_storage_get, nullptr),
                  "bpf_sk_storage_get in sock_ops programs");
  require_feature(
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_FUNC_sk_storage_get, nullptr),
      "bpf_sk_storage_get in cgroup/setsockopt programs");
}

Programs::Programs(const kashim_settings& settings) {
  skeleton_ = kashim_bpf__open();
  if (skeleton_ == nullptr) throw Refusal(with_errno("cannot open kashim's BPF object", errno));
  if (int error = kashim_bpf__load(skeleton_); error != 0) {
    kashim_bpf__destroy(skeleton_);
    throw Refusal(
        with_errno("the kernel refused kashim's BPF programs (KASHIM_LOG=debug shows"
                   " the verifier's log)",
                   -error));
  }
  const __u32 zero = 0;
  if (bpf_map__update_elem(skeleton_->maps.settings, &zero, sizeof zero, &settings, sizeof settings,
                           BPF_ANY) != 0) {
    const int error = errno;
    kashim_bpf__destroy(skeleton_);
    throw Refusal(with_errno("cannot write the settings map", error));
  }
}

Programs::~Programs() {
  kashim_bpf__destroy(skeleton_);
}

void Programs::attach(int cgroup_fd, const std::string& cgroup_path) {
  skeleton_->links.kashim_sockops =
      bpf_program__attach_cgroup(skeleton_->progs.kashim_sockops, cgroup_fd);
  if (skeleton_->links.kashim_sockops == nullptr) {
    throw Refusal(with_errno("cannot attach the sock_ops program to " + cgroup_path, errno));
  }
  skeleton_->links.kashim_setsockopt =
      bpf_program__attach_cgroup(skeleton_->progs.kashim_setsockopt, cgroup_fd);
  if (skeleton_->links.kashim_setsockopt == nullptr) {
    throw Refusal(
        with_errno("cannot attach the cgroup/setsockopt program to " + cgroup_path, errno));
  }
}

void Programs::pin(const std::string& directory, std::vector<std::string>* pinned) {
  auto check = [&](int error, const std::string& path) {
    if (error != 0) throw Refusal(with_errno("cannot pin " + path, -error));
    pinned->push_back(path);
  };
  // The maps first: an attach killed before its links are pinned leaves nothing attached
  // (the links die with the process), only pins that status reports and detach removes.
  const std::string settings = directory + "/" + kPinSettings;
  check(bpf_map__pin(skeleton_->maps.settings, settings.c_str()), settings);
  const std::string counters = directory + "/" + kPinCounters;
  check(bpf_map__pin(skeleton_->maps.counters, counters.c_str()), counters);
  const std::string sockops_link = directory + "/" + kPinSockopsLink;
  check(bpf_link__pin(skeleton_->links.kashim_sockops, sockops_link.c_str()), sockops_link);
  const std::string setsockopt_link = directory + "/" + kPinSetsockoptLink;
  check(bpf_link__pin(skeleton_->links.kashim_setsockopt, setsockopt_link.c_str()),
        setsockopt_link);
}

int Programs::counters_fd() const {
  return bpf_map__fd(skeleton_->maps.counters);
}

}  // namespace kashim::cgroup
