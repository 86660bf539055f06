#include "net_cgroups.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <vector>

namespace kashim::inspect {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

bool names(const std::string& list, const std::string& controller) {
  for (const std::string& name : split(list, ',')) {
    if (name == controller) return true;
  }
  return false;
}

// The net_cls and net_prio hierarchies of /proc/.../cgroup ("10:net_cls,net_prio:/batch"):
// their controllers, to the cgroup's path.
std::map<std::string, std::string> net_cgroups(const std::string& cgroup_file) {
  std::map<std::string, std::string> cgroups;
  std::ifstream lines(cgroup_file);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    if (names(controllers, "net_cls") || names(controllers, "net_prio")) {
      cgroups[controllers] = line.substr(second + 1);
    }
  }
  return cgroups;
}

// The directory of `path` in the hierarchy of `controllers` as this process sees it mounted
// (mountinfo: the mount's root in the hierarchy, its mount point, "cgroup", its options), or
// "" when it is mounted nowhere here.
std::string directory_of(const std::string& controllers, const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream stream(line);
    const std::vector<std::string> fields{std::istream_iterator<std::string>(stream), {}};
    std::size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash + 3 >= fields.size() || fields[dash + 1] != "cgroup") continue;
    bool all = true;
    for (const std::string& controller : split(controllers, ',')) {
      all = all && names(fields[dash + 3], controller);
    }
    const std::string& root = fields[3];
    if (!all || path.compare(0, root.size(), root) != 0) continue;
    // A mount point with a space is escaped (\040) in mountinfo and cannot be read as
    // written: the classes then count as different, which is the safe side.
    return fields[4] + (root == "/" ? path : path.substr(root.size()));
  }
  return "";
}

std::string read_all(const std::string& path, bool* read) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  *read = static_cast<bool>(file);
  return text.str();
}

// What a duplicate stamps a socket with, per controller: the class id, and the index whose
// interface priorities apply.
struct ClassFile {
  const char* controller;
  const char* file;
};
constexpr ClassFile kClassFiles[] = {{"net_cls", "/net_cls.classid"},
                                     {"net_prio", "/net_prio.ifpriomap"}};

// Whether a socket stamped from the cgroup at `theirs` would be stamped the same from `ours`:
// the same class id, and the same interface priorities.
bool same_classes(const std::string& controllers, const std::string& theirs,
                  const std::string& ours) {
  const std::string their_directory = directory_of(controllers, theirs);
  const std::string our_directory = directory_of(controllers, ours);
  if (their_directory.empty() || our_directory.empty()) return false;  // cannot tell
  for (const ClassFile& class_file : kClassFiles) {
    if (!names(controllers, class_file.controller)) continue;
    bool their_read = false, our_read = false;
    const std::string their_value = read_all(their_directory + class_file.file, &their_read);
    const std::string our_value = read_all(our_directory + class_file.file, &our_read);
    if (!their_read || !our_read || their_value != our_value) return false;
  }
  return true;
}

}  // namespace

std::string net_cgroup_difference(const std::string& proc_dir) {
  const auto own = net_cgroups("/proc/self/cgroup");
  for (const auto& [controllers, path] : net_cgroups(proc_dir + "/cgroup")) {
    const auto mine = own.find(controllers);
    const std::string my_path = mine == own.end() ? "?" : mine->second;
    if (path == my_path || (mine != own.end() && same_classes(controllers, path, my_path))) {
      continue;
    }
    return controllers + " cgroup " + path + " (kashim's: " + my_path + ")";
  }
  return "";
}

}  // namespace kashim::inspect
