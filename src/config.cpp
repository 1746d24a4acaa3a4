#include "config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "access_log.hpp"
#include "address_range.hpp"
#include "cpu_quota.hpp"
#include "gunicorn.hpp"
#include "http_syntax.hpp"
#include "listener.hpp"
#include "privileges.hpp"
#include "python/app_spec.hpp"
#include "python/build_info.hpp"
#include "python/config_module.hpp"
#include "settings_text.hpp"
#include "text.hpp"

extern char** environ;

namespace kiln {
namespace {

// The conventional variables that platforms and the seed's gunicorn setup already use.
struct conventional_variable {
  std::string_view variable;
  std::string_view setting;
};
constexpr conventional_variable conventional_variables[] = {
    {"WEB_CONCURRENCY", "workers"},
    {"HTTP_SERVE_TIMEOUT_SECONDS", "timeout"},
    {"VIRTUAL_ENV", "virtualenv"},
    {"SCRIPT_NAME", "root_path"},
    {"FORWARDED_ALLOW_IPS", "forwarded_allow_ips"},
};

std::string toml_key(const setting_info& info) {
  return std::string(info.name);
}
std::string env_name(const setting_info& info) {
  return info.environment_variable();
}

std::string lower(std::string_view text) {
  std::string result(text);
  for (char& c : result)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

void check_range(const setting_info& info, double value, std::string_view text,
                 std::string_view where) {
  // The registry's "no limit" maximum is a marker, not a bound to enforce: a message saying
  // "at least 0" about a value that is too big would make no sense.
  bool unbounded = info.maximum >= 1e12;
  if (value < info.minimum || (!unbounded && value > info.maximum)) {
    if (unbounded) {
      fail(where, fmt::format("{} must be at least {}, not {}", info.name,
                              number_text(info.minimum), text));
    }
    fail(where, fmt::format("{} must be between {} and {}, not {}", info.name,
                            number_text(info.minimum), number_text(info.maximum), text));
  }
}

// What a setting takes, for messages: "a number of seconds", "one of debug, info, warning".
std::string expected(const setting_info& info) {
  struct phrase {
    const setting_info& info;
    std::string operator()(bool settings::*) const { return "true or false"; }
    std::string operator()(std::int64_t settings::*) const {
      return info.allows_auto ? "a whole number or \"auto\"" : "a whole number";
    }
    std::string operator()(milliseconds settings::*) const { return "a number of seconds"; }
    std::string operator()(std::string settings::*) const {
      if (info.choices.empty()) return "a string";
      std::string listed(info.choices);
      for (auto bar = listed.find('|'); bar != std::string::npos; bar = listed.find('|', bar))
        listed.replace(bar, 1, ", ");
      return "one of " + listed;
    }
    std::string operator()(std::vector<std::string> settings::*) const {
      return "a string or an array of strings";
    }
  };
  return std::visit(phrase{info}, info.field);
}

// Each setting type's reading of a value written as text (environment, flags, TOML strings).
struct text_assigner {
  settings& values;
  const setting_info& info;
  std::string_view text;
  std::string_view where;

  void operator()(bool settings::*member) const {
    std::string word = lower(trim(text));
    if (word == "true" || word == "yes" || word == "on" || word == "1") {
      values.*member = true;
    } else if (word == "false" || word == "no" || word == "off" || word == "0") {
      values.*member = false;
    } else {
      fail(where, fmt::format("{} must be true or false, not \"{}\"", info.name, text));
    }
  }

  void operator()(std::int64_t settings::*member) const {
    std::string_view number = trim(text);
    if (info.allows_auto && lower(number) == "auto") {
      values.*member = static_cast<std::int64_t>(available_cpus());
      return;
    }
    std::int64_t value = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || error != std::errc{} || end != number.data() + number.size()) {
      fail(where, fmt::format("{} must be a whole number{}, not \"{}\"", info.name,
                              info.allows_auto ? " or \"auto\"" : "", text));
    }
    check_range(info, static_cast<double>(value), number, where);
    values.*member = value;
  }

  void operator()(milliseconds settings::*member) const {
    std::string_view number = trim(text);
    double seconds = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), seconds);
    if (number.empty() || error != std::errc{} || end != number.data() + number.size() ||
        !std::isfinite(seconds)) {
      fail(where, fmt::format("{} must be a number of seconds, not \"{}\"", info.name, text));
    }
    check_range(info, seconds, number, where);
    values.*member = milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
  }

