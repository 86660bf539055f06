// uring_probe ADDRESS PORT [async]: a connection whose socket is created and connected
// through io_uring (IORING_OP_SOCKET, IORING_OP_CONNECT), never by the socket() or
// connect() system calls; with "async" both go to io_uring's worker threads (IOSQE_ASYNC).
// Prints "connected keepalive=K idle=I intvl=N cnt=C user_timeout=U" on stdout, then reads
// until the peer closes. Exit 77 when the kernel has no io_uring (or refuses it).
// Raw system calls: no liburing needed.
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Ring {
  int fd = -1;
  unsigned char* rings = nullptr;
  io_uring_sqe* sqes = nullptr;
  io_uring_params params{};
};

unsigned* at(const Ring& ring, unsigned offset) {
  return reinterpret_cast<unsigned*>(ring.rings + offset);
}

bool set_up(Ring* ring) {
  ring->fd = static_cast<int>(syscall(__NR_io_uring_setup, 4, &ring->params));
  if (ring->fd < 0) return false;
  const io_uring_params& p = ring->params;
  if ((p.features & IORING_FEAT_SINGLE_MMAP) == 0) return false;
  const std::size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const std::size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  void* rings = mmap(nullptr, sq_size > cq_size ? sq_size : cq_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQ_RING);
  void* sqes = mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQES);
  if (rings == MAP_FAILED || sqes == MAP_FAILED) return false;
  ring->rings = static_cast<unsigned char*>(rings);
  ring->sqes = static_cast<io_uring_sqe*>(sqes);
  return true;
}

// Submits one request and waits for its completion: the result (a negative errno on failure).
int submit_and_wait(Ring* ring, const io_uring_sqe& request) {
  const io_uring_params& p = ring->params;
  std::atomic_ref<unsigned> sq_tail(*at(*ring, p.sq_off.tail));
  const unsigned tail = sq_tail.load(std::memory_order_acquire);
  const unsigned index = tail & *at(*ring, p.sq_off.ring_mask);
  ring->sqes[index] = request;
  at(*ring, p.sq_off.array)[index] = index;
  sq_tail.store(tail + 1, std::memory_order_release);
  if (syscall(__NR_io_uring_enter, ring->fd, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) {
    return -errno;
  }
  std::atomic_ref<unsigned> cq_head(*at(*ring, p.cq_off.head));
  const unsigned head = cq_head.load(std::memory_order_acquire);
  auto* cqes = reinterpret_cast<io_uring_cqe*>(ring->rings + p.cq_off.cqes);
  const int result = cqes[head & *at(*ring, p.cq_off.ring_mask)].res;
  cq_head.store(head + 1, std::memory_order_release);
  return result;
}

int read_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: uring_probe ADDRESS PORT [async]\n");
    return 2;
  }
  const __u8 flags = argc > 3 && std::string(argv[3]) == "async" ? IOSQE_ASYNC : 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) return 2;
  Ring ring;
  if (!set_up(&ring)) {
    std::fprintf(stderr, "uring_probe: io_uring unavailable: %s\n", std::strerror(errno));
    return 77;
  }
  io_uring_sqe request{};
  request.opcode = IORING_OP_SOCKET;
  request.flags = flags;
  request.fd = AF_INET;
  request.off = SOCK_STREAM;
  const int fd = submit_and_wait(&ring, request);
  if (fd == -EINVAL || fd == -EOPNOTSUPP) {
    std::fprintf(stderr, "uring_probe: no IORING_OP_SOCKET: %s\n", std::strerror(-fd));
    return 77;
  }
  if (fd < 0) {
    std::fprintf(stderr, "uring_probe: socket: %s\n", std::strerror(-fd));
    return 1;
  }
  request = {};
  request.opcode = IORING_OP_CONNECT;
  request.flags = flags;
  request.fd = fd;
  request.addr = reinterpret_cast<__u64>(&address);
  request.off = sizeof address;
  if (const int result = submit_and_wait(&ring, request); result < 0) {
    std::fprintf(stderr, "uring_probe: connect: %s\n", std::strerror(-result));
    return 1;
  }
  std::printf("connected keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d\n",
              read_option(fd, SOL_SOCKET, SO_KEEPALIVE), read_option(fd, IPPROTO_TCP, TCP_KEEPIDLE),
              read_option(fd, IPPROTO_TCP, TCP_KEEPINTVL),
              read_option(fd, IPPROTO_TCP, TCP_KEEPCNT),
              read_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
  std::fflush(stdout);
  char buffer[256];
  while (read(fd, buffer, sizeof buffer) > 0) {
  }
  return 0;
}
