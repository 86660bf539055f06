#include "proc_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace kashim::supervise {

std::string stat_from_state(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char text[512] = {};
  const ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  const char* end = got > 0 ? std::strrchr(text, ')') : nullptr;
  return end != nullptr && end[1] == ' ' ? std::string(end + 2) : "";
}

}  // namespace kashim::supervise
