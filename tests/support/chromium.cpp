#include "chromium.hpp"

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "kiln_process.hpp"
#include "temporary.hpp"

namespace kiln::test {
namespace {

// Runs Chromium with these page arguments (its output to out_path) and waits for it to end.
void run_chromium(std::vector<std::string> page_arguments, const std::string& out_path,
                  const temporary_directory& scratch, std::chrono::milliseconds virtual_time) {
  auto log_path = scratch / "chromium.log";
  std::vector<std::string> arguments = {
      chromium_path,
      "--headless",
      "--no-sandbox",  // The test may run as root, where Chromium's sandbox refuses to start.
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--hide-scrollbars",
      "--user-data-dir=" + (scratch / "profile"),
      "--virtual-time-budget=" + std::to_string(virtual_time.count()),
  };
  arguments.insert(arguments.end(), page_arguments.begin(), page_arguments.end());
  std::vector<char*> argv;
  for (auto& argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // A process group of its own, so that the browser's helper processes can be killed with it.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // Also here, so that the group exists whichever process runs first.
  int status = 0;
  bool ended =
      eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, chromium_patience);
  // Whatever is left of the group (everything, after a timeout) goes with it.
  ::kill(-pid, SIGKILL);
  if (!ended) ::waitpid(pid, &status, 0);
  INFO("Chromium's log:\n" << read_file(log_path));
  REQUIRE(ended);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

void require_chromium() {
  if (::access(chromium_path, X_OK) != 0) {
    FAIL(chromium_path << " is missing: install Debian's chromium package "
                          "(scripts/bootstrap chromium, which scripts/test runs)");
  }
}

std::string dump_dom(const std::string& url, std::chrono::milliseconds virtual_time) {
  temporary_directory scratch("kiln-chromium");
  auto dom_path = scratch / "dom.html";
  run_chromium({"--dump-dom", url}, dom_path, scratch, virtual_time);
  std::string dom = read_file(dom_path);
  REQUIRE_FALSE(dom.empty());
  return dom;
}

void screenshot(const std::string& url, const std::string& png_path, int width, int height,
                std::chrono::milliseconds virtual_time) {
  temporary_directory scratch("kiln-chromium");
  run_chromium({"--screenshot=" + png_path,
                "--window-size=" + std::to_string(width) + "," + std::to_string(height), url},
               scratch / "stdout.txt", scratch, virtual_time);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace kiln::test
