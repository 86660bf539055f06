// libkashim.so's constructor: this copy retired if another kashim is in front of it, the
// configuration read (and an error in it reported), and the inherited sockets that need it
// tuned at start (inherited.hpp).
#include <dlfcn.h>
#include <link.h>

#include <cstring>

#include "inherited.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace kashim {
namespace {

// Two copies loaded (/etc/ld.so.preload, and the wrapper from another path): the one in
// front tunes, and this one must only forward, or every socket is tuned twice. The loaded
// objects come in load order, preloaded ones first: this copy is behind another one when
// the first libkashim.so in the list is not this object. No symbol look-up, no system call.
bool another_kashim_in_front() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&another_kashim_in_front), &self) == 0) return false;
  struct Search {
    const void* own_base;
    bool behind = false;
  } search{self.dli_fbase};
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        auto& search = *static_cast<Search*>(data);
        const char* slash =
            object->dlpi_name != nullptr ? std::strrchr(object->dlpi_name, '/') : nullptr;
        const char* name = slash != nullptr ? slash + 1 : object->dlpi_name;
        // libkashim.so, or a versioned name such as libkashim.so.0.
        if (name == nullptr || std::strncmp(name, "libkashim.so", 12) != 0 ||
            (name[12] != '\0' && name[12] != '.')) {
          return 0;
        }
        // The first copy in the list decides: this one, or another in front of it.
        search.behind = reinterpret_cast<const void*>(object->dlpi_addr) != search.own_base;
        return 1;
      },
      &search);
  return search.behind;
}

__attribute__((constructor)) void start_kashim() {
  if (another_kashim_in_front()) {
    retire();
    return;
  }
  tune_inherited_at_start(runtime());
}

}  // namespace
}  // namespace kashim