  void operator()(std::string settings::*member) const {
    if (!info.choices.empty()) {
      std::string word = lower(trim(text));
      std::string_view choices = info.choices;
      bool known = false;
      for (std::size_t start = 0; start <= choices.size();) {
        std::size_t bar = choices.find('|', start);
        if (bar == std::string_view::npos) bar = choices.size();
        known = known || choices.substr(start, bar - start) == word;
        start = bar + 1;
      }
      if (!known)
        fail(where, fmt::format("{} must be {}, not \"{}\"", info.name, expected(info), text));
      values.*member = word;
      return;
    }
    values.*member = std::string(text);
  }

  void operator()(std::vector<std::string> settings::*member) const {
    std::vector<std::string> items;
    std::string_view rest = text;
    // A list that may be empty is empty when its text is.
    if (info.minimum == 0 && trim(rest).empty()) {
      values.*member = std::move(items);
      return;
    }
    while (true) {
      std::size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (item.empty()) fail(where, fmt::format("{} has an empty item in \"{}\"", info.name, text));
      items.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    values.*member = std::move(items);
  }
};

void assign_text(settings& values, const setting_info& info, std::string_view text,
                 std::string_view where) {
  std::visit(text_assigner{values, info, text, where}, info.field);
}

// What a TOML node holds, for messages: "a string", "an array".
std::string_view describe_node(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

void assign_toml(settings& values, const setting_info& info, const toml::node& node,
                 const environment& env, std::string_view where) {
  // The registry's type names suit a table ("integer"), not a sentence ("a whole number").
  auto wrong_type = [&] {
    fail(where,
         fmt::format("{} must be {}, not {}", info.name, expected(info), describe_node(node)));
  };
  // Strings are read like environment values once ${...} is expanded, so that a number can
  // come from a variable: timeout = "${HTTP_SERVE_TIMEOUT_SECONDS:-30}".
  if (auto text = node.as_string()) {
    assign_text(values, info, interpolate(text->get(), env, where), where);
    return;
  }
  if (auto* list = std::get_if<std::vector<std::string> settings::*>(&info.field)) {
    auto array = node.as_array();
    if (array == nullptr) wrong_type();
    // Saying "not an array" about an array would leave the user guessing what is wrong.
    if (array->empty() && info.minimum > 0) {
      fail(where, fmt::format("{} must not be an empty array", info.name));
    }
    std::vector<std::string> items;
    for (const auto& element : *array) {
      auto text = element.as_string();
      if (text == nullptr) {
        fail(where, fmt::format("{} must be an array of strings, not an array holding {}",
                                info.name, describe_node(element)));
      }
      std::string item = interpolate(text->get(), env, where);
      if (trim(item).empty()) fail(where, fmt::format("{} has an empty item", info.name));
      items.emplace_back(trim(item));
    }
    values.*(*list) = std::move(items);
    return;
  }
  if (auto flag = node.as_boolean(); flag && std::holds_alternative<bool settings::*>(info.field)) {
    values.*std::get<bool settings::*>(info.field) = flag->get();
    return;
  }
  if (auto* integer = std::get_if<std::int64_t settings::*>(&info.field)) {
    if (auto number = node.as_integer()) {
      check_range(info, static_cast<double>(number->get()), std::to_string(number->get()), where);
      values.*(*integer) = number->get();
      return;
    }
    wrong_type();
  }
  if (auto* duration = std::get_if<milliseconds settings::*>(&info.field)) {
    double seconds = 0;
    if (auto number = node.as_integer()) {
      seconds = static_cast<double>(number->get());
    } else if (auto real = node.as_floating_point()) {
      seconds = real->get();
      // TOML allows nan, which every range check lets through.
      if (!std::isfinite(seconds)) {
        fail(where, fmt::format("{} must be a number of seconds, not {}", info.name,
                                number_text(seconds)));
      }
    } else {
      wrong_type();
    }
    check_range(info, seconds, number_text(seconds), where);
    values.*(*duration) = milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
    return;
  }
  wrong_type();
}

void read_toml_file(configuration& config, const environment& env) {
  toml::table table;
  try {
    table = toml::parse_file(config.file);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    if (begin.line == 0) {
      fail(config.file, fmt::format("cannot read the configuration file: {}", error.description()));
    }
    fail(fmt::format("{}:{}:{}", config.file, begin.line, begin.column), error.description());
  }
  const auto registry = setting_registry();
  for (const auto& [key, node] : table) {
    std::string where = fmt::format("{}:{}", config.file, node.source().begin.line);
    const setting_info* info = find_setting(key.str());
    if (info == nullptr) {
      fail(where,
           fmt::format("'{}' is not a setting{}", key.str(), suggestion(key.str(), toml_key)));
    }
    assign_toml(config.values, *info, node, env, where);
    config.origins[static_cast<std::size_t>(info - registry.data())] = where;
  }
}

// Records a value from the environment, with the variable as its origin.
void set_from_environment(configuration& config, const setting_info& info,
                          std::string_view variable, std::string_view text) {
  std::string where = fmt::format("environment {}=\"{}\"", variable, text);
  assign_text(config.values, info, text, where);
  config.origins[static_cast<std::size_t>(&info - setting_registry().data())] =
      fmt::format("env {}", variable);
}

// The conventional variables, and PORT. bind_flag: KILN_BIND, GUNICORN_CMD_ARGS or a flag gives
// bind, later.
void read_conventional_variables(configuration& config, const environment& env, bool bind_flag) {
  for (const auto& conventional : conventional_variables) {
    if (auto found = env.find(conventional.variable); found != env.end()) {
      set_from_environment(config, *find_setting(conventional.setting), conventional.variable,
                           found->second);
    }
  }
  // PORT is what platforms set to say where to listen; it counts only when nothing else did,
  // so a --bind flag, applied later, must also keep a PORT it overrides from being checked.
  const auto registry = setting_registry();
  std::size_t bind_index = static_cast<std::size_t>(find_setting("bind") - registry.data());
  if (auto port = env.find("PORT");
      port != env.end() && config.origins[bind_index] == "default" && !bind_flag) {
    std::string where = fmt::format("environment PORT=\"{}\"", port->second);
    std::string_view text = trim(port->second);
    unsigned number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() ||
        number > 65535) {
      fail(where, "PORT must be a port number from 0 to 65535");
    }
    config.values.bind = {fmt::format("0.0.0.0:{}", number)};
    config.origins[bind_index] = "env PORT";
  }
}

// True for the variables Kubernetes puts in every pod of a namespace that has a Service named
// kiln, or kiln-something: KILN_SERVICE_HOST, KILN_PORT=tcp://10.0.0.1:8000,
// KILN_PORT_8000_TCP_ADDR... They are not settings, and must not stop kiln.
bool is_service_link(const std::string& variable, const std::string& value) {
  static const std::regex link(
      "KILN_([A-Z0-9_]+_)?(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_("
      "PROTO|PORT|ADDR))?)");
  static const std::regex port("KILN_([A-Z0-9_]+_)?PORT");
  static const std::regex address("(tcp|udp|sctp)://.*");
  return std::regex_match(variable, link) ||
         (std::regex_match(variable, port) && std::regex_match(value, address));
}

// KILN_<NAME> for every setting; they come after the conventional names, and so win over them.
void read_kiln_variables(configuration& config, const environment& env) {
  const auto registry = setting_registry();
  for (const auto& [variable, text] : env) {
    if (!variable.starts_with("KILN_") || variable == "KILN_CONFIG") continue;
    if (is_service_link(variable, text)) continue;
    const setting_info* found = nullptr;
    for (const auto& info : registry) {
      if (info.environment_variable() == variable) found = &info;
    }
    if (found == nullptr) {
      fail(fmt::format("environment {}", variable),
           fmt::format("'{}' names no setting{}", variable, suggestion(variable, env_name)));
    }
    set_from_environment(config, *found, variable, text);
  }
}

// "; did you mean 'workers'?" for a name in a Python config file, close to a setting's kiln or
// gunicorn name, or to a gunicorn setting kiln does without.
std::string python_suggestion(std::string_view name) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  auto consider = [&](std::string_view candidate) {
    std::size_t distance = edit_distance(name, candidate);
    if (distance <= std::max<std::size_t>(2, candidate.size() / 3) && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  };
  for (const auto& info : setting_registry()) {
    consider(info.name);
    if (!info.gunicorn.empty()) consider(info.gunicorn);
  }
  for (const auto& only : gunicorn_only_settings())
    consider(only.name);
  for (std::string_view hook : gunicorn_hooks())
    consider(hook);
  return best.empty() ? std::string{} : fmt::format("; did you mean '{}'?", best);
}

// A Python config file, gunicorn's kind: its globals that are settings (by kiln's name or
// gunicorn's) set them; gunicorn settings kiln does without are warned of; hooks are kept by
// the interpreter; imports, functions, classes, CONSTANTS and _helpers are left alone. Any
// other name is a mistake, said with the setting it is closest to.
void read_python_file(configuration& config, const settings& boot) {
  if (std::FILE* file = std::fopen(config.file.c_str(), "r")) {
    std::fclose(file);
  } else {
    fail(config.file, fmt::format("cannot read the configuration file: {}", std::strerror(errno)));
  }
  std::vector<python::config_global> globals;
  try {
    globals = python::run_config_module(config.file, boot);
  } catch (const python::config_module_error& error) {
    std::string_view message = error.what();
    auto separator = message.find(": ", message.find(':') + 1);
    fail(message.substr(0, separator), message.substr(separator + 2));
  }
  const auto registry = setting_registry();
  using kind = python::config_global::kind;
  for (const auto& global : globals) {
    std::string where = fmt::format("{}:{}", config.file, global.line);
    const setting_info* info = find_setting(global.name);
    if (info == nullptr) info = find_gunicorn_setting(global.name);
    if (info != nullptr) {
      bool list_setting = std::holds_alternative<std::vector<std::string> settings::*>(info->field);
      if (global.what == kind::list) {
        if (list_setting) {
          auto& items = config.values.*std::get<std::vector<std::string> settings::*>(info->field);
          items.clear();
          for (const auto& item : global.items) {
            if (trim(item).empty()) fail(where, fmt::format("{} has an empty item", info->name));
            items.emplace_back(trim(item));
          }
        } else if (global.items.size() == 1) {
          assign_text(config.values, *info, global.items.front(), where);
        } else {
          fail(where, fmt::format("{} must be {}, not a list", global.name, expected(*info)));
        }
      } else if (global.what == kind::value) {
        assign_text(config.values, *info, global.text, where);
      } else {
        fail(where, fmt::format("{} must be {}, not a function or an object", global.name,
                                expected(*info)));
      }
      config.origins[static_cast<std::size_t>(info - registry.data())] = where;
      continue;
    }
    if (is_gunicorn_hook(global.name)) {
      if (global.what != kind::callable) {
        fail(where, fmt::format("{} is a server hook: it must be a function", global.name));
      }
      continue;
    }
    if (auto only = find_gunicorn_only_setting(global.name)) {
      config.warnings.push_back(
          fmt::format("{}: gunicorn's {} setting has no equivalent in kiln, and is ignored: {}",
                      where, global.name, only->advice));
      continue;
    }
    bool constant = std::none_of(global.name.begin(), global.name.end(),
                                 [](char c) { return c >= 'a' && c <= 'z'; });
    if (global.what == kind::callable || global.what == kind::other || constant) continue;
    fail(where, fmt::format("'{}' is not a setting{} (name a helper _like_this or LIKE_THIS)",
                            global.name, python_suggestion(global.name)));
  }
}

// Checks what the registry's types cannot: that addresses parse, directories exist, and users
// and groups can be switched to.
void validate(const configuration& config) {
  for (const auto& text : config.values.bind) {
    try {
      parse_listen_address(text);
    } catch (const std::invalid_argument& error) {
      fail(config.origin("bind"), fmt::format("bind {}", error.what()));
    }
  }
  if (const auto& metrics = config.values.metrics_bind; !metrics.empty()) {
    bool tcp = false;
    bool chosen_port = false;
    try {
      auto address = parse_listen_address(metrics);
      tcp = address.type == listen_address::kind::tcp;
      chosen_port = address.port != 0;
    } catch (const std::invalid_argument& error) {
      fail(config.origin("metrics_bind"), fmt::format("metrics_bind {}", error.what()));
    }
    if (!tcp) {
      fail(config.origin("metrics_bind"),
           fmt::format("metrics_bind \"{}\" must be HOST:PORT", metrics));
    }
    if (chosen_port && std::find(config.values.bind.begin(), config.values.bind.end(), metrics) !=
                           config.values.bind.end()) {
      fail(config.origin("metrics_bind"),
           fmt::format("metrics_bind \"{}\" is also a bind: metrics need an address of their own",
                       metrics));
    }
  }
  try {
    access_log::check_format(config.values.access_log_format);
  } catch (const std::invalid_argument& error) {
    fail(config.origin("access_log_format"), fmt::format("access_log_format: {}", error.what()));
  }
  for (const char* name : {"error_log", "access_log"}) {
    const std::string& path =
        name == std::string_view("error_log") ? config.values.error_log : config.values.access_log;
    if (path.empty() || path == "-") continue;
    // Found out now, with the setting's name, rather than as a worker that cannot start; and
    // without creating the file, which would then belong to whoever checked.
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (directory.empty()) directory = ".";
    bool writable = ::access(path.c_str(), W_OK) == 0 ||
                    (errno == ENOENT && ::access(directory.c_str(), W_OK) == 0);
    if (!writable) {
      fail(config.origin(name),
           fmt::format("{} \"{}\" cannot be opened: {}", name, path, std::strerror(errno)));
    }
  }
  auto is_directory = [](const std::string& path) {
    struct stat status {};
    return stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
  };
  for (const char* name : {"static_root", "chdir", "virtualenv"}) {
    const std::string& path = name == std::string_view("static_root") ? config.values.static_root
                              : name == std::string_view("chdir")     ? config.values.chdir
                                                                      : config.values.virtualenv;
    if (!path.empty() && !is_directory(path)) {
      fail(config.origin(name), fmt::format("{} \"{}\" is not a directory", name, path));
    }
  }
  if (!config.values.virtualenv.empty()) {
    if (auto problem = python::virtualenv_problem(config.values.virtualenv); !problem.empty()) {
      fail(config.origin("virtualenv"), fmt::format("virtualenv {}", problem));
    }
  }
  if (!config.values.wsgi_app.empty()) {
    try {
      python::parse_app_spec(config.values.wsgi_app);
    } catch (const std::invalid_argument& error) {
      fail(config.origin("wsgi_app"), fmt::format("wsgi_app {}", error.what()));
    }
  }
  for (const auto& pair : config.values.raw_env) {
    if (pair.find('=') == std::string::npos || pair.starts_with('=')) {
      fail(config.origin("raw_env"), fmt::format("raw_env \"{}\" is not KEY=VALUE", pair));
    }
  }
  for (const char* name : {"forwarded_allow_ips", "proxy_allow_ips"}) {
    const auto& list = name == std::string_view("forwarded_allow_ips")
                           ? config.values.forwarded_allow_ips
                           : config.values.proxy_allow_ips;
    for (const auto& entry : list) {
      if (!address_range::parse(entry)) {
        fail(config.origin(name),
             fmt::format("{} \"{}\" is not an address, a CIDR range (10.0.0.0/8) or *", name,
                         entry));
      }
    }
  }
  for (const auto& line : config.values.secure_scheme_headers) {
    auto colon = line.find(':');
    if (colon == std::string::npos || !is_token(trim(std::string_view(line).substr(0, colon))) ||
        trim(std::string_view(line).substr(colon + 1)).empty()) {
      fail(config.origin("secure_scheme_headers"),
           fmt::format("secure_scheme_headers \"{}\" is not \"Header: value\"", line));
    }
  }
  if (const auto& status = config.values.status_path;
      !status.empty() &&
      (!status.starts_with('/') || status.ends_with('/') || status == "/metrics")) {
    fail(config.origin("status_path"),
         fmt::format("status_path \"{}\" must start with '/', not end with one, and not be "
                     "/metrics",
                     status));
  }
  const auto& root_path = config.values.root_path;
  if (!root_path.empty() && (!root_path.starts_with('/') || root_path.ends_with('/'))) {
    fail(config.origin("root_path"),
         fmt::format("root_path \"{}\" must start with '/' and not end with one, as \"/app\"",
                     root_path));
  }
  const auto& user = config.values.user;
  if (!user.empty()) {
    auto found = find_user(user);
    if (!found) fail(config.origin("user"), fmt::format("user \"{}\" does not exist", user));
    if (geteuid() != 0 && found->uid != geteuid()) {
      fail(config.origin("user"),
           fmt::format("user \"{}\" needs kiln to be started as root", user));
    }
  }
  const auto& group_name = config.values.group;
  if (!group_name.empty()) {
    auto gid = find_group(group_name);
    if (!gid) fail(config.origin("group"), fmt::format("group \"{}\" does not exist", group_name));
    if (geteuid() != 0 && *gid != getegid()) {
      fail(config.origin("group"),
           fmt::format("group \"{}\" needs kiln to be started as root", group_name));
    }
  }
}

}  // namespace

