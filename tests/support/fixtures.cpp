#include "fixtures.hpp"

#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>
#include <toml++/toml.h>

namespace kiln::test {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string text_of(const toml::table& table, std::string_view key, std::string_view file) {
  auto value = table[key].value<std::string>();
  INFO(file << ": '" << key << "' must be a string");
  REQUIRE(value.has_value());
  return *value;
}

expected_request read_request(const toml::table& table, const std::string& file) {
  expected_request request;
  request.method = text_of(table, "method", file);
  request.target = text_of(table, "target", file);
  request.path = table["path"].value<std::string>();
  request.query = table["query"].value<std::string>();
  request.version = table["version"].value_or(std::string("1.1"));
  request.body = decode_raw(table["body"].value_or(std::string()));
  request.keep_alive = table["keep_alive"].value_or(true);
  if (auto headers = table["headers"].as_array()) {
    request.headers.emplace();
    for (const auto& pair : *headers) {
      auto* fields = pair.as_array();
      INFO(file << ": each header is [\"Name\", \"value\"]");
      REQUIRE((fields != nullptr && fields->size() == 2));
      request.headers->emplace_back(fields->at(0).value_or(std::string()),
                                    decode_raw(fields->at(1).value_or(std::string())));
    }
  }
  return request;
}

}  // namespace

std::string decode_raw(std::string_view text) {
  std::string bytes;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n' || c == '\r') continue;  // The file's own line breaks are layout only.
    if (c != '\\') {
      bytes.push_back(c);
      continue;
    }
    REQUIRE(i + 1 < text.size());
    char escape = text[++i];
    switch (escape) {
      case 'r':
        bytes.push_back('\r');
        break;
      case 'n':
        bytes.push_back('\n');
        break;
      case 't':
        bytes.push_back('\t');
        break;
      case '0':
        bytes.push_back('\0');
        break;
      case '\\':
        bytes.push_back('\\');
        break;
      case 'x': {
        REQUIRE(i + 2 < text.size());
        int high = hex(text[i + 1]);
        int low = hex(text[i + 2]);
        REQUIRE((high >= 0 && low >= 0));
        bytes.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        break;
      }
      default:
        FAIL("unknown escape \\" << escape << " in fixture text");
    }
  }
  return bytes;
}

std::vector<request_fixture> load_request_fixtures(std::string_view kind) {
  namespace fs = std::filesystem;
  fs::path directory = fs::path(KILN_FIXTURES) / "requests" / kind;
  std::vector<request_fixture> fixtures;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() != ".toml") continue;
    std::string file = entry.path().string();
    toml::table table;
    try {
      table = toml::parse_file(file);
    } catch (const toml::parse_error& error) {
      FAIL(file << ":" << error.source().begin.line << ": " << error.description());
    }
    request_fixture fixture;
    fixture.name = std::string(kind) + "/" + entry.path().stem().string();
    fixture.description = table["description"].value_or(std::string());
    fixture.raw = decode_raw(text_of(table, "raw", file));
    if (auto requests = table["request"].as_array()) {
      for (const auto& request : *requests) {
        INFO(file << ": [[request]] entries must be tables");
        REQUIRE(request.is_table());
        fixture.requests.push_back(read_request(*request.as_table(), file));
      }
    }
    fixture.status = table["status"].value_or(0);
    if (auto limits = table["limits"].as_table()) {
      fixture.limits_overridden = true;
      fixture.limits.request_line = (*limits)["request_line"].value_or(fixture.limits.request_line);
      fixture.limits.fields = (*limits)["fields"].value_or(fixture.limits.fields);
      fixture.limits.field_size = (*limits)["field_size"].value_or(fixture.limits.field_size);
      fixture.limits.body = (*limits)["body"].value_or(fixture.limits.body);
    }
    INFO(file);
    if (kind == "valid") {
      REQUIRE(fixture.status == 0);
      REQUIRE(!fixture.requests.empty());
    } else {
      REQUIRE(fixture.status >= 400);
    }
    fixtures.push_back(std::move(fixture));
  }
  std::sort(fixtures.begin(), fixtures.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  REQUIRE(!fixtures.empty());
  return fixtures;
}

}  // namespace kiln::test
