#include "kiln_process.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <regex>
#include <signal.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "settings.hpp"

extern char** environ;

namespace kiln::test {

void sleep_briefly() {
  std::this_thread::sleep_for(10ms);
}

exit_status exited_with(int code) {
  return {true, code};
}
exit_status killed_by(int signal) {
  return {false, signal};
}

std::string describe(const exit_status& status) {
  return status.exited ? "exit code " + std::to_string(status.code)
                       : std::string("signal ") + strsignal(status.code);
}

kiln_process::kiln_process(std::vector<std::string> arguments)
    : kiln_process(options{.arguments = std::move(arguments)}) {}

kiln_process::kiln_process(options how) {
  char path[] = "/tmp/kiln-test-output-XXXXXX";
  int output_fd = mkstemp(path);
  REQUIRE(output_fd >= 0);
  output_path_ = path;

  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    auto equals = text.find('=');
    if (equals != std::string_view::npos) {
      environment[std::string(text.substr(0, equals))] = std::string(text.substr(equals + 1));
    }
  }
  for (const auto& name : how.unset)
    environment.erase(name);
  for (const auto& [name, value] : how.environment)
    environment[name] = value;
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : environment)
    env_strings.push_back(name + "=" + value);

  std::vector<std::string> argv_strings{how.binary};
  argv_strings.insert(argv_strings.end(), how.arguments.begin(), how.arguments.end());
  std::vector<char*> argv;
  for (auto& text : argv_strings)
    argv.push_back(text.data());
  argv.push_back(nullptr);
  // LISTEN_PID must be the child's own pid, known only after fork: room is made for it here,
  // because allocating after fork in a process with threads is not safe.
  char listen_pid[32] = "LISTEN_PID=";
  bool announce = !how.listen_fds.empty() && how.announce_listen_fds;
  if (announce) {
    env_strings.push_back("LISTEN_FDS=" + std::to_string(how.listen_fds.size()));
    if (!how.listen_fd_names.empty())
      env_strings.push_back("LISTEN_FDNAMES=" + how.listen_fd_names);
  }
  std::vector<char*> envp;
  for (auto& text : env_strings)
    envp.push_back(text.data());
  if (announce) envp.push_back(listen_pid);
  envp.push_back(nullptr);

  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    dup2(output_fd, STDOUT_FILENO);
    dup2(output_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    if (!how.listen_fds.empty()) {
      // Out of the way of 3, 4, ... first, then into place (dup2 clears close-on-exec).
      int high[16];
      std::size_t count = std::min<std::size_t>(how.listen_fds.size(), 16);
      for (std::size_t i = 0; i < count; ++i)
        high[i] = fcntl(how.listen_fds[i], F_DUPFD, 100);
      for (std::size_t i = 0; i < count; ++i)
        dup2(high[i], 3 + static_cast<int>(i));
      char digits[16];
      int length = 0;
      for (pid_t pid = getpid(); pid > 0; pid /= 10) {
        digits[length++] = static_cast<char>('0' + pid % 10);
      }
      char* out = listen_pid + std::strlen(listen_pid);
      while (length > 0)
        *out++ = digits[--length];
      *out = '\0';
    }
    if (!how.directory.empty() && chdir(how.directory.c_str()) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(output_fd);

  if (!how.wait_until_listening) return;
  static const std::regex listening(R"(Listening at: http://[^ ]*:(\d+))");
  bool ready = eventually([&] {
    if (!running()) return true;
    std::string text = this->output();
    ports_.clear();
    for (auto match = std::sregex_iterator(text.begin(), text.end(), listening);
         match != std::sregex_iterator(); ++match) {
      ports_.push_back(static_cast<std::uint16_t>(std::stoi((*match)[1])));
    }
    // Ready once the workers have started, or at least a port is known.
    return !ports_.empty() && text.find("Booting worker") != std::string::npos;
  });
  INFO("kiln output:\n" << output());
  REQUIRE(ready);
  REQUIRE(running());
  REQUIRE(!ports_.empty());
  port_ = ports_.front();
}

kiln_process::~kiln_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    waitpid(pid_, &raw, 0);
  }
  if (!output_path_.empty()) unlink(output_path_.c_str());
}

std::uint16_t kiln_process::metrics_port() const {
  std::smatch match;
  std::string text;
  std::regex line(R"(Serving metrics at: http://127\.0\.0\.1:(\d+)/metrics)");
  REQUIRE(eventually([&] {
    text = output();
    return std::regex_search(text, match, line);
  }));
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

std::string kiln_process::output() const {
  std::ifstream file(output_path_, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

bool kiln_process::wait_for_output(std::string_view text, std::chrono::milliseconds limit) const {
  return eventually([&] { return output().find(text) != std::string::npos; }, limit);
}

std::size_t kiln_process::count_in_output(std::string_view text) const {
  std::string all = output();
  std::size_t count = 0;
  for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + text.size())) {
    ++count;
  }
  return count;
}

void kiln_process::signal(int number) const {
  REQUIRE(::kill(pid_, number) == 0);
}

bool kiln_process::running() {
  if (status_) return false;
  int raw = 0;
  pid_t done = waitpid(pid_, &raw, WNOHANG);
  if (done == pid_) {
    status_ = WIFEXITED(raw) ? exited_with(WEXITSTATUS(raw)) : killed_by(WTERMSIG(raw));
    return false;
  }
  return true;
}

std::optional<exit_status> kiln_process::wait(std::chrono::milliseconds limit) {
  eventually([&] { return !running(); }, limit);
  return status_;
}

exit_status kiln_process::stop(int number) {
  if (running()) signal(number);
  auto status = wait();
  UNSCOPED_INFO("kiln output:\n" << output());
  REQUIRE(status.has_value());
  return *status;
}

upgraded_master::upgraded_master(const kiln_process& kiln, const std::string& pidfile) {
  kiln.signal(SIGUSR2);
  REQUIRE(eventually([&] {
    std::ifstream file(pidfile);
    return file >> pid_ && pid_ != kiln.pid();
  }));
}

upgraded_master::~upgraded_master() {
  if (pid_ <= 0 || ::kill(pid_, 0) != 0) return;
  ::kill(pid_, SIGKILL);
  // Its parent, the old master, reaps it; if that has gone, init does.
}

std::vector<std::string> kiln_variables() {
  std::vector<std::string> names{"PORT",        "WEB_CONCURRENCY",    "HTTP_SERVE_TIMEOUT_SECONDS",
                                 "KILN_CONFIG", "GUNICORN_CMD_ARGS",  "VIRTUAL_ENV",
                                 "SCRIPT_NAME", "FORWARDED_ALLOW_IPS"};
  for (const auto& info : setting_registry())
    names.push_back(info.environment_variable());
  return names;
}

kiln_run run(std::vector<std::string> arguments, std::map<std::string, std::string> env,
             std::string directory) {
  kiln_process kiln(kiln_process::options{.arguments = std::move(arguments),
                                          .environment = std::move(env),
                                          .unset = kiln_variables(),
                                          .wait_until_listening = false,
                                          .directory = std::move(directory)});
  auto status = kiln.wait();
  return {status, kiln.output()};
}

bool has_line(const std::string& output, const std::string& line) {
  return ("\n" + output).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace kiln::test
