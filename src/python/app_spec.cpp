#include "python/app_spec.hpp"

#include <stdexcept>

namespace kiln::python {
namespace {

bool is_identifier(std::string_view text) noexcept {
  if (text.empty() || (text.front() >= '0' && text.front() <= '9')) return false;
  for (char c : text) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || static_cast<unsigned char>(c) >= 0x80;
    if (!word) return false;
  }
  return true;
}

bool is_dotted_name(std::string_view text) noexcept {
  while (true) {
    auto dot = text.find('.');
    if (!is_identifier(text.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

}  // namespace

app_spec parse_app_spec(std::string_view text) {
  app_spec spec;
  auto colon = text.find(':');
  std::string_view module = text.substr(0, colon);
  std::string_view object =
      colon == std::string_view::npos ? "application" : text.substr(colon + 1);
  if (!is_dotted_name(module)) {
    throw std::invalid_argument("\"" + std::string(text) +
                                "\" does not start with a module name (MODULE or MODULE:NAME)");
  }
  spec.module = module;
  if (auto open = object.find('('); open != std::string_view::npos) {
    if (!object.ends_with(')')) {
      throw std::invalid_argument("\"" + std::string(object) +
                                  "\" is not a call: it must end with ')'");
    }
    spec.call = true;
    spec.arguments = object.substr(open + 1, object.size() - open - 2);
    object = object.substr(0, open);
  }
  if (!is_identifier(object)) {
    throw std::invalid_argument("\"" + std::string(object) +
                                "\" is not a name in the module (MODULE:NAME or MODULE:FACTORY())");
  }
  spec.name = object;
  return spec;
}

}  // namespace kiln::python
