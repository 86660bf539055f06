/* The kernel half of `kashim cgroup`: keep-alive for every TCP connection of a cgroup.
 *
 * kashim_sockops runs when a socket of the cgroup connects (TCP_CONNECT_CB: the program
 * opened it, out — before its SYN is sent, so that TCP_USER_TIMEOUT bounds connect()
 * itself) and when a connection it accepted is established (PASSIVE_ESTABLISHED: in), and,
 * if the settings want it (core's wants_connection: direction, then peers), switches
 * SO_KEEPALIVE on and sets the configured TCP options, as core's apply_keepalive does.
 * A passive open of a socket that connected is a simultaneous open (a socket connecting to
 * its own address): out, and decided already at connect() when a direction is set or the
 * socket has a record (below). Each connect() of a socket is decided for its own peer: a
 * second one after a refused attempt is wanted or not as on a fresh socket (what the first
 * set stays: the kernel cannot set an option back to "not set"), as the preload decides a
 * connect() after a refused one.
 *
 * kashim_setsockopt sees the programs' own setsockopt calls of the managed options. Force
 * mode: the configured value replaces the program's (and SO_KEEPALIVE cannot be switched
 * off) — with a filter, only on connections kashim tuned — as core's after_program_set
 * does. Fallback mode: it only remembers which options the program set, and kashim's
 * decision, at connect() or acceptance, leaves them alone. Calls the kernel would refuse (short
 * optlen, a value out of range) pass untouched, so the program gets the kernel's own error.
 *
 * A socket belongs to the cgroup of the process that created it; an accepted one to its
 * listener's. Built with clang -target bpf against <linux/bpf.h>, no vmlinux.h. */
/* The kernel's UAPI first: libbpf's headers use its types. */
#include <asm-generic/socket.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "settings.h"

#define KASHIM_AF_INET 2 /* <sys/socket.h> is libc's; the values are the ABI's */
#define KASHIM_AF_INET6 10
#define KASHIM_SOCK_STREAM 1

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kashim_settings);
} settings SEC(".maps");

/* Per CPU: no cache line shared by the CPUs on any connection. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, KASHIM_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

/* What kashim knows about one socket. Cloned from a listener to the connections it
 * accepts (BPF_F_CLONE), as the kernel copies the listener's options to them. */
struct socket_record {
  /* The socket's cookie once kashim decided at its connect(). A cookie rather than a flag:
   * a clone (a connection accepted from a socket that connected once, then listened) gets
   * a cookie of its own, and is not taken for the socket that connected. */
  __u64 connected;
  __u8 tuned;       /* with a filter, kashim tuned this connection: force mode keeps its values */
  __u8 program_set; /* option bits the program set itself: fallback mode keeps them */
};

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
  __type(key, int);
  __type(value, struct socket_record);
} sockets SEC(".maps");

/* The TCP options in kManagedTcpOptions order. Functions rather than constant tables:
 * clang puts small tables in merged constant sections, which libbpf refuses. */
static __always_inline int tcp_optname(int index) {
  switch (index) {
    case 0:
      return TCP_KEEPIDLE;
    case 1:
      return TCP_KEEPINTVL;
    case 2:
      return TCP_KEEPCNT;
    default:
      return TCP_USER_TIMEOUT;
  }
}

/* Within the kernel's bounds (include/net/tcp.h), outside which its setsockopt fails with
 * EINVAL. */
static __always_inline int tcp_value_valid(int index, int value) {
  switch (index) {
    case 0:
    case 1:
      return value >= 1 && value <= 32767;
    case 2:
      return value >= 1 && value <= 127;
    default:
      return value >= 0;
  }
}

static void count(__u32 counter) {
  __u64* value = bpf_map_lookup_elem(&counters, &counter);
  /* Atomic still: a softirq may run a callback while this CPU is in another one. */
  if (value) __sync_fetch_and_add(value, 1);
}

static const struct kashim_settings* active_settings(void) {
  __u32 zero = 0;
  const struct kashim_settings* current = bpf_map_lookup_elem(&settings, &zero);
  return current && current->active ? current : 0;
}

/* Config::selective: a filter decides connection by connection. Without one, force mode
 * needs no record of which connections were tuned (all of them are), which spares accepted
 * connections a socket-storage allocation. */
