#include "gunicorn.hpp"

#include <algorithm>
#include <iterator>

namespace kiln {
namespace {

constexpr gunicorn_only_setting only_gunicorn[] = {
    {"config", "kiln's -c reads the file itself"},
    {"reload_engine", "kiln looks at the files' modification times once a second"},
    {"reload_extra_files", "put the files under chdir: reload watches every .py file there"},
    {"spew", "use a debugger or py-spy"},
    {"check_config", "run kiln --check-config"},
    {"print_config", "run kiln --print-config"},
    {"sendfile", "kiln uses sendfile for wsgi.file_wrapper always"},
    {"daemon", "run kiln under systemd or in a container, in the foreground"},
    {"worker_tmp_dir", "kiln's workers beat through shared memory, not files"},
    {"umask", "set the umask in the entrypoint"},
    {"initgroups", "kiln initialises the groups of user whenever it switches to it"},
    {"tmp_upload_dir", "kiln holds request bodies in memory, up to limit_request_body"},
    {"disable_redirect_access_to_syslog", "kiln has no syslog output: log to stderr"},
    {"logger_class",
     "kiln's logs are gunicorn-shaped; access_log_format and error_log_format = \"json\" for JSON"},
    {"logconfig",
     "kiln's logs are gunicorn-shaped; access_log_format and error_log_format = \"json\" for JSON"},
    {"logconfig_dict",
     "kiln's logs are gunicorn-shaped; access_log_format and error_log_format = \"json\" for JSON"},
    {"logconfig_json",
     "kiln's logs are gunicorn-shaped; access_log_format and error_log_format = \"json\" for JSON"},
    {"syslog_addr", "log to stderr and let the platform collect it"},
    {"syslog", "log to stderr and let the platform collect it"},
    {"syslog_prefix", "log to stderr and let the platform collect it"},
    {"syslog_facility", "log to stderr and let the platform collect it"},
    {"enable_stdio_inheritance", "the workers' output is the master's already"},
    {"statsd_host", "no StatsD export: kiln serves Prometheus metrics on metrics_bind"},
    {"statsd_prefix", "no StatsD export: kiln serves Prometheus metrics on metrics_bind"},
    {"dogstatsd_tags", "no StatsD export: kiln serves Prometheus metrics on metrics_bind"},
    {"proc_name", "kiln names its processes kiln: master and kiln: worker N"},
    {"default_proc_name", "kiln names its processes kiln: master and kiln: worker N"},
    {"paste", "name the WSGI app with wsgi_app"},
    {"raw_paste_global_conf", "name the WSGI app with wsgi_app"},
    {"strip_header_spaces", "kiln refuses a space before a header's colon, as RFC 9112 asks"},
    {"permit_obsolete_folding", "kiln refuses obs-fold, as RFC 9112 asks a server that does not"},
    {"header_map", "kiln drops headers whose names hold '_', gunicorn's default"},
    {"forwarder_headers", "kiln takes the client's address from X-Forwarded-For"},
    {"keyfile", "terminate TLS in the load balancer"},
    {"certfile", "terminate TLS in the load balancer"},
    {"ssl_version", "terminate TLS in the load balancer"},
    {"ca_certs", "terminate TLS in the load balancer"},
    {"ciphers", "terminate TLS in the load balancer"},
    {"cert_reqs", "terminate TLS in the load balancer"},
    {"suppress_ragged_eofs", "terminate TLS in the load balancer"},
    {"do_handshake_on_connect", "terminate TLS in the load balancer"},
    {"casefold_http_method", "kiln answers an unknown method 501, whatever its case"},
    {"permit_unconventional_http_method", "kiln answers an unknown method 501"},
    {"permit_unconventional_http_version", "kiln serves HTTP/1.0 and 1.1, and 1.2 as 1.1"},
    {"tolerate_dangerous_framing", "kiln refuses ambiguous framing always, as RFC 9112 asks"},
};

constexpr std::string_view hooks[] = {
    "on_starting",      "on_reload",  "when_ready",   "pre_fork",         "post_fork",
    "post_worker_init", "worker_int", "worker_abort", "pre_exec",         "pre_request",
    "post_request",     "child_exit", "worker_exit",  "nworkers_changed", "on_exit",
};

}  // namespace

std::span<const gunicorn_only_setting> gunicorn_only_settings() noexcept {
  return only_gunicorn;
}

const gunicorn_only_setting* find_gunicorn_only_setting(std::string_view name) noexcept {
  for (const auto& setting : only_gunicorn) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

std::span<const std::string_view> gunicorn_hooks() noexcept {
  return hooks;
}

bool is_gunicorn_hook(std::string_view name) noexcept {
  return std::find(std::begin(hooks), std::end(hooks), name) != std::end(hooks);
}

}  // namespace kiln
