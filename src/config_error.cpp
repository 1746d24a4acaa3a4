#include "config_error.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>

namespace kiln {

void fail(std::string_view where, std::string_view message) {
  std::string line = fmt::format("{}: {}", where, message);
  std::string escaped;
  for (char c : line) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      escaped += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      escaped += fmt::format("\\x{:02x}", byte);
    } else {
      escaped.push_back(c);
    }
  }
  throw config_error(escaped);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string suggestion(std::string_view name, std::string (*spell)(const setting_info&)) {
  const setting_info* best = nullptr;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& info : setting_registry()) {
    std::size_t distance = edit_distance(name, spell(info));
    // The allowance grows with the setting's own name, not with the KILN_ or -- around it, so
    // that "port" is not taken for "pid", nor KILN_PORT for KILN_PID.
    std::size_t allowance = std::max<std::size_t>(2, info.name.size() / 3);
    if (distance <= allowance && distance < best_distance) {
      best = &info;
      best_distance = distance;
    }
  }
  return best ? fmt::format("; did you mean '{}'?", spell(*best)) : std::string{};
}

}  // namespace kiln
