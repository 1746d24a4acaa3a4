#include "access_log.hpp"

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include "log.hpp"

namespace kiln {
namespace {

constexpr std::string_view single_atoms = "hlutrmUqHsBbfaTMDLpi";

// Appends a value for a text log line: printable ASCII stays, '"' and '\' get a backslash,
// every other byte becomes \xHH. A line stays one line whatever a client sends.
void append_escaped(std::string& out, std::string_view value) {
  if (value.empty()) {
    out.push_back('-');
    return;
  }
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out.push_back(c);
    }
  }
}

// A header's value from a block of "Name: value\r\n" lines.
std::string_view header_in_block(std::string_view block, std::string_view name) {
  while (!block.empty()) {
    auto end = block.find("\r\n");
    std::string_view line = block.substr(0, end);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      return value;
    }
    if (end == std::string_view::npos) break;
    block.remove_prefix(end + 2);
  }
  return {};
}

std::string_view header_or_empty(const request& req, std::string_view name) {
  return req.header_value(name).value_or(std::string_view{});
}

std::string protocol(const request& req) {
  return fmt::format("HTTP/{}.{}", req.version_major, req.version_minor);
}

std::string gunicorn_time() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[40];
  std::strftime(text, sizeof text, "[%d/%b/%Y:%H:%M:%S +0000]", &utc);
  return text;
}

std::string iso_time() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, now.tv_nsec / 1000000);
}

}  // namespace

std::vector<access_log::piece> access_log::compile(std::string_view format) {
  std::vector<piece> pieces;
  auto literal = [&](std::string_view text) {
    if (pieces.empty() || pieces.back().atom != 0) pieces.push_back({});
    pieces.back().text.append(text);
  };
  for (std::size_t i = 0; i < format.size();) {
    if (format.substr(i, 2) == "%%") {
      literal("%");
      i += 2;
      continue;
    }
    if (format.substr(i, 2) != "%(") {
      literal(format.substr(i, 1));
      ++i;
      continue;
    }
    auto close = format.find(")s", i + 2);
    if (close == std::string_view::npos) {
      throw std::invalid_argument(fmt::format("\"{}\" has a %( without )s", format));
    }
    std::string_view name = format.substr(i + 2, close - i - 2);
    if (name.size() == 1 && single_atoms.find(name[0]) != std::string_view::npos) {
      pieces.push_back({name[0], {}});
    } else if (name.size() > 3 && name.front() == '{' && name[name.size() - 2] == '}' &&
               (name.back() == 'i' || name.back() == 'o')) {
      pieces.push_back(
          {name.back() == 'i' ? 'I' : 'O', std::string(name.substr(1, name.size() - 3))});
    } else {
      throw std::invalid_argument(fmt::format("%({})s is not an access log atom", name));
    }
    i = close + 2;
  }
  return pieces;
}

void access_log::check_format(std::string_view format) {
  if (format != "json") compile(format);
}

access_log::access_log(const std::string& destination, const std::string& format)
    : json_(format == "json"), pid_(getpid()) {
  if (!json_) pieces_ = compile(format);
  auto sink = open_log_sink(destination);
  sink->set_pattern("%v");
  // In a worker the lines go through its logging thread, so that a slow disk costs the loop
  // nothing; elsewhere (tests) they are written at once.
  if (auto pool = spdlog::thread_pool()) {
    logger_ = std::make_shared<spdlog::async_logger>("access", std::move(sink), pool,
                                                     spdlog::async_overflow_policy::overrun_oldest);
  } else {
    logger_ = std::make_shared<spdlog::logger>("access", std::move(sink));
  }
  logger_->set_level(spdlog::level::info);
  logger_->flush_on(spdlog::level::info);
}

void access_log::write(const access_entry& entry) noexcept {
  try {
    logger_->info(format(entry));
  } catch (...) {
    // A log line that cannot be made is not worth a request: drop it.
  }
}

std::string access_log::format(const access_entry& entry) const {
  const request& req = entry.req;
  if (json_) {
    nlohmann::json record = {
        {"time", iso_time()},
        {"remote", entry.peer},
        {"request_id", entry.request_id},
        {"method", req.method},
        {"path", req.path},
        {"query", req.query},
        {"protocol", protocol(req)},
        {"status", entry.status},
        {"bytes", entry.bytes},
        {"duration_ms", static_cast<double>(entry.duration_us) / 1000.0},
        {"referer", header_or_empty(req, "Referer")},
        {"user_agent", header_or_empty(req, "User-Agent")},
        {"pid", pid_},
    };
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line;
  for (const auto& part : pieces_) {
    switch (part.atom) {
      case 0:
        line += part.text;
        break;
      case 'h':
        append_escaped(line, entry.peer);
        break;
      case 'l':
      case 'u':
        line += '-';
        break;
      case 't':
        line += gunicorn_time();
        break;
      case 'r':
        // A connection cut before its method was read has no request line: "-", as nginx.
        if (req.method.empty()) {
          line += '-';
        } else {
          append_escaped(line, fmt::format("{} {} {}", req.method, req.target, protocol(req)));
        }
        break;
      case 'm':
        append_escaped(line, req.method);
        break;
      case 'U':
        append_escaped(line, req.path);
        break;
      case 'q':
        append_escaped(line, req.query);
        break;
      case 'H':
        line += protocol(req);
        break;
      case 's':
        line += std::to_string(entry.status);
        break;
      case 'B':
        line += std::to_string(entry.bytes);
        break;
      case 'b':
        line += entry.bytes == 0 ? std::string("-") : std::to_string(entry.bytes);
        break;
      case 'f':
        append_escaped(line, header_or_empty(req, "Referer"));
        break;
      case 'a':
        append_escaped(line, header_or_empty(req, "User-Agent"));
        break;
      case 'T':
        line += std::to_string(entry.duration_us / 1000000);
        break;
      case 'M':
        line += std::to_string(entry.duration_us / 1000);
        break;
      case 'D':
        line += std::to_string(entry.duration_us);
        break;
      case 'L':
        line += fmt::format("{:.6f}", static_cast<double>(entry.duration_us) / 1e6);
        break;
      case 'p':
        line += std::to_string(getpid());
        break;
      case 'i':
        append_escaped(line, entry.request_id);
        break;
      case 'I':
        append_escaped(line, header_or_empty(req, part.text));
        break;
      case 'O': {
        std::string_view value;
        for (std::string_view block : entry.response_headers) {
          if (value.empty()) value = header_in_block(block, part.text);
        }
        append_escaped(line, value);
        break;
      }
      default:
        break;
    }
  }
  return line;
}

}  // namespace kiln
