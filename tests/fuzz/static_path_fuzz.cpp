// The static path resolver: whatever a client puts in a path, a file path it produces stays
// beneath the root, names no dotfile (but /.well-known/) and carries no byte a file system
// would read as something else.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "static_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view path(reinterpret_cast<const char*>(data), size);
  std::string relative;
  if (kiln::to_relative_path(path, relative) == kiln::path_verdict::file) {
    FUZZ_REQUIRE(!relative.empty());
    FUZZ_REQUIRE(relative.front() != '/' && relative.back() != '/');
    FUZZ_REQUIRE(relative.find('\0') == std::string::npos);
    FUZZ_REQUIRE(relative.find('\\') == std::string::npos);
    std::string_view rest = relative;
    bool first = true;
    while (true) {
      auto slash = rest.find('/');
      std::string_view segment = rest.substr(0, slash);
      FUZZ_REQUIRE(!segment.empty() && segment != "." && segment != "..");
      FUZZ_REQUIRE(segment.front() != '.' || (first && segment == ".well-known"));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
      first = false;
    }
    // Resolving is stable: the result, as a path with its '%' encoded again, names itself.
    std::string encoded = "/";
    for (char c : relative)
      encoded += c == '%' ? std::string("%25") : std::string(1, c);
    std::string again;
    FUZZ_REQUIRE(kiln::to_relative_path(encoded, again) == kiln::path_verdict::file);
    FUZZ_REQUIRE(again == relative);
  }
  kiln::is_content_hashed(path);
  return 0;
}
