#include "target.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>

#include "cgroup_tree.hpp"
#include "pins.hpp"
#include "refusal.hpp"

namespace kashim::cgroup {

Target target_of(std::uint64_t id) {
  return {id, cgroup_path_of(cgroup2_mount(), id)};
}

Target find_target(const std::string& name) {
  std::uint64_t id = 0;
  const char* end = name.data() + name.size();
  auto [stop, error] = std::from_chars(name.data(), end, id);
  struct stat status;
  if (!name.empty() && error == std::errc() && stop == end) {
    if (stat(pin_directory(id).c_str(), &status) == 0) return target_of(id);
    // An ID whose pins we may not see is not taken for a path.
    if (errno != ENOENT) throw Refusal(with_errno("cannot read " + pin_directory(id), errno));
  }
  const std::string path = resolve_cgroup(cgroup2_mount(), name);
  return {cgroup_id(path), path};
}

}  // namespace kashim::cgroup
