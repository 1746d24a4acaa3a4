#pragma once

#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace kiln {

// Sends kiln's error log to stderr, or to the error_log file, in gunicorn's shape, which log
// tooling already parses:
// "[2026-11-23 09:32:36 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000".
// With format "json", an object per line instead. level is a log_level setting value. The master
// logs synchronously: it has no threads, so that fork() copies nothing half-done.
void init_logging(std::string_view level, const std::string& error_log = "",
                  std::string_view color = "never", std::string_view format = "text");

// In a worker, right after fork: the same log, written by a background thread.
void init_worker_logging();

// Writes what is queued and stops the background thread, before a worker exits.
void shutdown_logging();

// Changes the level of the running logger (on reload).
void set_log_level(std::string_view level);

// A sink for a log destination: "-" is stdout, "stderr" (or empty) is stderr, anything else a
// file that reopen_log_files() reopens.
spdlog::sink_ptr open_log_sink(const std::string& destination);

// A libuv error for a log line, by name and meaning: "EMFILE (too many open files)".
std::string uv_error(int code);
// An errno value for a log line, the same way: "ENOMEM (Cannot allocate memory)".
std::string errno_text(int error);

// Reopens every log file after logrotate moved it (USR1).
void reopen_log_files() noexcept;

// A log file that can be opened again under its name.
class reopenable {
 public:
  virtual ~reopenable() = default;
  // Opens the file again under its name; on failure keeps writing to the old one.
  virtual bool reopen() noexcept = 0;
};

}  // namespace kiln
