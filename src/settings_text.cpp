#include "settings_text.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <variant>

#include <fmt/format.h>

namespace kiln {

std::string number_text(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

namespace {

std::string toml_quoted(std::string_view text) {
  std::string result = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        result += "\\\"";
        break;
      case '\\':
        result += "\\\\";
        break;
      case '\n':
        result += "\\n";
        break;
      case '\t':
        result += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          result += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          result.push_back(c);
        }
    }
  }
  return result + "\"";
}

std::string toml_value(const settings& values, const setting_info& info) {
  struct printer {
    const settings& values;
    std::string operator()(bool settings::*m) const { return values.*m ? "true" : "false"; }
    std::string operator()(std::int64_t settings::*m) const { return std::to_string(values.*m); }
    std::string operator()(milliseconds settings::*m) const {
      return number_text(static_cast<double>((values.*m).count()) / 1000.0);
    }
    std::string operator()(std::string settings::*m) const { return toml_quoted(values.*m); }
    std::string operator()(std::vector<std::string> settings::*m) const {
      std::string text = "[";
      for (const auto& item : values.*m) {
        if (text.size() > 1) text += ", ";
        text += toml_quoted(item);
      }
      return text + "]";
    }
  };
  return std::visit(printer{values}, info.field);
}

}  // namespace

std::string describe(const configuration& config) {
  std::string text;
  const auto registry = setting_registry();
  std::string_view section;
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const auto& info = registry[i];
    if (info.section != section) {
      text += fmt::format("{}# {}\n", section.empty() ? "" : "\n", info.section);
      section = info.section;
    }
    text += fmt::format("{} = {}  # {}\n", info.name, toml_value(config.values, info),
                        config.origins[i]);
  }
  return text;
}

namespace {

// Breaks text into lines of at most width characters, each starting with indent.
std::string wrap(std::string_view text, std::string_view indent, std::size_t width) {
  std::string result;
  std::string line(indent);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(start, end - start);
    if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
      result += line + "\n";
      line = indent;
    }
    if (line.size() > indent.size()) line += ' ';
    line += word;
    start = end + 1;
  }
  return result + line + "\n";
}

}  // namespace

std::string help_text() {
  std::string text =
      "Usage: kiln [-c FILE] [--SETTING VALUE ...] [APP]\n"
      "\n"
      "kiln is a preforking HTTP server: a master process binds the sockets and keeps the workers\n"
      "alive; each worker serves HTTP/1.1 from a libuv event loop, and hosts APP, a Python WSGI\n"
      "app named as gunicorn names it (module:name), on threads of its own.\n"
      "\n"
      "Every setting can come from a TOML file (-c FILE, or KILN_CONFIG), an environment variable\n"
      "(KILN_<NAME>) or a flag; a flag beats the environment, which beats the file, which beats\n"
      "the default.\n"
      "\n"
      "  -c, --config FILE     Read settings from this TOML file.\n"
      "      --check-config    Check the settings and exit: 0 when they are valid.\n"
      "      --print-config    Print every setting's value and where it came from, and exit.\n"
      "      --settings-markdown  Print the settings as a Markdown table, and exit.\n"
      "      --version         Print kiln's version and exit.\n"
      "  -h, --help            Print this help and exit.\n";
  std::string_view section;
  for (const auto& info : setting_registry()) {
    if (info.section != section) {
      text += fmt::format("\n{}:\n", info.section);
      section = info.section;
    }
    std::string flag = (info.short_flag ? "" : "    ") + info.flags_text();
    std::string line = fmt::format("  {} ({}; default {})", flag, info.type_name(),
                                   info.default_value.empty() ? "none" : info.default_value);
    if (line.size() > 96) {
      // A long default gets a line of its own.
      line =
          fmt::format("  {} ({})\n        Default: {}", flag, info.type_name(), info.default_value);
    }
    text += line + "\n";
    text += wrap(info.help, "        ", 96);
  }
  return text;
}

std::string settings_markdown() {
  std::string text =
      "| Setting (TOML key) | Environment | Flag | Type | Default | Meaning |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& info : setting_registry()) {
    std::string flag = info.flags_text("`");
    std::string help(info.help);
    std::string type = info.type_name();
    std::replace(type.begin(), type.end(), '|', '/');
    text += fmt::format(
        "| `{}` | `{}` | {} | {} | {} | {} |\n", info.name, info.environment_variable(), flag, type,
        info.default_value.empty() ? "none" : fmt::format("`{}`", info.default_value), help);
  }
  return text;
}

}  // namespace kiln
