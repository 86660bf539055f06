// Scenarios where something the shim does on its own account reaches the program: the
// signals its log writes raise, and the locks its log file's close() drops.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

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

}  // namespace probe