static __always_inline int selective(const struct kashim_settings* current) {
  return current->peer_count != 0 || current->direction != KASHIM_DIRECTION_BOTH;
}

/* PeerFilter::match: the port first, then the family and the address prefix. */
static int peer_matches(const struct kashim_settings* current, struct bpf_sock_ops* skops) {
  if (current->peer_count == 0) return 1;
  __u32 address[4] = {0, 0, 0, 0};
  __u8 family;
  const __u16 port = (__u16)bpf_ntohl(skops->remote_port);
  if (skops->family == KASHIM_AF_INET) {
    family = KASHIM_PEER_IPV4;
    address[0] = skops->remote_ip4;
  } else if (skops->family == KASHIM_AF_INET6) {
    address[0] = skops->remote_ip6[0];
    address[1] = skops->remote_ip6[1];
    address[2] = skops->remote_ip6[2];
    address[3] = skops->remote_ip6[3];
    if (address[0] == 0 && address[1] == 0 && address[2] == bpf_htonl(0xffff)) {
      /* ::ffff:a.b.c.d, what a dual-stack socket sees, is an IPv4 peer */
      family = KASHIM_PEER_IPV4;
      address[0] = address[3];
      address[2] = address[3] = 0;
    } else {
      family = KASHIM_PEER_IPV6;
    }
  } else {
    return 0;
  }
  for (__u32 i = 0; i < KASHIM_MAX_PEERS; ++i) {
    if (i >= current->peer_count) break;
    const struct kashim_peer* pattern = &current->peers[i];
    if (pattern->port != 0 && pattern->port != port) continue;
    if (pattern->family == KASHIM_PEER_ANY) return 1;
    if (pattern->family != family) continue;
    if ((address[0] & pattern->mask[0]) == pattern->net[0] &&
        (address[1] & pattern->mask[1]) == pattern->net[1] &&
        (address[2] & pattern->mask[2]) == pattern->net[2] &&
        (address[3] & pattern->mask[3]) == pattern->net[3]) {
      return 1;
    }
  }
  return 0;
}

/* The decision for one connection, made once: `record` is the socket's, or 0 when it has
 * none (yet). */
static __always_inline int decide(struct bpf_sock_ops* skops, struct bpf_sock* sk,
                                  const struct kashim_settings* current,
                                  struct socket_record* record, __u8 side) {
  if ((current->direction != KASHIM_DIRECTION_BOTH && current->direction != side) ||
      !peer_matches(current, skops)) {
    /* A socket that connects again, now to a peer not wanted: the program's own setsockopt
     * calls stand from now on, as on a socket kashim never tuned. */
    if (record) record->tuned = 0;
    count(KASHIM_NOT_WANTED);
    return 1;
  }
  __u8 skip = 0;
  if (current->mode == KASHIM_MODE_FALLBACK) {
    if (record) skip = record->program_set;
    if (!(skip & KASHIM_BIT_KEEPALIVE)) {
      /* Keep-alive on though no setsockopt of the program's switching it reached kashim: it
       * was switched on before kashim was attached, and the program's settings stand. */
      int on = 0;
      if (bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) == 0 && on) {
        count(KASHIM_KEPT_PROGRAMS);
        return 1;
      }
    }
  }
  /* The TCP options before SO_KEEPALIVE: with keep-alive still off, TCP_KEEPIDLE only stores
   * its value instead of re-arming the keep-alive timer, which switching it on then arms
   * once. The result is apply_keepalive's. */
  int failed = 0;
  for (int i = 0; i < KASHIM_TCP_OPTIONS; ++i) {
    if (!(current->tcp_set & KASHIM_BIT_TCP(i)) || (skip & KASHIM_BIT_TCP(i))) continue;
    int value = current->tcp_value[i];
    failed |= bpf_setsockopt(skops, IPPROTO_TCP, tcp_optname(i), &value, sizeof value);
  }
  if (!(skip & KASHIM_BIT_KEEPALIVE)) {
    int on = 1;
    failed |= bpf_setsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  }
  if (current->mode == KASHIM_MODE_FORCE && selective(current)) {
    if (!record) record = bpf_sk_storage_get(&sockets, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (record) record->tuned = 1;
  }
  count(side == KASHIM_DIRECTION_OUT ? KASHIM_TUNED_OUT : KASHIM_TUNED_IN);
  if (failed) count(KASHIM_SET_FAILED);
  return 1;
}

