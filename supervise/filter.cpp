#include "filter.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>

namespace kashim::supervise {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kArchitecture = AUDIT_ARCH_X86_64;
// x32 calls carry this bit in their number under the same AUDIT_ARCH_X86_64.
constexpr std::uint32_t kForeignAbiBit = 0x40000000;
#endif

constexpr std::uint32_t kNumber = offsetof(seccomp_data, nr);
constexpr std::uint32_t kArch = offsetof(seccomp_data, arch);
// The low 32 bits of an argument (little endian): level, optname and flags are ints, and the
// kernel ignores the upper half of an int argument.
constexpr std::uint32_t argument(unsigned index) {
  return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * index);
}

// A tiny assembler: jumps name a label, bound where its block starts and resolved once every
// instruction is placed. Two labels exist from the start: the program's two returns.
class Program {
 public:
  using Label = int;
  static constexpr Label kAllow = 0;
  static constexpr Label kNotify = 1;

  Label label() {
    bound_.push_back(-1);
    return static_cast<Label>(bound_.size() - 1);
  }
  void bind(Label label) { bound_[label] = static_cast<int>(code_.size()); }

  void load(std::uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  // if (A == value) goto yes; else goto no.
  void jump_if_equal(std::uint32_t value, Label yes, Label no) { jump(BPF_JEQ, value, yes, no); }
  void jump_if_at_least(std::uint32_t value, Label yes, Label no) { jump(BPF_JGE, value, yes, no); }
  void jump_if_any_bit(std::uint32_t bits, Label yes, Label no) { jump(BPF_JSET, bits, yes, no); }
  // Jumps to the next instruction: a label bound right after the jump.
  Label next() {
    Label here = label();
    pending_next_.push_back(here);
    return here;
  }

  std::vector<sock_filter> finish() {
    bind(kAllow);
    code_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    bind(kNotify);
    code_.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    for (const Pending& jump : jumps_) {
      code_[jump.at].jt = offset(jump.at, jump.yes);
      code_[jump.at].jf = offset(jump.at, jump.no);
    }
    return code_;
  }

 private:
  struct Pending {
    int at;
    Label yes, no;
  };
  void jump(std::uint16_t condition, std::uint32_t value, Label yes, Label no) {
    jumps_.push_back({static_cast<int>(code_.size()), yes, no});
    code_.push_back(BPF_JUMP(BPF_JMP | condition | BPF_K, value, 0, 0));
    for (Label label : pending_next_) bind(label);
    pending_next_.clear();
  }
  // Classic BPF jumps forward only, by at most 255: this program is a few dozen long.
  std::uint8_t offset(int from, Label to) const {
    return static_cast<std::uint8_t>(bound_[to] - from - 1);
  }
  std::vector<sock_filter> code_;
  std::vector<int> bound_ = {-1, -1};
  std::vector<Pending> jumps_;
  std::vector<Label> pending_next_;
};

}  // namespace

bool filter_supported() {
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

std::vector<sock_filter> notifying_filter(bool notify_accept) {
  Program program;
#if defined(__x86_64__)
  using P = Program;
  const P::Label dispatch = program.label(), sendto = program.label(), sendmsg = program.label(),
                 setsockopt = program.label(), tcp_level = program.label(),
                 socket_level = program.label();

  program.load(kArch);
  program.jump_if_equal(kArchitecture, dispatch, P::kAllow);
  program.bind(dispatch);
  program.load(kNumber);
  program.jump_if_at_least(kForeignAbiBit, P::kAllow, program.next());
  program.jump_if_equal(__NR_connect, P::kNotify, program.next());
  program.jump_if_equal(__NR_listen, P::kNotify, program.next());
  if (notify_accept) {
    program.jump_if_equal(__NR_accept, P::kNotify, program.next());
    program.jump_if_equal(__NR_accept4, P::kNotify, program.next());
  }
  program.jump_if_equal(__NR_sendto, sendto, program.next());
  program.jump_if_equal(__NR_sendmsg, sendmsg, program.next());
  program.jump_if_equal(__NR_setsockopt, setsockopt, P::kAllow);

  program.bind(sendto);  // sendto(fd, buffer, length, flags, address, address_length)
  program.load(argument(3));
  program.jump_if_any_bit(MSG_FASTOPEN, P::kNotify, P::kAllow);

  program.bind(sendmsg);  // sendmsg(fd, message, flags)
  program.load(argument(2));
  program.jump_if_any_bit(MSG_FASTOPEN, P::kNotify, P::kAllow);

  program.bind(setsockopt);  // setsockopt(fd, level, optname, optval, optlen)
  program.load(argument(1));
  program.jump_if_equal(SOL_SOCKET, socket_level, program.next());
  program.jump_if_equal(IPPROTO_TCP, tcp_level, P::kAllow);

  program.bind(socket_level);
  program.load(argument(2));
  program.jump_if_equal(SO_KEEPALIVE, P::kNotify, P::kAllow);

  program.bind(tcp_level);
  program.load(argument(2));
  program.jump_if_equal(TCP_KEEPIDLE, P::kNotify, program.next());
  program.jump_if_equal(TCP_KEEPINTVL, P::kNotify, program.next());
  program.jump_if_equal(TCP_KEEPCNT, P::kNotify, program.next());
  program.jump_if_equal(TCP_USER_TIMEOUT, P::kNotify, P::kAllow);
#endif
  return program.finish();
}

}  // namespace kashim::supervise
