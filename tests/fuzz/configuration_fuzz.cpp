// The configuration loader: a TOML file, the environment (KILN_*, PORT, WEB_CONCURRENCY, ...,
// and ${VAR} interpolation) and flags. Whatever they hold, loading either succeeds or throws
// config_error with one line that says where the bad value came from; nothing else escapes.
//
// Input: the TOML text, "\n--\n", environment lines NAME=VALUE, "\n--\n", one flag per line.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "fuzz_check.hpp"
#include "settings_text.hpp"

namespace {

std::vector<std::string> split(std::string_view text, std::string_view separator) {
  std::vector<std::string> parts;
  while (true) {
    auto at = text.find(separator);
    parts.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + separator.size());
  }
}

void check_message(const kiln::config_error& error) {
  std::string_view message = error.what();
  FUZZ_REQUIRE(!message.empty());
  FUZZ_REQUIRE(message.find('\n') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = split({reinterpret_cast<const char*>(data), size}, "\n--\n");
  parts.resize(3);
  kiln::environment env;
  for (const auto& line : split(parts[1], "\n")) {
    auto equals = line.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    // A configuration file named by the environment could be anything on this machine.
    if (line.compare(0, equals, "KILN_CONFIG") == 0) continue;
    env[line.substr(0, equals)] = line.substr(equals + 1);
  }
  std::vector<std::string> flags;
  for (const auto& line : split(parts[2], "\n")) {
    if (line.empty() || line == "-c" || line.starts_with("--config")) continue;
    flags.push_back(line);
  }
  std::vector<const char*> arguments;
  for (const auto& flag : flags)
    arguments.push_back(flag.c_str());

  static const std::string path = "/tmp/kiln-configuration-fuzz-" + std::to_string(getpid());
  try {
    kiln::interpolate(parts[0], env, "fuzz");
  } catch (const kiln::config_error& error) {
    check_message(error);
  }
  try {
    auto line = kiln::parse_command_line(arguments);
    if (!parts[0].empty()) {
      std::ofstream(path, std::ios::trunc) << parts[0];
      line.config_file = path;
    }
    auto config = kiln::load_configuration(line, env);
    FUZZ_REQUIRE(!kiln::describe(config).empty());
  } catch (const kiln::config_error& error) {
    check_message(error);
  }
  return 0;
}
