#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "request_parser.hpp"

namespace kiln::test {

// What one request in a fixture must parse to. Fields left out of the fixture are not checked.
struct expected_request {
  std::string method;
  std::string target;
  std::optional<std::string> path;
  std::optional<std::string> query;
  std::string version = "1.1";
  std::optional<std::vector<std::pair<std::string, std::string>>> headers;
  std::string body;
  bool keep_alive = true;
};

// A raw request (or pipeline) from tests/fixtures/requests/{valid,invalid}/NAME.toml, with the
// outcome it must have. Every fixture is replayed by the parser's unit tests and against the
// real server by the integration tests.
struct request_fixture {
  std::string name;  // "valid/chunked_extensions"
  std::string description;
  std::string raw;
  // The requests that parse; for an invalid fixture, those before the bad one.
  std::vector<expected_request> requests;
  int status = 0;  // An invalid fixture's answer: 400, 413, 414, 417, 431, 505...
  request_limits limits;
  bool limits_overridden = false;
};

// Loads every fixture of a kind ("valid" or "invalid"), sorted by name. Fails the test on a
// fixture that does not follow the format.
std::vector<request_fixture> load_request_fixtures(std::string_view kind);

// A fixture's raw text as bytes: line breaks in the file are dropped, so that \r\n are written
// out; the escapes are \r \n \t \0 \\ and \xHH.
std::string decode_raw(std::string_view text);

}  // namespace kiln::test
