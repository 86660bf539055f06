// Where persistent attachments live: /sys/fs/bpf/kashim/<cgroup id>/, one pinned object per
// link and map (programs.hpp names them). bpffs is mounted at /sys/fs/bpf when it is not.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/settings.h"

namespace kashim::cgroup {

inline constexpr const char* kBpffs = "/sys/fs/bpf";
inline constexpr const char* kPinRoot = "/sys/fs/bpf/kashim";

// Mounts bpffs at /sys/fs/bpf unless it is there already; Refusal when it cannot.
void ensure_bpffs();

std::string pin_directory(std::uint64_t cgroup_id);

// The cgroup ids with a directory under kPinRoot, in increasing order.
std::vector<std::uint64_t> pinned_cgroup_ids();

// Detaches the pinned links (even when another process holds them open), removes every pin
// and the directory, and kPinRoot once empty. Returns false when there was nothing to remove.
bool remove_pins(std::uint64_t cgroup_id);

// An open pinned map; Refusal when missing or of another layout (its type, `value_size`).
int open_pinned_map(const std::string& path, std::uint32_t type, std::uint32_t value_size);

kashim_settings read_settings(int settings_fd);
void write_settings(int settings_fd, const kashim_settings& settings);
using Counters = std::array<std::uint64_t, KASHIM_COUNTERS>;
Counters read_counters(int counters_fd);

}  // namespace kashim::cgroup
