#include "tests/support/test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace galvatron::testing {

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

}  // namespace

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

int WaitForPort(const std::string& port_file, std::chrono::milliseconds timeout) {
  long port = 0;
  WaitFor(
      [&] {
        const std::string text = Slurp(port_file);
        char* end = nullptr;
        port = std::strtol(text.c_str(), &end, 10);
        // A whole number (the writer may not have finished the line yet).
        return end != text.c_str() && (*end == '\0' || *end == '\n') && port > 0 && port < 65536;
      },
      timeout);
  return port > 0 && port < 65536 ? static_cast<int>(port) : 0;
}

TempDir::TempDir() {
  std::string pattern = EnvOr("TMPDIR", "/tmp") + "/galvatron-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string BinDir() { return EnvOr("GALVATRON_BIN_DIR", GALVATRON_DEFAULT_BIN_DIR); }
std::string SourceDir() { return EnvOr("GALVATRON_SOURCE_DIR", GALVATRON_DEFAULT_SOURCE_DIR); }

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "execv %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int signal_number) {
  if (!reaped_) ::kill(pid_, signal_number);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (!WaitFor([this] { return !running(); }, timeout)) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir;
  const std::string out_path = dir.File("out"), err_path = dir.File("err");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "execv %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  bool done = WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  CommandResult result;
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = Slurp(out_path);
  result.err = Slurp(err_path);
  return result;
}

PlannerProcess::PlannerProcess(const std::string& db_path, const std::string& work_dir)
    : PlannerProcess(db_path, work_dir, {}) {}

PlannerProcess::PlannerProcess(const std::string& db_path, const std::string& work_dir,
                               const std::vector<std::string>& extra_args,
                               const std::string& listen) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  const std::string ready = work_dir + "/planner-ready-" + std::to_string(n);
  log_path_ = work_dir + "/planner-" + std::to_string(n) + ".log";
  ::unlink(ready.c_str());
  std::vector<std::string> argv = {
      BinDir() + "/galvatron-planner", "--db", db_path, "--listen", listen, "--ready-file", ready};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, log_path_);
  bool up = WaitFor([&] { return ::access(ready.c_str(), F_OK) == 0 || !process_->running(); },
                    std::chrono::seconds(20));
  if (!up || !process_->running()) {
    throw std::runtime_error("galvatron-planner did not start; log:\n" + Log());
  }
  address_ = Slurp(ready);
  while (!address_.empty() && (address_.back() == '\n' || address_.back() == ' ')) {
    address_.pop_back();
  }
}

std::string PlannerProcess::Log() const { return Slurp(log_path_); }

}  // namespace galvatron::testing