SEC("sockops")
int kashim_sockops(struct bpf_sock_ops* skops) {
  const __u32 op = skops->op;
  if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) return 1;
  const struct kashim_settings* current = active_settings();
  if (!current) return 1;
  struct bpf_sock* sk = skops->sk;
  if (!sk) return 1;
  if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
    /* Connecting sockets are marked, so that a simultaneous open is not decided again as
     * in. A record is made for it only when a direction is set, where that second decision
     * would differ (the peer is the same): a socket-storage allocation per connection costs
     * as much as the rest of kashim (doc/cgroup.md, Cost). Without one, both decisions give
     * the same values and the connection is counted twice. */
    const __u64 create =
        current->direction != KASHIM_DIRECTION_BOTH ? BPF_SK_STORAGE_GET_F_CREATE : 0;
    struct socket_record* record = bpf_sk_storage_get(&sockets, sk, 0, create);
    if (record) record->connected = bpf_get_socket_cookie(skops);
    return decide(skops, sk, current, record, KASHIM_DIRECTION_OUT);
  }
  /* Most accepted connections have no record: their listener had none to clone. */
  struct socket_record* record = bpf_sk_storage_get(&sockets, sk, 0, 0);
  if (record && record->connected && record->connected == bpf_get_socket_cookie(skops)) {
    return 1; /* a simultaneous open: out, decided at connect() */
  }
  return decide(skops, sk, current, record, KASHIM_DIRECTION_IN);
}

/* The bit of a managed option, and its index among the TCP ones (-1 for SO_KEEPALIVE). */
static __u8 managed_bit(int level, int optname, int* index) {
  *index = -1;
  if (level == SOL_SOCKET) return optname == SO_KEEPALIVE ? KASHIM_BIT_KEEPALIVE : 0;
  if (level != IPPROTO_TCP) return 0;
  for (int i = 0; i < KASHIM_TCP_OPTIONS; ++i) {
    if (tcp_optname(i) == optname) {
      *index = i;
      return KASHIM_BIT_TCP(i);
    }
  }
  return 0;
}

SEC("cgroup/setsockopt")
int kashim_setsockopt(struct bpf_sockopt* ctx) {
  /* A buffer longer than a page (4096 bytes or more) reaches the program truncated: optlen 0
   * hands the kernel the program's own, which kernels before 6.5 require (they fail the
   * call with EFAULT otherwise). Such a call is never rewritten. */
  if (ctx->optlen > 4096) {
    ctx->optlen = 0;
    return 1;
  }
  int index;
  const __u8 bit = managed_bit(ctx->level, ctx->optname, &index);
  if (!bit) return 1;
  const struct kashim_settings* current = active_settings();
  if (!current) return 1;
  struct bpf_sock* sk = ctx->sk;
  if (!sk || sk->type != KASHIM_SOCK_STREAM || sk->protocol != IPPROTO_TCP) return 1;
  int* optval = ctx->optval;
  if (ctx->optlen < (int)sizeof(int) || (void*)(optval + 1) > ctx->optval_end) return 1;
  const int requested = *optval;
  if (index >= 0 && !tcp_value_valid(index, requested)) return 1; /* the kernel's EINVAL */
  if (current->mode == KASHIM_MODE_FALLBACK) {
    struct socket_record* record = bpf_sk_storage_get(&sockets, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (record) record->program_set |= bit;
    return 1;
  }
  if (selective(current)) {
    /* Only connections kashim tuned keep its values. Without a filter every connection is
     * tuned, and a value set before connect() is replaced then. */
    struct socket_record* record = bpf_sk_storage_get(&sockets, sk, 0, 0);
    if (!record || !record->tuned) return 1;
  }
  int wanted;
  if (index < 0) {
    if (requested != 0) return 1;
    wanted = 1; /* keep-alive stays on */
  } else if (index < KASHIM_TCP_OPTIONS && (current->tcp_set & bit)) {
    wanted = current->tcp_value[index];
    if (wanted == requested) return 1;
  } else {
    return 1;
  }
  *optval = wanted;
  count(KASHIM_REWRITTEN);
  return 1;
}
