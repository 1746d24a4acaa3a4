#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

namespace kiln {
namespace {

// The level in capitals, as gunicorn writes it: INFO, WARNING, ERROR.
class level_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    std::string_view name;
    switch (message.level) {
      case spdlog::level::trace:
        name = "TRACE";
        break;
      case spdlog::level::debug:
        name = "DEBUG";
        break;
      case spdlog::level::info:
        name = "INFO";
        break;
      case spdlog::level::warn:
        name = "WARNING";
        break;
      case spdlog::level::err:
        name = "ERROR";
        break;
      case spdlog::level::critical:
        name = "CRITICAL";
        break;
      default:
        name = "OFF";
        break;
    }
    out.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<level_flag>();
  }
};

// The time zone as gunicorn writes it (Python's %z): "+0000", "-0530".
class zone_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm& time,
              spdlog::memory_buf_t& out) override {
    long offset = time.tm_gmtoff;
    char sign = offset < 0 ? '-' : '+';
    if (offset < 0) offset = -offset;
    fmt::format_to(std::back_inserter(out), "{}{:02}{:02}", sign, offset / 3600,
                   offset % 3600 / 60);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<zone_flag>();
  }
};

// error_log_format = "json": a JSON object per line, for log pipelines, with the same level
// names as the text lines.
class json_line_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& out) override {
    auto since_epoch = message.time.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    std::time_t whole = seconds.count();
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char time[32];
    std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
    spdlog::memory_buf_t level;
    std::tm unused{};
    level_flag().format(message, unused, level);
    nlohmann::json line = {
        {"time", fmt::format("{}.{:03}Z", time, millis.count())},
        {"pid", getpid()},
        {"level", std::string_view(level.data(), level.size())},
        {"message", std::string_view(message.payload.data(), message.payload.size())},
    };
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    out.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_line_formatter>();
  }
};

// Appends to a file, and opens it again on reopen(): after logrotate has moved the old file
// away, the next lines go to a new file of the same name.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex>, public reopenable {
 public:
  explicit reopenable_file_sink(std::string path)
      : path_(std::move(path)), file_(std::make_unique<spdlog::details::file_helper>()) {
    file_->open(path_, false);
  }
  bool reopen() noexcept override {
    // The new file is opened before the old one is let go: a worker that may not create it (a
    // directory it cannot write to, a full disk) goes on writing where it did.
    try {
      auto fresh = std::make_unique<spdlog::details::file_helper>();
      fresh->open(path_, false);
      std::lock_guard lock(mutex_);
      file_->flush();
      file_ = std::move(fresh);
      return true;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "kiln: cannot reopen %s: %s\n", path_.c_str(), error.what());
      return false;
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    file_->write(formatted);
  }
  void flush_() override { file_->flush(); }

 private:
  std::string path_;
  std::unique_ptr<spdlog::details::file_helper> file_;
};

spdlog::level::level_enum parse_level(std::string_view level) {
  if (level == "debug") return spdlog::level::debug;
  if (level == "warning") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "critical") return spdlog::level::critical;
  return spdlog::level::info;
}

// Every sink that writes to a file, for reopen_log_files().
std::vector<std::shared_ptr<reopenable>> files;

}  // namespace

spdlog::sink_ptr open_log_sink(const std::string& destination) {
  if (destination == "-") return std::make_shared<spdlog::sinks::stdout_sink_mt>();
  if (destination.empty() || destination == "stderr") {
    return std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto sink = std::make_shared<reopenable_file_sink>(destination);
  files.push_back(sink);
  return sink;
}

void init_logging(std::string_view level, const std::string& error_log, std::string_view color,
                  std::string_view format) {
  // The error log goes to stderr unless a file is named ("-" means stderr here too: stdout is
  // the access log's).
  bool to_stderr = error_log.empty() || error_log == "-" || error_log == "stderr";
  bool json = format == "json";
  spdlog::sink_ptr sink;
  if (to_stderr && color != "never" && !json) {
    auto colored = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
        color == "always" ? spdlog::color_mode::always : spdlog::color_mode::automatic);
    sink = std::move(colored);
  } else {
    sink = open_log_sink(to_stderr ? "stderr" : error_log);
  }
  auto logger = std::make_shared<spdlog::logger>("kiln", std::move(sink));
  if (json) {
    logger->set_formatter(std::make_unique<json_line_formatter>());
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<level_flag>('*').add_flag<zone_flag>('&').set_pattern(
        "[%Y-%m-%d %H:%M:%S %&] [%P] [%^%*%$] %v");
    logger->set_formatter(std::move(formatter));
  }
  logger->set_level(parse_level(level));
  // Errors reach the terminal or the collector at once; a crash must not swallow them.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void init_worker_logging() {
  // A queue and a thread of the worker's own (threads do not survive fork, so the master has
  // none): the loop only formats and queues, and when the disk cannot keep up the oldest
  // lines are dropped rather than the loop made to wait.
  spdlog::init_thread_pool(8192, 1);
  auto current = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::async_logger>(
      "kiln", current->sinks().begin(), current->sinks().end(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(current->level());
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void shutdown_logging() {
  spdlog::shutdown();
}

void set_log_level(std::string_view level) {
  spdlog::default_logger()->set_level(parse_level(level));
}

std::string uv_error(int code) {
  return fmt::format("{} ({})", uv_err_name(code), uv_strerror(code));
}

std::string errno_text(int error) {
  const char* name = strerrorname_np(error);
  return fmt::format("{} ({})", name != nullptr ? name : "?", std::strerror(error));
}

void reopen_log_files() noexcept {
  for (const auto& file : files)
    file->reopen();
}

}  // namespace kiln
