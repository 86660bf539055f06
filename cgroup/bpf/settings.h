/* What kashim-cgroup hands the kernel program, and what the kernel program counts.
 *
 * Shared by the BPF program (C, clang -target bpf) and the command-line tool (C++): the
 * layout of the `settings` and `counters` maps. Plain fixed-width types only, no libc.
 * A pinned map from a build with another layout is refused by its value size. */
#ifndef KASHIM_CGROUP_BPF_SETTINGS_H
#define KASHIM_CGROUP_BPF_SETTINGS_H

#include <linux/types.h>

#define KASHIM_MAX_PEERS 32 /* kashim::kMaxPeerPatterns */

/* The options, as bits in the order of core's OptionBits: SO_KEEPALIVE, then
 * kManagedTcpOptions (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT). */
#define KASHIM_BIT_KEEPALIVE 0x01u
#define KASHIM_TCP_OPTIONS 4
#define KASHIM_BIT_TCP(index) (0x02u << (index))

enum kashim_mode { KASHIM_MODE_FORCE = 0, KASHIM_MODE_FALLBACK = 1 };
/* Sides as sock_ops reports them: an active open is a connection the program opens (out),
 * a passive open one it accepts (in). */
enum kashim_direction {
  KASHIM_DIRECTION_BOTH = 0,
  KASHIM_DIRECTION_OUT = 1,
  KASHIM_DIRECTION_IN = 2
};
enum kashim_peer_family { KASHIM_PEER_ANY = 0, KASHIM_PEER_IPV4 = 1, KASHIM_PEER_IPV6 = 2 };

/* One peer pattern. An address matches when (address & mask) == net word by word; an IPv4
 * address (or an IPv4-mapped IPv6 one) sits in word 0, the other words zero. */
struct kashim_peer {
  __u32 net[4];  /* network byte order */
  __u32 mask[4]; /* network byte order */
  __u16 port;    /* host byte order; 0: any port */
  __u8 family;   /* enum kashim_peer_family */
  __u8 unused;
};

struct kashim_settings {
  __u8 active; /* 0: the programs leave every socket alone */
  __u8 mode;   /* enum kashim_mode */
  __u8 direction;
  __u8 tcp_set;                        /* KASHIM_BIT_TCP(i) for every option configured */
  __s32 tcp_value[KASHIM_TCP_OPTIONS]; /* the configured values, in kManagedTcpOptions order */
  __u32 peer_count;                    /* 0: every peer */
  struct kashim_peer peers[KASHIM_MAX_PEERS];
};

/* Slots of the `counters` map. */
enum kashim_counter {
  KASHIM_TUNED_OUT = 0, /* connections opened and tuned */
  KASHIM_TUNED_IN,      /* connections accepted and tuned */
  KASHIM_NOT_WANTED,    /* left alone: direction or peers exclude them */
  KASHIM_KEPT_PROGRAMS, /* fallback: keep-alive already on before kashim saw the socket */
  KASHIM_REWRITTEN,     /* force: a program's setsockopt given the configured value */
  KASHIM_SET_FAILED,    /* connections where a bpf_setsockopt call failed */
  KASHIM_COUNTERS
};

#endif
