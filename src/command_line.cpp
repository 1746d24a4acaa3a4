#include "command_line.hpp"

#include <cstring>
#include <optional>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "config_error.hpp"

namespace kiln {
namespace {

std::string flag_name(const setting_info& info) {
  return info.flag();
}

}  // namespace

command_line parse_command_line(std::span<const char* const> arguments) {
  command_line line;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    std::string_view argument = arguments[i];
    std::string_view name = argument;
    std::optional<std::string_view> attached;
    if (argument.starts_with("--")) {
      if (auto equals = argument.find('='); equals != std::string_view::npos) {
        name = argument.substr(0, equals);
        attached = argument.substr(equals + 1);
      }
    }
    auto take_value = [&]() -> std::string {
      if (attached) return std::string(*attached);
      if (i + 1 >= arguments.size()) fail(fmt::format("flag {}", name), "needs a value");
      return arguments[++i];
    };
    auto no_value = [&] {
      if (attached) fail(fmt::format("flag {}", name), "takes no value");
    };

    if (name == "-h" || name == "--help") {
      no_value();
      line.help = true;
    } else if (name == "--version") {
      no_value();
      line.version = true;
    } else if (name == "--check-config") {
      no_value();
      line.check_config = true;
    } else if (name == "--print-config") {
      no_value();
      line.print_config = true;
    } else if (name == "--settings-markdown") {
      no_value();
      line.settings_markdown = true;
    } else if (name == "-c" || name == "--config") {
      line.config_file = take_value();
    } else {
      const setting_info* found = nullptr;
      bool negated = false;
      for (const auto& info : setting_registry()) {
        if (info.has_flag(name)) {
          found = &info;
        } else if (std::holds_alternative<bool settings::*>(info.field) &&
                   name == "--no-" + info.flag().substr(2)) {
          found = &info;
          negated = true;
        }
      }
      if (found == nullptr && !name.starts_with('-')) {
        // The one argument names the app, as gunicorn's does: kiln [OPTIONS] APP.
        for (const auto& earlier : line.values) {
          if (earlier.flag.empty()) {
            fail(fmt::format("argument \"{}\"", name),
                 fmt::format("kiln takes one argument, the app, and already has \"{}\"",
                             earlier.text));
          }
        }
        line.values.push_back({find_setting("wsgi_app"), std::string(name), {}});
        continue;
      }
      if (found == nullptr) {
        fail(fmt::format("flag {}", name),
             fmt::format("unknown flag{}",
                         name.starts_with("--") ? suggestion(name, flag_name) : ""));
      }
      std::string text;
      if (std::holds_alternative<bool settings::*>(found->field)) {
        if (negated) no_value();
        text = attached ? std::string(*attached) : (negated ? "false" : "true");
      } else {
        text = take_value();
      }
      line.values.push_back({found, std::move(text), std::string(name)});
    }
  }
  return line;
}

std::vector<std::string> shell_words(std::string_view text, std::string_view where) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::exchange(word, {}));
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < text.size()) {
      word.push_back(text[++i]);
    } else if (c == '\'') {
      auto close = text.find('\'', i + 1);
      if (close == std::string_view::npos) fail(where, "a quote (') is not closed");
      word.append(text.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() && std::strchr("\"\\$`", text[j + 1])) ++j;
        word.push_back(text[j]);
      }
      if (j >= text.size()) fail(where, "a quote (\") is not closed");
      i = j;
    } else {
      word.push_back(c);
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

}  // namespace kiln
