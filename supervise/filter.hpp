// The seccomp filter the supervised program runs under: which system calls reach the
// supervisor, decided in the kernel from the call's number and register arguments, so that
// every other call runs at full speed.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace kashim::supervise {

// True when this build knows the system call numbers of the machine it runs on.
bool filter_supported();

// The classic BPF program: SECCOMP_RET_USER_NOTIF for connect, listen, sendto/sendmsg with
// MSG_FASTOPEN in their flags, setsockopt of SOL_SOCKET/SO_KEEPALIVE or IPPROTO_TCP/
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, and, with `notify_accept`,
// accept and accept4; SECCOMP_RET_ALLOW for everything else, including calls of another
// architecture or ABI (i386, x32), which the supervisor would not know how to read.
std::vector<sock_filter> notifying_filter(bool notify_accept);

}  // namespace kashim::supervise
