// libkashim_clearenv_at_start.so: a library whose constructor clears the environment
// (clearenv(), which leaves `environ` NULL), as a sandboxing library may. Preloaded after
// libkashim.so (LD_PRELOAD=libkashim.so:this), its constructor runs before the shim's, so
// the shim finds `environ` NULL when it keeps what the process started with.
#include <cstdlib>

__attribute__((constructor)) static void clear_environment_before_main() {
  clearenv();
}
