// The cgroup a `detach` or `status` names: a cgroup v2 directory, or the id `status`
// printed for an attachment whose cgroup has since been removed.
#pragma once

#include <cstdint>
#include <string>

namespace kashim::cgroup {

struct Target {
  std::uint64_t id = 0;
  std::string path;  // "" once the cgroup is gone
  std::string display() const {
    return path.empty() ? "cgroup " + std::to_string(id) + " (removed)" : path;
  }
};

// Refusal when `name` is neither a cgroup nor the id of a pinned attachment.
Target find_target(const std::string& name);

// The attachment of a pinned id, its cgroup's path looked up ("" when removed).
Target target_of(std::uint64_t id);

}  // namespace kashim::cgroup