environment process_environment() {
  environment env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

std::string_view configuration::origin(std::string_view setting_name) const {
  const auto registry = setting_registry();
  for (std::size_t i = 0; i < registry.size(); ++i) {
    if (registry[i].name == setting_name) return origins[i];
  }
  return {};
}

namespace {

// Applies command-line values over what config holds; source says where they came from in
// origins ("flag", "GUNICORN_CMD_ARGS"). A repeated list flag (--bind a --bind b) adds to the
// list it started afresh.
void apply_values(configuration& config, const std::vector<command_line::value>& values,
                  std::string_view source) {
  const auto registry = setting_registry();
  std::vector<bool> seen(registry.size(), false);
  for (const auto& value : values) {
    auto index = static_cast<std::size_t>(value.setting - registry.data());
    bool argument = value.flag.empty();
    std::string where = argument ? fmt::format("argument \"{}\"", value.text)
                                 : fmt::format("{} {} \"{}\"", source, value.flag, value.text);
    auto* list = std::get_if<std::vector<std::string> settings::*>(&value.setting->field);
    if (list != nullptr && seen[index]) {
      settings more;
      assign_text(more, *value.setting, value.text, where);
      auto& items = config.values.*(*list);
      items.insert(items.end(), (more.*(*list)).begin(), (more.*(*list)).end());
    } else {
      assign_text(config.values, *value.setting, value.text, where);
    }
    seen[index] = true;
    config.origins[index] =
        argument ? std::string("argument") : fmt::format("{} {}", source, value.flag);
  }
}

}  // namespace

configuration load_configuration(const command_line& line, const environment& env) {
  const auto registry = setting_registry();
  configuration config;
  config.origins.assign(registry.size(), "default");
  for (const auto& info : registry) {
    assign_text(config.values, info, info.default_value, "default");
  }
  // gunicorn's GUNICORN_CMD_ARGS: flags as a variable, between the environment and the command
  // line (gunicorn puts it between its config file and its command line).
  command_line from_variable;
  if (auto found = env.find("GUNICORN_CMD_ARGS"); found != env.end()) {
    std::string where = fmt::format("environment GUNICORN_CMD_ARGS=\"{}\"", found->second);
    auto words = shell_words(found->second, where);
    std::vector<const char*> arguments;
    for (const auto& word : words)
      arguments.push_back(word.c_str());
    try {
      from_variable = parse_command_line(arguments);
    } catch (const config_error& error) {
      fail(where, error.what());
    }
    if (from_variable.help || from_variable.version || from_variable.settings_markdown ||
        from_variable.check_config || from_variable.print_config) {
      fail(where, "holds an action (--help, --check-config...); it takes settings only");
    }
  }

  config.file = line.config_file;
  if (config.file.empty()) config.file = from_variable.config_file;
  if (config.file.empty()) {
    if (auto found = env.find("KILN_CONFIG"); found != env.end()) config.file = found->second;
  }
  auto gives_bind = [](const command_line& given) {
    return std::any_of(given.values.begin(), given.values.end(),
                       [](const auto& value) { return value.setting->name == "bind"; });
  };
  bool bind_flag = gives_bind(line) || gives_bind(from_variable) || env.contains("KILN_BIND");
  auto apply_above_the_file = [&](configuration& onto) {
    read_kiln_variables(onto, env);
    apply_values(onto, from_variable.values, "GUNICORN_CMD_ARGS");
    apply_values(onto, line.values, "flag");
  };
  if (config.file.ends_with(".py")) {
    // A gunicorn config file is read as gunicorn reads it: PORT, WEB_CONCURRENCY and the other
    // conventional variables are defaults that the file overrides. Python runs the file: it
    // starts with what the environment and the flags say of its virtual environment and paths,
    // as gunicorn's interpreter does.
    read_conventional_variables(config, env, bind_flag);
    configuration boot = config;
    apply_above_the_file(boot);
    read_python_file(config, boot.values);
  } else {
    if (!config.file.empty()) read_toml_file(config, env);
    read_conventional_variables(config, env, bind_flag);
  }
  apply_above_the_file(config);
  // gunicorn's sync worker runs one request at a time; with threads given too, it is gthread.
  if (config.values.worker_class == "sync" && config.origin("threads") == "default") {
    config.values.threads = 1;
  }
  validate(config);
  if (config.values.worker_class == "eventlet" || config.values.worker_class == "gevent") {
    config.warnings.push_back(fmt::format(
        "{}: worker_class {}: kiln runs the app on {} threads per worker instead, and never "
        "monkey-patches; its event loop holds slow clients and idle connections without a thread",
        config.origin("worker_class"), config.values.worker_class, config.values.threads));
  }
  return config;
}

std::string interpolate(std::string_view text, const environment& env, std::string_view where) {
  std::string result;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      result.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      result.push_back('$');
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      result.push_back('$');
      continue;
    }
    std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      fail(where, fmt::format("unterminated \"${{\" in \"{}\"", text));
    }
    std::string_view expression = text.substr(i + 2, close - i - 2);
    // The first "}" would end the outer reference, so "${A:-${B}}" would quietly become "${B}".
    if (expression.find("${") != std::string_view::npos) {
      fail(where, fmt::format("\"${{\" inside \"${{...}}\" is not supported in \"{}\"", text));
    }
    std::size_t operator_at = expression.find(':');
    std::string_view variable = expression.substr(0, operator_at);
    if (variable.empty() || !std::all_of(variable.begin(), variable.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      fail(where, fmt::format("\"${{{}}}\" is not a variable reference", expression));
    }
    auto found = env.find(variable);
    bool set = found != env.end() && !found->second.empty();
    if (operator_at == std::string_view::npos) {
      if (found != env.end()) result += found->second;
    } else if (expression.substr(operator_at).starts_with(":-")) {
      result += set ? std::string_view(found->second) : expression.substr(operator_at + 2);
    } else if (expression.substr(operator_at).starts_with(":?")) {
      if (!set) {
        std::string_view message = expression.substr(operator_at + 2);
        fail(where, message.empty() ? fmt::format("{} must be set", variable)
                                    : fmt::format("{} is not set: {}", variable, message));
      }
      result += found->second;
    } else {
      fail(where,
           fmt::format("\"${{{}}}\": expected ${{VAR}}, ${{VAR:-default}} or ${{VAR:?message}}",
                       expression));
    }
    i = close;
  }
  return result;
}

}  // namespace kiln
