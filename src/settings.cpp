#include "settings.hpp"

#include <array>

#include "access_log.hpp"

namespace kiln {
namespace {

constexpr double no_limit = 1e12;

const std::array registry = {
    // Sockets.
    setting_info{
        .name = "bind",
        .section = "Sockets",
        .field = &settings::bind,
        .default_value = "127.0.0.1:8000",
        .help = "Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N. Repeat the flag, or "
                "give a TOML array or a comma-separated variable, for several. PORT sets "
                "0.0.0.0:$PORT when nothing else does.",
        .minimum = 1,
        .short_flag = 'b',
        .gunicorn = "bind",
    },
    setting_info{
        .name = "backlog",
        .section = "Sockets",
        .field = &settings::backlog,
        .default_value = "2048",
        .help = "How many connections the kernel queues for accept() on each socket.",
        .minimum = 1,
        .maximum = 65535,
        .gunicorn = "backlog",
    },
    setting_info{
        .name = "reuse_port",
        .section = "Sockets",
        .field = &settings::reuse_port,
        .default_value = "false",
        .help =
            "Give each worker a socket of its own with SO_REUSEPORT, so that the kernel spreads "
            "connections evenly over the workers.",
        .gunicorn = "reuse_port",
    },
    // Processes.
    setting_info{
        .name = "workers",
        .section = "Processes",
        .field = &settings::workers,
        .default_value = "auto",
        .help =
            "How many worker processes serve requests. \"auto\" is one per CPU this process may "
            "use, honouring a container's CPU quota. WEB_CONCURRENCY sets it too.",
        .minimum = 1,
        .maximum = max_workers,
        .short_flag = 'w',
        .allows_auto = true,
        .gunicorn = "workers",
    },
    setting_info{
        .name = "worker_connections",
        .section = "Processes",
        .field = &settings::worker_connections,
        .default_value = "1000",
        .help = "How many connections one worker holds open at most; at the limit it stops "
                "accepting until one closes.",
        .minimum = 1,
        .maximum = 1000000,
        .gunicorn = "worker_connections",
    },
    setting_info{
        .name = "timeout",
        .section = "Processes",
        .field = &settings::timeout,
        .default_value = "30",
        .help = "Seconds a worker may go without a heartbeat, or a request may run in the Python "
                "app without producing anything, before the master logs WORKER TIMEOUT and "
                "replaces the worker; 0 never does. HTTP_SERVE_TIMEOUT_SECONDS sets it too.",
        .minimum = 0,
        .maximum = 86400,
        .short_flag = 't',
        .gunicorn = "timeout",
    },
    setting_info{
        .name = "graceful_timeout",
        .section = "Processes",
        .field = &settings::graceful_timeout,
        .default_value = "30",
        .help = "Seconds workers get to finish their requests after TERM before they are killed.",
        .minimum = 0,
        .maximum = 86400,
        .gunicorn = "graceful_timeout",
    },
    setting_info{
        .name = "shutdown_delay",
        .section = "Processes",
        .field = &settings::shutdown_delay,
        .default_value = "0",
        .help = "Seconds workers keep accepting after TERM while readiness already answers 503 and "
                "responses close their connections, for load balancers to notice. Part of "
                "graceful_timeout.",
        .minimum = 0,
        .maximum = 3600,
    },
    setting_info{
        .name = "max_requests",
        .section = "Processes",
        .field = &settings::max_requests,
        .default_value = "0",
        .help = "A worker retires gracefully after this many requests; 0 never does.",
        .minimum = 0,
        .maximum = no_limit,
        .gunicorn = "max_requests",
    },
    setting_info{
        .name = "max_requests_jitter",
        .section = "Processes",
        .field = &settings::max_requests_jitter,
        .default_value = "0",
        .help = "Up to this many requests are added to each worker's max_requests at random, so "
                "that workers do not all retire at once.",
        .minimum = 0,
        .maximum = no_limit,
        .gunicorn = "max_requests_jitter",
    },
    setting_info{
        .name = "reload",
        .section = "Processes",
        .field = &settings::reload,
        .default_value = "false",
        .help = "Reload, as on HUP, when the configuration file changes, or a .py file of the "
                "Python app under chdir (new workers import the new code). For development.",
        .gunicorn = "reload",
    },
    setting_info{
        .name = "pid",
        .section = "Processes",
        .field = &settings::pid,
        .default_value = "",
        .help = "A file the master writes its process ID to, and removes when it exits.",
        .short_flag = 'p',
        .gunicorn = "pidfile",
    },
    setting_info{
        .name = "user",
        .section = "Processes",
        .field = &settings::user,
        .default_value = "",
        .help = "When started as root, the user (name or ID) the workers run as.",
        .short_flag = 'u',
        .gunicorn = "user",
    },
    setting_info{
        .name = "group",
        .section = "Processes",
        .field = &settings::group,
        .default_value = "",
        .help = "When started as root, the group (name or ID) the workers run as.",
        .short_flag = 'g',
        .gunicorn = "group",
    },
    // HTTP.
    setting_info{
        .name = "keepalive",
        .section = "HTTP",
        .field = &settings::keepalive,
        .default_value = "75",
        .help = "Seconds an idle keep-alive connection stays open. Keep it above your load "
                "balancer's idle timeout. 0 closes every connection after its response.",
        .minimum = 0,
        .maximum = 86400,
        .gunicorn = "keepalive",
        .aliases = "--keep-alive",
    },
    setting_info{
        .name = "header_timeout",
        .section = "HTTP",
        .field = &settings::header_timeout,
        .default_value = "30",
        .help = "Seconds a client gets to send a whole request head; a slower one gets 408.",
        .minimum = 0.001,
        .maximum = 86400,
    },
    setting_info{
        .name = "body_timeout",
        .section = "HTTP",
        .field = &settings::body_timeout,
        .default_value = "60",
        .help = "Seconds a request body may pause between two reads before the client gets 408.",
        .minimum = 0.001,
        .maximum = 86400,
    },
    setting_info{
        .name = "body_min_rate",
        .section = "HTTP",
        .field = &settings::body_min_rate,
        .default_value = "500",
        .help = "Bytes per second a request body must keep up: it gets body_timeout, and a second "
                "more for every body_min_rate bytes received (as Apache's mod_reqtimeout), then "
                "408. A phone uploading at 4 kbit/s keeps it. 0: no minimum.",
        .minimum = 0,
        .maximum = 1073741824,
    },
    setting_info{
        .name = "send_timeout",
        .section = "HTTP",
        .field = &settings::send_timeout,
        .default_value = "60",
        .help = "Seconds a client may take to accept a response's bytes before it is dropped.",
        .minimum = 0.001,
        .maximum = 86400,
    },
    setting_info{
        .name = "limit_request_line",
        .section = "HTTP",
        .field = &settings::limit_request_line,
        .default_value = "4094",
        .help = "Longest request line, in bytes; a longer one gets 414.",
        .minimum = 16,
        .maximum = 1048576,
        .gunicorn = "limit_request_line",
    },
    setting_info{
        .name = "limit_request_fields",
        .section = "HTTP",
        .field = &settings::limit_request_fields,
        .default_value = "100",
        .help = "Most header fields in a request; more get 431.",
        .minimum = 1,
        .maximum = 32768,
        .gunicorn = "limit_request_fields",
    },
    setting_info{
        .name = "limit_request_field_size",
        .section = "HTTP",
        .field = &settings::limit_request_field_size,
        .default_value = "8190",
        .help = "Largest header field (name, colon, value), in bytes; a larger one gets 431.",
        .minimum = 16,
        .maximum = 1048576,
        .gunicorn = "limit_request_field_size",
        .aliases = "--limit-request-field_size",
    },
    setting_info{
        .name = "limit_request_head",
        .section = "HTTP",
        .field = &settings::limit_request_head,
        .default_value = "65536",
        .help = "Largest request head (request line and every header field), in bytes; a larger "
                "one gets 431. It bounds what a connection can make a worker hold.",
        .minimum = 1024,
        .maximum = 16777216,
    },
    setting_info{
        .name = "limit_request_body",
        .section = "HTTP",
        .field = &settings::limit_request_body,
        .default_value = "1048576",
        .help = "Largest request body, in bytes; a larger one gets 413. 0 is no limit.",
        .minimum = 0,
        .maximum = no_limit,
    },
    // The application.
    setting_info{
        .name = "static_root",
        .section = "Application",
        .field = &settings::static_root,
        .default_value = "",
        .help = "A directory whose files are served for GET and HEAD: the built single-page app "
                "(its dist/ directory).",
    },
    setting_info{
        .name = "spa_fallback",
        .section = "Application",
        .field = &settings::spa_fallback,
        .default_value = "false",
        .help = "Answer a browser's navigation to a page that matches no file (GET or HEAD, "
                "accepting text/html, no extension in the last path segment, outside api_prefix) "
                "with static_root's index.html, so that the app's own router shows the page.",
    },
    setting_info{
        .name = "api_prefix",
        .section = "Application",
        .field = &settings::api_prefix,
        .default_value = "/api/",
        .help = "Paths under this prefix belong to the API: they never fall back to index.html.",
    },
    setting_info{
        .name = "health_path",
        .section = "Application",
        .field = &settings::health_path,
        .default_value = "/healthz",
        .help = "The liveness endpoint: 200 while the worker's loop runs. Empty turns it off.",
    },
    setting_info{
        .name = "ready_path",
        .section = "Application",
        .field = &settings::ready_path,
        .default_value = "/readyz",
        .help = "The readiness endpoint: 200, and 503 from the moment a graceful stop begins, so "
                "that a load balancer stops sending before connections close. Empty turns it off.",
    },
    // The Python app.
    setting_info{
        .name = "wsgi_app",
        .section = "Python app",
        .field = &settings::wsgi_app,
        .default_value = "",
        .help = "The WSGI app, named as gunicorn names it: MODULE (its callable \"application\"), "
                "MODULE:NAME, or MODULE:FACTORY() and MODULE:FACTORY(ARGS) to call a factory. Also "
                "kiln's one argument. Requests that no health endpoint, C++ route or static file "
                "claims go to it.",
        .gunicorn = "wsgi_app",
    },
    setting_info{
        .name = "chdir",
        .section = "Python app",
        .field = &settings::chdir,
        .default_value = "",
        .help = "The directory the app is imported from: workers change to it and put it first on "
                "sys.path. Empty: the directory kiln starts in.",
        .gunicorn = "chdir",
    },
    setting_info{
        .name = "pythonpath",
        .section = "Python app",
        .field = &settings::pythonpath,
        .default_value = "",
        .help = "More directories to import from, after chdir: a TOML array or a comma-separated "
                "value.",
        .gunicorn = "pythonpath",
    },
    setting_info{
        .name = "virtualenv",
        .section = "Python app",
        .field = &settings::virtualenv,
        .default_value = "",
        .help = "A virtual environment whose packages the app imports (an image's /opt/venv); it "
                "must be made by the Python kiln was built for. VIRTUAL_ENV sets it too. Unset, "
                "a kiln installed in a virtual environment (by pip) uses that one.",
    },
    setting_info{
        .name = "worker_class",
        .section = "Python app",
        .field = &settings::worker_class,
        .default_value = "gthread",
        .help = "gunicorn's worker classes: gthread runs the app on threads threads per worker, "
                "sync on one. eventlet and gevent are taken as gthread, with a warning: kiln never "
                "monkey-patches, and its event loop already holds slow clients and idle "
                "connections without a thread.",
        .choices = "sync|gthread|eventlet|gevent",
        .short_flag = 'k',
        .gunicorn = "worker_class",
    },
    setting_info{
        .name = "threads",
        .section = "Python app",
        .field = &settings::threads,
        .default_value = "4",
        .help = "Python threads per worker, each running one request at a time. A thread never "
                "waits for a client: requests arrive whole and responses are written by the event "
                "loop. More help an app that waits on a database; a worker_class of sync means "
                "one, unless threads is set too (as in gunicorn).",
        .minimum = 1,
        .maximum = 1024,
        .gunicorn = "threads",
    },
    setting_info{
        .name = "preload_app",
        .section = "Python app",
        .field = &settings::preload_app,
        .default_value = "false",
        .help = "Import the app in the master before forking the workers, so that they share its "
                "memory; HUP then restarts workers without new code (restart kiln for that).",
        .gunicorn = "preload_app",
        .aliases = "--preload",
    },
    setting_info{
        .name = "root_path",
        .section = "Python app",
        .field = &settings::root_path,
        .default_value = "",
        .help = "The path the app is mounted under behind a proxy (WSGI's SCRIPT_NAME), taken off "
                "the front of PATH_INFO. SCRIPT_NAME in the environment sets it too.",
    },
    setting_info{
        .name = "raw_env",
        .section = "Python app",
        .field = &settings::raw_env,
        .default_value = "",
        .help = "Environment variables the app gets, KEY=VALUE, set in the workers before it is "
                "imported (gunicorn's -e). Repeat the flag, or give a TOML array.",
        .minimum = 0,
        .short_flag = 'e',
        .gunicorn = "raw_env",
        .aliases = "--env",
    },
    // Behind a proxy.
    setting_info{
        .name = "forwarded_allow_ips",
        .section = "Behind a proxy",
        .field = &settings::forwarded_allow_ips,
        .default_value = "127.0.0.1,::1",
        .help =
            "The peers whose X-Forwarded-For and secure_scheme_headers are believed: addresses, "
            "CIDR ranges (10.0.0.0/8), or * for any. A unix socket's peer always is. "
            "FORWARDED_ALLOW_IPS sets it too.",
        .minimum = 0,
        .gunicorn = "forwarded_allow_ips",
    },
    setting_info{
        .name = "secure_scheme_headers",
        .section = "Behind a proxy",
        .field = &settings::secure_scheme_headers,
        .default_value = "X-FORWARDED-PROTOCOL: ssl, X-FORWARDED-PROTO: https, X-FORWARDED-SSL: on",
        .help = "Headers a trusted proxy sets, each with the value that means the client used "
                "HTTPS: then wsgi.url_scheme is https. Headers that disagree are a 400.",
        .minimum = 0,
        .gunicorn = "secure_scheme_headers",
    },
    setting_info{
        .name = "proxy_protocol",
        .section = "Behind a proxy",
        .field = &settings::proxy_protocol,
        .default_value = "false",
        .help = "Every connection starts with a PROXY protocol header (v1 or v2), as TCP load "
                "balancers send it, naming the client: accepted from proxy_allow_ips only; a "
                "missing or malformed one closes the connection.",
        .gunicorn = "proxy_protocol",
    },
    setting_info{
        .name = "proxy_allow_ips",
        .section = "Behind a proxy",
        .field = &settings::proxy_allow_ips,
        .default_value = "127.0.0.1,::1",
        .help = "The peers a PROXY protocol header is taken from: addresses, CIDR ranges, or *.",
        .minimum = 0,
        .gunicorn = "proxy_allow_ips",
        .aliases = "--proxy-allow-from",
    },
    // Logging.
    setting_info{
        .name = "log_level",
        .section = "Logging",
        .field = &settings::log_level,
        .default_value = "info",
        .help = "The least important error-log messages that are written.",
        .choices = "debug|info|warning|error|critical",
        .gunicorn = "loglevel",
    },
    setting_info{
        .name = "error_log",
        .section = "Logging",
        .field = &settings::error_log,
        .default_value = "-",
        .help = "Where the error log goes: \"-\" for stderr, or a file (reopened on USR1).",
        .gunicorn = "errorlog",
        .aliases = "--error-logfile --log-file",
    },
    setting_info{
        .name = "log_color",
        .section = "Logging",
        .field = &settings::log_color,
        .default_value = "auto",
        .help = "Colour the error log's levels: auto does when it goes to a terminal.",
        .choices = "auto|always|never",
    },
    setting_info{
        .name = "error_log_format",
        .section = "Logging",
        .field = &settings::error_log_format,
        .default_value = "text",
        .help = "text: gunicorn's lines, \"[2026-11-26 16:07:08 +0000] [PID] [LEVEL] message\". "
                "json: an object per line (time, pid, level, message) for log pipelines.",
        .choices = "text|json",
    },
    setting_info{
        .name = "access_log",
        .section = "Logging",
        .field = &settings::access_log,
        .default_value = "",
        .help = "Where the access log goes: empty for nowhere, \"-\" for stdout, or a file "
                "(reopened on USR1). With it on, every request gets an X-Request-ID: the client's, "
                "or a new one, echoed in the response.",
        .gunicorn = "accesslog",
        .aliases = "--access-logfile",
    },
    setting_info{
        .name = "access_log_format",
        .section = "Logging",
        .field = &settings::access_log_format,
        .default_value = default_access_log_format,
        .help = "\"json\" for JSON lines, or a line of gunicorn's atoms: h remote address, t time, "
                "r request line, m method, U path, q query, H protocol, s status, b or B bytes, "
                "f referer, a user agent, T/M/D/L duration in s/ms/us/decimal s, p pid, i request "
                "id, {Name}i a request header, {Name}o a response header.",
        .gunicorn = "access_log_format",
        .aliases = "--access-logformat",
    },
    setting_info{
        .name = "capture_output",
        .section = "Logging",
        .field = &settings::capture_output,
        .default_value = "false",
        .help = "Send what the Python app prints (sys.stdout, sys.stderr) to the error log, a "
                "line at a time, instead of the workers' own output.",
        .gunicorn = "capture_output",
    },
    setting_info{
        .name = "log_health_checks",
        .section = "Logging",
        .field = &settings::log_health_checks,
        .default_value = "false",
        .help = "Also log requests to health_path and ready_path in the access log.",
    },
    setting_info{
        .name = "metrics_bind",
        .section = "Logging",
        .field = &settings::metrics_bind,
        .default_value = "",
        .help = "Where Prometheus metrics are served (GET /metrics): HOST:PORT, or empty for "
                "nowhere. An address of their own, off by default, so that they never face the "
                "internet by accident. Takes a restart.",
    },
    setting_info{
        .name = "status_path",
        .section = "Logging",
        .field = &settings::status_path,
        .default_value = "/status",
        .help = "Where metrics_bind also serves a live status page (workers, requests per "
                "second, latency percentiles, restarts), and PATH.json its data; empty for none.",
    },
};

}  // namespace

std::span<const setting_info> setting_registry() noexcept {
  return registry;
}

const setting_info* find_setting(std::string_view name) noexcept {
  for (const auto& info : registry) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const setting_info* find_gunicorn_setting(std::string_view name) noexcept {
  for (const auto& info : registry) {
    if (!info.gunicorn.empty() && info.gunicorn == name) return &info;
  }
  return nullptr;
}

bool setting_info::has_flag(std::string_view given) const {
  if (given == flag()) return true;
  if (short_flag != 0 && given.size() == 2 && given[0] == '-' && given[1] == short_flag)
    return true;
  std::string_view rest = aliases;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    if (rest.substr(0, space) == given) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

std::string setting_info::flags_text(std::string_view quote) const {
  std::string text;
  auto add = [&](std::string_view flag) {
    if (!text.empty()) text += ", ";
    text.append(quote).append(flag).append(quote);
  };
  if (short_flag != 0) add(std::string{'-', short_flag});
  add(flag());
  std::string_view rest = aliases;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    add(rest.substr(0, space));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return text;
}

std::string setting_info::environment_variable() const {
  std::string variable = "KILN_";
  for (char c : name)
    variable.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  return variable;
}

std::string setting_info::flag() const {
  std::string text = "--";
  for (char c : name)
    text.push_back(c == '_' ? '-' : c);
  return text;
}

std::string setting_info::type_name() const {
  struct namer {
    const setting_info& info;
    std::string operator()(bool settings::*) const { return "boolean"; }
    std::string operator()(std::int64_t settings::*) const {
      return info.allows_auto ? "integer or \"auto\"" : "integer";
    }
    std::string operator()(milliseconds settings::*) const { return "seconds"; }
    std::string operator()(std::string settings::*) const {
      return info.choices.empty() ? "string" : "one of " + std::string(info.choices);
    }
    std::string operator()(std::vector<std::string> settings::*) const { return "list of strings"; }
  };
  return std::visit(namer{*this}, field);
}

}  // namespace kiln
