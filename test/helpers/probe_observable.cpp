// Scenarios where something the shim does on its own account reaches the program: the
// signals its log writes raise, the locks its log file's close() drops, and a signal
// handler that jumps out of the shim's work.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "probe.hpp"

namespace probe {
namespace {

// How a child ended, by name: "exit:N", "signal:SIGPIPE", "stopped:SIGTTOU".
std::string ending(int status) {
  if (WIFEXITED(status)) return "exit:" + std::to_string(WEXITSTATUS(status));
  const int number = WIFSIGNALED(status) ? WTERMSIG(status) : WSTOPSIG(status);
  const char* name = sigabbrev_np(number);
  return std::string(WIFSIGNALED(status) ? "signal:SIG" : "stopped:SIG") +
         (name != nullptr ? name : std::to_string(number));
}

// This probe again, as scenario `socket v4 stream` (one socket() call), with `stderr_fd` as
// its standard error and the signals the kernel raises for a write at their defaults, as a
// C program starts with them.
[[noreturn]] void exec_socket_probe(int stderr_fd) {
  for (int number : {SIGPIPE, SIGXFSZ, SIGTTOU}) signal(number, SIG_DFL);
  if (stderr_fd != STDERR_FILENO) dup2(stderr_fd, STDERR_FILENO);
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) _exit(127);
  self[length] = '\0';
  execl(self, self, "/dev/null", "socket", "v4", "stream", nullptr);
  _exit(127);
}

std::string wait_for(pid_t child) {
  int status = 0;
  if (waitpid(child, &status, WUNTRACED) != child) die("waitpid");
  if (WIFSTOPPED(status)) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  return ending(status);
}

// stderr a pipe whose reader is gone (a log collector that died).
std::string with_stderr_a_pipe_without_reader() {
  int ends[2];
  if (pipe(ends) != 0) die("pipe");
  close(ends[0]);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) exec_socket_probe(ends[1]);
  close(ends[1]);
  return wait_for(child);
}

// stderr a file already at the size RLIMIT_FSIZE allows (a sandbox's limit).
std::string with_stderr_a_file_at_its_size_limit() {
  char path[] = "/tmp/kashim-probe-fsize-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) die("mkstemp");
  unlink(path);
  static const char block[4096] = {};
  if (write(fd, block, sizeof block) != sizeof block) die("write");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    rlimit limit{sizeof block, sizeof block};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    exec_socket_probe(fd);
  }
  close(fd);
  return wait_for(child);
}

// stderr the terminal of a background job, with `stty tostop`: a session of its own on a
// new pseudo-terminal, the probe in a process group that is not the foreground one.
std::string as_a_background_job_on_a_tostop_terminal() {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return "no-pty";
  const std::string slave_path = ptsname(master);
  int report[2];
  if (pipe(report) != 0) die("pipe");
  pid_t leader = fork();
  if (leader < 0) die("fork");
  if (leader == 0) {
    close(report[0]);
    setsid();
    int slave = open(slave_path.c_str(), O_RDWR);  // the session's controlling terminal
    termios settings{};
    if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0 || tcgetattr(slave, &settings) != 0) _exit(3);
    settings.c_lflag |= TOSTOP;
    if (tcsetattr(slave, TCSANOW, &settings) != 0) _exit(3);
    pid_t job = fork();
    if (job == 0) {
      setpgid(0, 0);  // a background job: the leader's group stays in the foreground
      exec_socket_probe(slave);
    }
    const std::string text = wait_for(job);
    _exit(write(report[1], text.data(), text.size()) > 0 ? 0 : 3);
  }
  close(report[1]);
  char text[64] = {};
  ssize_t got = read(report[0], text, sizeof text - 1);
  waitpid(leader, nullptr, 0);
  close(report[0]);
  close(master);
  return got > 0 ? std::string(text, static_cast<std::size_t>(got)) : "leader failed";
}

}  // namespace

// log-signals: a C program's one socket() under a log destination whose write the kernel
// answers with a signal. Reported: how each such child ended (pipe, fsize, tostop).
int scenario_log_signals(const std::vector<std::string>&) {
  put("pipe", with_stderr_a_pipe_without_reader());
  put("fsize", with_stderr_a_file_at_its_size_limit());
  put("tostop", as_a_background_job_on_a_tostop_terminal());
  return 0;
}

