// Sockets a process holds from before it started, and which of them kashim tunes.
//
// The rule: a socket keeps the decision made (or declined) where it was made. A process
// tunes a socket it inherits only when nothing decided for it before, in three cases:
//   - systemd socket activation: LISTEN_FDS sockets for this very process (LISTEN_PID), at
//     start; listeners, or connections with Accept=yes;
//   - a connection on standard input (inetd, systemd's StandardInput=socket), at start,
//     when the process that started this one does not run kashim itself (if it does, it
//     decided, and children of a tuned program must not overrule it);
//   - any other inherited listener (handed across exec, or over a Unix socket), at its
//     first accept(); without a filter only (with one, accept() decides every connection).
//     Connections queued on it before are clones of the untuned listener: each is tuned as
//     it is accepted, until the first one that arrived tuned.
// An inherited socket whose keep-alive is on keeps its values (someone decided); fallback
// mode also leaves one with any option other than the kernel's default.
#pragma once

#include "runtime.hpp"

namespace kashim {

// From the constructor, when there may be something to tune: `listen_fds` (systemd's
// LISTEN_FDS for this process, kept_at_start.hpp), `stdin_stream` (standard input is a
// stream socket).
void tune_inherited_at_start(long listen_fds, bool stdin_stream);

// accept() on a listener: `listener_seen` says whether this process made it (or looked at
// it already). Without a filter, the accepted connection needs a look only then, or while
// an inherited listener's queue is drained.
void on_accepted_from_unseen_listener(const Runtime& runtime, int listener, int accepted);
bool draining_any();
void drain(const Runtime& runtime, int listener, int accepted);

// Fallback mode: the program set a keep-alive option of `fd` itself. Its choice stands: an
// inherited listener it set is not looked at at its first accept(), and one being drained
// is drained no more (its connections are now the program's choice).
void program_decided_for(int fd);

}  // namespace kashim
