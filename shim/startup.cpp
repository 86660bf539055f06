// libkashim.so's constructor: the real functions resolved, this copy retired if another
// kashim is in front of it, and the inherited sockets that need it tuned.
#include <dlfcn.h>

#include <cstring>

#include "inherited.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace kashim {
namespace {

// Two copies loaded (/etc/ld.so.preload, and the wrapper from another path): the one in
// front tunes, and this one must only forward, or every socket is tuned twice. The first
// socket() in the process's lookup order is the one in front; dladdr (a search, so only
// when something is in front at all) tells whether it is kashim's.
bool another_kashim_in_front() {
  void* first = dlsym(RTLD_DEFAULT, "socket");
  if (first == nullptr || first == real::own_socket_hook()) return false;
  Dl_info object;
  if (dladdr(first, &object) == 0 || object.dli_fname == nullptr) return false;
  const char* name = std::strrchr(object.dli_fname, '/');
  return std::strncmp(name != nullptr ? name + 1 : object.dli_fname, "libkashim", 9) == 0;
}

__attribute__((constructor)) void start_kashim() {
  real::resolve_all();
  if (another_kashim_in_front()) {
    retire();
    return;
  }
  tune_inherited_at_start(runtime());
}

}  // namespace
}  // namespace kashim
