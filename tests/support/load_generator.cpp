#include "load_generator.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include "kiln_process.hpp"

namespace kiln::test {
namespace {

int connect_to(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

// One response, read with llhttp; no Catch2 macros here: they are not for other threads.
struct response_reader {
  int status = 0;
  bool complete = false;
  bool keep_alive = false;

  static int on_headers_complete(llhttp_t* p) {
    static_cast<response_reader*>(p->data)->status = llhttp_get_status_code(p);
    return 0;
  }
  static int on_message_complete(llhttp_t* p) {
    auto& self = *static_cast<response_reader*>(p->data);
    self.complete = true;
    self.keep_alive = llhttp_should_keep_alive(p) != 0;
    return HPE_PAUSED;
  }
};

enum class outcome { answered, closed_before_answer, broken };

// Reads one response from fd; tells whether it arrived, or the connection ended before a
// single byte of it, or something else went wrong.
outcome read_response(int fd, response_reader& reader, std::string& error) {
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_headers_complete = response_reader::on_headers_complete;
  settings.on_message_complete = response_reader::on_message_complete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  parser.data = &reader;
  std::size_t received = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char buffer[16384];
  while (!reader.complete) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd ready{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&ready, 1, static_cast<int>(left.count())) == 0) {
      error = "no answer within 10 s";
      return outcome::broken;
    }
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (received == 0) return outcome::closed_before_answer;
      error = n == 0 ? "connection closed mid-response" : std::string("recv: ") + strerror(errno);
      return outcome::broken;
    }
    received += static_cast<std::size_t>(n);
    llhttp_errno_t result = llhttp_execute(&parser, buffer, static_cast<std::size_t>(n));
    if (result != HPE_OK && result != HPE_PAUSED) {
      error = std::string("bad response: ") + llhttp_errno_name(result);
      return outcome::broken;
    }
  }
  return outcome::answered;
}

}  // namespace

load_generator::load_generator(options how) : options_(std::move(how)) {
  for (int i = 0; i < options_.connections; ++i)
    threads_.emplace_back([this, i] { run(i); });
}

load_generator::~load_generator() {
  stop();
}

void load_generator::stop() {
  stopping_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::vector<std::string> load_generator::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

bool load_generator::wait_for_more(std::uint64_t count) const {
  std::uint64_t goal = succeeded() + count;
  return eventually([&] { return succeeded() >= goal; });
}

void load_generator::record_failure(std::string what) {
  ++failed_;
  std::lock_guard lock(mutex_);
  if (failures_.size() < 20) failures_.push_back(std::move(what));
}

void load_generator::run(int) {
  std::string request = (options_.body.empty() ? "GET " : "POST ") + options_.path +
                        " HTTP/1.1\r\nHost: load\r\n" +
                        (options_.keep_alive ? "" : "Connection: close\r\n");
  if (!options_.body.empty()) {
    request += "Content-Length: " + std::to_string(options_.body.size()) + "\r\n";
  }
  request += "\r\n" + options_.body;
  int fd = -1;
  bool reused = false;
  while (!stopping_) {
    if (fd < 0) {
      fd = connect_to(options_.port);
      if (fd < 0 && errno == ECONNREFUSED && options_.refusal_expected) {
        ++refused_;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (fd < 0) {
        record_failure(std::string("connect: ") + strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      reused = false;
    }
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      if (!reused || options_.strict) {
        record_failure(std::string(reused ? "send on a kept-alive connection: "
                                          : "send on a new connection: ") +
                       strerror(errno));
      }
      close(fd);
      fd = -1;
      continue;
    }
    response_reader reader;
    std::string error;
    outcome result = read_response(fd, reader, error);
    if (result == outcome::answered && reader.status == 200) {
      ++succeeded_;
    } else if (result == outcome::answered) {
      record_failure("status " + std::to_string(reader.status));
    } else if (result == outcome::closed_before_answer && reused && !options_.strict) {
      // The server closed an idle keep-alive connection as the request went out: retry.
    } else {
      record_failure(result == outcome::closed_before_answer ? "closed before any answer" : error);
    }
    if (result != outcome::answered || !reader.keep_alive || !options_.keep_alive) {
      close(fd);
      fd = -1;
    } else {
      reused = true;
    }
  }
  if (fd >= 0) close(fd);
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    pid_t candidate = static_cast<pid_t>(std::atoi(entry->d_name));
    if (candidate <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(candidate) + "/stat");
    std::string text;
    std::getline(stat, text);
    // The fields after the command name, which is in parentheses and may contain spaces.
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    fields >> state >> parent;
    if (parent == pid && state != 'Z') children.push_back(candidate);
  }
  closedir(proc);
  return children;
}

std::string process_title(pid_t pid) {
  std::string text;
  int fd = open(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return text;
}

bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

}  // namespace kiln::test
