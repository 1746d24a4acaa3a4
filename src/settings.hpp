#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kiln {

using std::chrono::milliseconds;

// The most workers kiln runs: the workers setting's maximum, and TTIN's.
inline constexpr std::int64_t max_workers = 1024;

// Every setting kiln has. The values come from the registry below: defaults, the TOML file, the
// environment and the command line all fill this one struct.
struct settings {
  // Sockets.
  std::vector<std::string> bind;
  std::int64_t backlog = 0;
  bool reuse_port = false;
  // Processes.
  std::int64_t workers = 0;
  std::int64_t worker_connections = 0;
  milliseconds timeout{};
  milliseconds graceful_timeout{};
  milliseconds shutdown_delay{};
  std::int64_t max_requests = 0;
  std::int64_t max_requests_jitter = 0;
  std::string pid;  // The pidfile's path.
  std::string user;
  std::string group;
  bool reload = false;
  // HTTP.
  milliseconds keepalive{};
  milliseconds header_timeout{};
  milliseconds body_timeout{};
  std::int64_t body_min_rate = 0;
  milliseconds send_timeout{};
  std::int64_t limit_request_line = 0;
  std::int64_t limit_request_fields = 0;
  std::int64_t limit_request_field_size = 0;
  std::int64_t limit_request_body = 0;
  std::int64_t limit_request_head = 0;
  // The application.
  std::string static_root;
  bool spa_fallback = false;
  std::string api_prefix;
  std::string health_path;
  std::string ready_path;
  // The Python app.
  std::string wsgi_app;
  std::string chdir;
  std::vector<std::string> pythonpath;
  std::string virtualenv;
  std::string worker_class;
  std::int64_t threads = 0;
  bool preload_app = false;
  std::string root_path;
  std::vector<std::string> raw_env;
  bool capture_output = false;
  // Behind a proxy.
  std::vector<std::string> forwarded_allow_ips;
  std::vector<std::string> secure_scheme_headers;
  bool proxy_protocol = false;
  std::vector<std::string> proxy_allow_ips;
  // Logging.
  std::string log_level;
  std::string error_log;
  std::string log_color;
  std::string error_log_format;
  std::string metrics_bind;
  std::string status_path;
  std::string access_log;
  std::string access_log_format;
  bool log_health_checks = false;
};

// A setting's place in the struct; its alternative also gives the setting's type.
using setting_field =
    std::variant<bool settings::*, std::int64_t settings::*, milliseconds settings::*,
                 std::string settings::*, std::vector<std::string> settings::*>;

// What the registry knows about one setting. The TOML key is the name, the environment variable
// is KILN_ and the name in capitals, the flag is -- and the name with dashes: no second list of
// settings exists anywhere.
struct setting_info {
  std::string_view name;
  std::string_view section;
  setting_field field;
  std::string_view default_value;  // Written as an environment variable would carry it.
  std::string_view help;
  double minimum = 0;  // For numbers; for lists, the fewest items.
  double maximum = 0;
  std::string_view choices;  // For a closed set of words: "debug|info|warning".
  char short_flag = 0;
  bool allows_auto = false;  // An integer that also takes "auto": one per usable CPU.
  // gunicorn's name for the setting (its config file's), when gunicorn has it: "pidfile".
  std::string_view gunicorn;
  // More flags for it, space-separated: gunicorn's where they differ ("--keep-alive").
  std::string_view aliases;

  std::string environment_variable() const;
  std::string flag() const;
  std::string type_name() const;
  // True when name ("--workers", "-w", "--keep-alive") is one of this setting's flags.
  bool has_flag(std::string_view given) const;
  // Every flag, as --help and the README list them: "-w, --workers".
  std::string flags_text(std::string_view quote = {}) const;
};

// The registry, in the order --help and the README show it.
std::span<const setting_info> setting_registry() noexcept;
const setting_info* find_setting(std::string_view name) noexcept;
// The setting gunicorn calls name ("pidfile" is pid), or nullptr.
const setting_info* find_gunicorn_setting(std::string_view name) noexcept;

}  // namespace kiln
