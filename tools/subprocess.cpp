#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>

extern char** environ;

namespace dagrad::tools {

namespace {

// Owns a file descriptor; closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Moves `fd` above the standard descriptors: if the caller's stdin/out/err were closed, a new
// pipe end could be 0, 1 or 2, and dup2 onto itself would keep its close-on-exec flag.
int above_standard(int fd) {
  if (fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

bool make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(above_standard(fds[0]));
  write_end.reset(above_standard(fds[1]));
  return read_end.get() >= 0 && write_end.get() >= 0;
}

// Reads what is available; returns false at end of file (or a read error).
bool drain(int fd, std::string& into) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

void record_status(int status, ProgramResult& result) {
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          double timeout_seconds) {
  using Clock = std::chrono::steady_clock;
  // NaN or negative: no time; beyond a year would overflow the clock's duration.
  timeout_seconds = timeout_seconds > 0 ? std::min(timeout_seconds, 3.2e7) : 0.0;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));
  ProgramResult result;

  // Standard input is a socket so that writing to a child that already exited returns EPIPE
  // (send with MSG_NOSIGNAL) instead of raising SIGPIPE in this process.
  Fd in_parent, in_child, out_read, out_write, err_read, err_write;
  {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      result.spawn_error = errno;
      return result;
    }
    in_parent.reset(above_standard(sv[0]));
    in_child.reset(above_standard(sv[1]));
  }
  if (in_parent.get() < 0 || in_child.get() < 0 || !make_pipe(out_read, out_write) ||
      !make_pipe(err_read, err_write)) {
    result.spawn_error = errno != 0 ? errno : EMFILE;
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, default_signals;
  sigemptyset(&none);
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawned = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    result.spawn_error = spawned;
    return result;
  }
  in_child.reset();
  out_write.reset();
  err_write.reset();
  for (const Fd* fd : {&in_parent, &out_read, &err_read})
    ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);

  std::size_t written = 0;
  if (input.empty()) in_parent.reset();
  bool out_open = true, err_open = true;
  bool in_time = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      in_time = false;
      break;
    }
    pollfd fds[3];
    nfds_t count = 0;
    int in_index = -1, out_index = -1, err_index = -1;
    if (in_parent.get() >= 0) {
      in_index = static_cast<int>(count);
      fds[count++] = {in_parent.get(), POLLOUT, 0};
    }
    if (out_open) {
      out_index = static_cast<int>(count);
      fds[count++] = {out_read.get(), POLLIN, 0};
    }
    if (err_open) {
      err_index = static_cast<int>(count);
      fds[count++] = {err_read.get(), POLLIN, 0};
    }
    int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    if (in_index >= 0 && fds[in_index].revents != 0) {
      ssize_t n = ::send(in_parent.get(), input.data() + written, input.size() - written,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) written += static_cast<std::size_t>(n);
      bool failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
      // All written (the child sees end of file) or the child stopped reading.
      if (written == input.size() || failed) in_parent.reset();
    }
    if (out_index >= 0 && fds[out_index].revents != 0) out_open = drain(out_read.get(), result.out);
    if (err_index >= 0 && fds[err_index].revents != 0) err_open = drain(err_read.get(), result.err);
  }
  in_parent.reset();

  // Its output is closed; it may still be running (or have left a child holding nothing).
  int status = 0;
  while (in_time) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      record_status(status, result);
      return result;
    }
    if (done < 0 && errno != EINTR) break;
    if (Clock::now() >= deadline)
      in_time = false;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  result.timed_out = !in_time;
  ::kill(-pid, SIGKILL);  // the child's process group: the child and whatever it started
  ::kill(pid, SIGKILL);
  pid_t done;
  while ((done = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  // Not reaped (SIGCHLD ignored by the caller): the status is unknown, never a success.
  if (done == pid) record_status(status, result);
  return result;
}

}  // namespace dagrad::tools