// log-file-lock PATH: the program holds a POSIX write lock on PATH (its own log file), makes
// one TCP socket, and asks a child whether the lock is still held (lock_held).
int scenario_log_file_lock(const std::vector<std::string>& args) {
  if (args.empty()) die("log-file-lock needs a path");
  int log = open(args[0].c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (log < 0 || fcntl(log, F_SETLK, &lock) != 0) die("lock " + args[0]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int answer[2];
  if (pipe(answer) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    int again = open(args[0].c_str(), O_WRONLY);
    struct flock asked {};
    asked.l_type = F_WRLCK;
    asked.l_whence = SEEK_SET;
    char held = again >= 0 && fcntl(again, F_GETLK, &asked) == 0 && asked.l_type != F_UNLCK;
    _exit(write(answer[1], &held, 1) == 1 ? 0 : 1);
  }
  char held = 2;
  waitpid(child, nullptr, 0);
  if (read(answer[0], &held, 1) != 1) die("read from child");
  put("lock_held", held);
  return 0;
}

namespace {
sigjmp_buf g_jump;
void jump_out(int) {
  siglongjmp(g_jump, 1);
}
constexpr int kDescriptors = 32;  // the probe opens a few
}  // namespace

// log-longjmp: the old "alarm around connect()" idiom, at a high rate. A timer's handler
// siglongjmp()s out of whatever runs, the hooks and the shim's log lines included (the
// test asks for a line per connection), for half a second. After every jump the program
// takes back what its own jump leaves (its signal blocked, its sockets) and counts what it
// finds changed besides: cancellation disabled, another signal blocked, a descriptor open
// that is not a socket (the program opens none).
int scenario_log_longjmp(const std::vector<std::string>&) {
  const int server = listener(AF_INET);
  fcntl(server, F_SETFL, O_NONBLOCK);
  const sockaddr_storage address = loopback(AF_INET, port_of(server));
  sigset_t program_mask, alarm;
  sigprocmask(SIG_SETMASK, nullptr, &program_mask);
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  bool open_at_start[kDescriptors];
  for (int fd = 0; fd < kDescriptors; ++fd) open_at_start[fd] = fcntl(fd, F_GETFD) >= 0;
  struct sigaction action {};
  action.sa_handler = jump_out;  // no SA_RESTART: the connect is interrupted
  sigaction(SIGALRM, &action, nullptr);
  sigprocmask(SIG_BLOCK, &alarm, nullptr);
  long jumps = 0, cancel_disabled = 0, mask_changed = 0, file_left = 0;
  unsigned random = 15;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  for (long round = 0; round < 200000 && std::chrono::steady_clock::now() < until; ++round) {
    // One alarm per round, 1 to 64 us after the calls begin: it lands anywhere in them.
    const timespec now_please{};
    sigtimedwait(&alarm, nullptr, &now_please);
    random = random * 1103515245 + 12345;
    const itimerval once{{0, 0}, {0, static_cast<suseconds_t>(1 + (random >> 16) % 64)}};
    setitimer(ITIMER_REAL, &once, nullptr);
    if (sigsetjmp(g_jump, 0) == 0) {
      sigprocmask(SIG_UNBLOCK, &alarm, nullptr);
      const int client = socket(AF_INET, SOCK_STREAM, 0);
      connect(client, reinterpret_cast<const sockaddr*>(&address), length_of(AF_INET));
      sigprocmask(SIG_BLOCK, &alarm, nullptr);
    } else {
      ++jumps;  // SIGALRM still blocked: the handler's mask, not restored by the jump
    }
    const itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    for (int queued; (queued = accept(server, nullptr, nullptr)) >= 0;) close(queued);
    int state = PTHREAD_CANCEL_ENABLE;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &state);
    if (state != PTHREAD_CANCEL_ENABLE) ++cancel_disabled;
    sigset_t now, expected = program_mask;
    sigaddset(&expected, SIGALRM);
    sigprocmask(SIG_SETMASK, &expected, &now);
    bool changed = false;  // by sigismember: the kernel fills 8 of sigset_t's 128 bytes
    for (int number = 1; number < NSIG; ++number) {
      changed = changed || sigismember(&now, number) != sigismember(&expected, number);
    }
    if (changed) ++mask_changed;
    bool file = false;
    for (int fd = 0; fd < kDescriptors; ++fd) {
      struct stat status;
      if (open_at_start[fd] || fstat(fd, &status) != 0) continue;
      file = file || !S_ISSOCK(status.st_mode);
      close(fd);
    }
    if (file) ++file_left;
  }
  sigprocmask(SIG_SETMASK, &program_mask, nullptr);
  put("jumps", jumps > 100 ? "many" : std::to_string(jumps));
  put("cancel_disabled", cancel_disabled);
  put("mask_changed", mask_changed);
  put("file_left", file_left);
  return 0;
}

}  // namespace probe
