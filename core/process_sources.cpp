#include "process_sources.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include "text.hpp"

namespace kashim {
namespace {

// secure_getenv as defence in depth: the preload library does not parse at all in a
// privileged (AT_SECURE) process.
const char* process_getenv(const char* name, void*) {
  return secure_getenv(name);
}

bool process_sysctl(const char* name, std::int64_t* value, void*) {
  FixedText<96> path;
  path.add("/proc/sys/net/ipv4/").add(name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[32];
  ssize_t length = read(fd, text, sizeof text);
  close(fd);
  if (length <= 0) return false;
  const char* end = text + length;
  return std::from_chars(text, end, *value).ec == std::errc();
}

}  // namespace

Sources process_sources() {
  return {process_getenv, process_sysctl, nullptr};
}

}  // namespace kashim
