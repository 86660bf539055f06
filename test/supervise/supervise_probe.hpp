// What the supervise_probe's scenario files share: the results file, values read back
// from the kernel, and loopback sockets.
#pragma once

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

namespace supervise_probe {

extern FILE* g_out;            // the results file, key=value lines
extern const char* g_self;     // this program, to exec again
extern const char* g_results;  // the results file's path

void put(const std::string& key, const std::string& value);
void put(const std::string& key, long value);
[[noreturn]] void die(const char* what);
int get_int(int fd, int level, int name);
// "1/60/10/6/0": keep-alive, idle, interval, count, user timeout, as the kernel has them.
std::string values_of(int fd);
std::string outcome(long result, int error);  // "ok" or "fail:ERRNO"
sockaddr_in loopback(in_port_t port);
int make_listener();
in_port_t port_of(int fd);
sockaddr_in local_address(int fd);
int connect_to(in_port_t port);

using Scenario = int (*)(const std::vector<std::string>& args);
// supervise_probe_process.cpp
int scenario_daemon(const std::vector<std::string>& args);
int scenario_wait_signal(const std::vector<std::string>& args);
int scenario_exit(const std::vector<std::string>& args);
int scenario_kill(const std::vector<std::string>& args);
int scenario_environment(const std::vector<std::string>& args);
int scenario_sigchld(const std::vector<std::string>& args);
int scenario_read_line(const std::vector<std::string>& args);
int scenario_kept_across_exec(const std::vector<std::string>& args);
int scenario_record_lock(const std::vector<std::string>& args);
int scenario_process_group(const std::vector<std::string>& args);
int scenario_signal_with_child(const std::vector<std::string>& args);
int scenario_orphan(const std::vector<std::string>& args);
// supervise_probe_accept.cpp: clients from a chosen loopback address, and what accept gave.
inline constexpr const char* kMatchingPeer = "127.0.0.2";  // the tests' KASHIM_PEERS
int client_from(const char* source, in_port_t port);
bool connects(int accepted, int client);  // `accepted` is `client`'s connection
void put_accept(const std::string& key, int fd, int error);
// Lowers RLIMIT_NOFILE to the lowest free descriptor (the table is full from then on);
// returns the limit to restore.
rlimit fill_descriptor_table();
// Whether the task at `task` (a /proc directory) sits in accept or accept4 now.
bool in_accept(const std::string& task);
std::string task_of_this_process(pid_t thread);  // "/proc/self/task/TID"
// Whether this process runs under the supervisor: its parent is kashim-supervise.
bool under_supervisor();
// Whether a thread of the supervisor (the parent) waits in accept on its copy of
// `listener`: it took the accept's notification and carries the accept out itself.
bool supervisor_waits_in_accept(int listener);
int scenario_accept_forms(const std::vector<std::string>& args);
int scenario_accept_nonblocking(const std::vector<std::string>& args);
int scenario_accept_emfile(const std::vector<std::string>& args);
int scenario_accept_ipv6(const std::vector<std::string>& args);
// supervise_probe_accept_wait.cpp
int scenario_accept_signal(const std::vector<std::string>& args);
int scenario_accept_shutdown(const std::vector<std::string>& args);
int scenario_accept_across_a_stop(const std::vector<std::string>& args);
int scenario_accept_two_threads(const std::vector<std::string>& args);
int scenario_accept_emfile_waiting(const std::vector<std::string>& args);
int scenario_accept_storm(const std::vector<std::string>& args);
int scenario_daemon_accept(const std::vector<std::string>& args);
// supervise_probe_accept_limits.cpp
int scenario_accept_fsuid(const std::vector<std::string>& args);
int scenario_accept_nondumpable(const std::vector<std::string>& args);
int scenario_accept_many_waiting(const std::vector<std::string>& args);

}  // namespace supervise_probe
