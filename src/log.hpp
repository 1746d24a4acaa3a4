#pragma once

#include <string_view>

namespace kiln {

// Sends kiln's error log to stderr in gunicorn's shape, which log tooling already parses:
// "[2026-11-23 09:32:36 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000".
// level is a log_level setting value.
void init_logging(std::string_view level);

// Changes the level of the running logger (on reload).
void set_log_level(std::string_view level);

// Reopens the log files after logrotate moved them (USR1). The error log goes to stderr, which
// needs no reopening, so for now there is nothing to do.
void reopen_log_files();

}  // namespace kiln
