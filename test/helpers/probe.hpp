// What the probe's scenario files share: writing results, reading socket options back,
// and loopback sockets made with or without the shim seeing them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

namespace probe {

extern FILE* g_out;         // the results file, key=value lines
extern const char* g_path;  // its path

[[noreturn]] void die(const std::string& what);
void put(const std::string& key, const std::string& value);
void put(const std::string& key, long value);

int get_int(int fd, int level, int optname);
int set_int(int fd, int level, int optname, int value);
// setsockopt() with the value where the shim can read it without risk (own_stack_page.hpp):
// on the page of the stack the calls below run on, as a caller's local variable most often
// is; in force mode the shim then makes one call. `length` may be up to 16.
int set_int_near(int fd, int level, int optname, int value, socklen_t length = sizeof(int));
// ... and in static memory, which the shim leaves to the kernel to read: the program's call,
// then the shim's.
int set_int_far(int fd, int level, int optname, int value);
void put_keepalive(const std::string& prefix, int fd);  // every managed option, by name
std::string summary(int fd);                            // KEEPALIVE/IDLE/INTVL/CNT
std::string outcome(long result, int error);            // "ok:N" or "fail:ENAME"

sockaddr_storage loopback(int family, in_port_t port);
socklen_t length_of(int family);
in_port_t port_of(int fd);
// A listening socket on an ephemeral loopback port; `raw` makes it with the system call,
// so the shim never sees it.
int listener(int family, bool raw = false);
int raw_client(int family, in_port_t port);  // a connection the shim never sees
void wait_writable(int fd);
std::string peer_text(int fd);  // the remote address, IPv4-mapped shown as IPv4

using Scenario = int (*)(const std::vector<std::string>& args);
// probe_inherited.cpp
int scenario_inherited(const std::vector<std::string>& args);
int scenario_handoff(const std::vector<std::string>& args);
int scenario_reused_listener(const std::vector<std::string>& args);
// probe_hardening.cpp
int scenario_efault(const std::vector<std::string>& args);
int scenario_forced_calls(const std::vector<std::string>& args);
int scenario_forced_idle(const std::vector<std::string>& args);
int scenario_cancel(const std::vector<std::string>& args);
int scenario_cancel_full_stderr(const std::vector<std::string>& args);
int scenario_reuse_number(const std::vector<std::string>& args);
int scenario_connect_eintr(const std::vector<std::string>& args);
int scenario_small_stacks(const std::vector<std::string>& args);
int scenario_short_of(const std::vector<std::string>& args);
int scenario_address_space(const std::vector<std::string>& args);
// probe_torture.cpp
int scenario_storm(const std::vector<std::string>& args);
int scenario_spawn(const std::vector<std::string>& args);
int scenario_exec_check(const std::vector<std::string>& args);
int scenario_stderr_socket(const std::vector<std::string>& args);
// probe_observable.cpp
int scenario_log_signals(const std::vector<std::string>& args);
int scenario_log_file_lock(const std::vector<std::string>& args);
int scenario_log_longjmp(const std::vector<std::string>& args);
// probe_decisions.cpp
int scenario_received_listener(const std::vector<std::string>& args);
int scenario_reconnect(const std::vector<std::string>& args);
int scenario_listener_off(const std::vector<std::string>& args);
int scenario_listener_off_service(const std::vector<std::string>& args);
int scenario_activated(const std::vector<std::string>& args);

}  // namespace probe
