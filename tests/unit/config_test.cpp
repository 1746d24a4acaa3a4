#include "config.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "cpu_quota.hpp"
#include "settings_text.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

configuration load(std::vector<const char*> arguments, const environment& env = {}) {
  return load_configuration(parse_command_line(arguments), env);
}

std::string error_of(std::vector<const char*> arguments, const environment& env = {}) {
  try {
    load(std::move(arguments), env);
  } catch (const config_error& error) {
    return error.what();
  }
  return "no error";
}

// Where a value on this line of file is said to come from.
std::string at_line(const temporary_file& file, int line) {
  return file.path() + ":" + std::to_string(line);
}

configuration load_toml(std::string_view text, const environment& env = {}) {
  temporary_file file(text);
  return load({"-c", file.path().c_str()}, env);
}

// The error for a file holding text, with the file's name replaced by "FILE".
std::string toml_error(std::string_view text, const environment& env = {}) {
  temporary_file file(text);
  std::string message = error_of({"-c", file.path().c_str()}, env);
  if (auto at = message.find(file.path()); at != std::string::npos) {
    message.replace(at, file.path().size(), "FILE");
  }
  return message;
}

std::string interpolation_error(std::string_view text, const environment& env = {}) {
  try {
    interpolate(text, env, "here");
  } catch (const config_error& error) {
    return error.what();
  }
  return "no error";
}

// The line of describe()'s output for one setting.
std::string described(const configuration& config, std::string_view name) {
  std::istringstream lines(describe(config));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(std::string(name) + " = ")) return line;
  }
  return "(no line for " + std::string(name) + ")";
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("defaults come from the registry", "[config]") {
  auto config = load({});
  CHECK(config.values.bind == std::vector<std::string>{"127.0.0.1:8000"});
  CHECK(config.values.keepalive == milliseconds(75000));
  CHECK(config.values.limit_request_line == 4094);
  CHECK(config.values.limit_request_body == 1048576);
  CHECK(config.values.workers >= 1);
  CHECK(config.origin("keepalive") == "default");
}

TEST_CASE("flags take values separately or after =, and booleans alone", "[config]") {
  auto config = load({"--keepalive", "90", "--header-timeout=0.5", "--reuse-port", "-w", "3", "-b",
                      "127.0.0.1:1", "--bind", "unix:/tmp/k.sock"});
  CHECK(config.values.keepalive == milliseconds(90000));
  CHECK(config.values.header_timeout == milliseconds(500));
  CHECK(config.values.reuse_port);
  CHECK(config.values.workers == 3);
  CHECK(config.values.bind == std::vector<std::string>{"127.0.0.1:1", "unix:/tmp/k.sock"});
  CHECK(config.origin("keepalive") == "flag --keepalive");
  CHECK_FALSE(load({"--reuse-port", "--no-reuse-port"}).values.reuse_port);
}

TEST_CASE("a bad flag is one clear message", "[config]") {
  CHECK(error_of({"--workers", "0"}) ==
        "flag --workers \"0\": workers must be between 1 and 1024, not 0");
  CHECK(error_of({"--keepalve", "3"}) ==
        "flag --keepalve: unknown flag; did you mean '--keepalive'?");
  // gunicorn's spelling is an alias.
  CHECK(load({"--keep-alive", "3"}).values.keepalive == std::chrono::seconds(3));
  CHECK(error_of({"--keepalive"}) == "flag --keepalive: needs a value");
  CHECK(error_of({"--keepalive", "soon"}) ==
        "flag --keepalive \"soon\": keepalive must be a number of seconds, not \"soon\"");
  CHECK(error_of({"--reuse-port=maybe"}) ==
        "flag --reuse-port \"maybe\": reuse_port must be true or false, not \"maybe\"");
  CHECK(error_of({"app:application", "serve"}) ==
        "argument \"serve\": kiln takes one argument, the app, and already has "
        "\"app:application\"");
  CHECK(error_of({"my-app"}) ==
        "argument: wsgi_app \"my-app\" does not start with a module name (MODULE or "
        "MODULE:NAME)");
}

TEST_CASE("the one argument is the WSGI app, as gunicorn's is", "[config]") {
  auto config = load({"-w", "2", "app:application"});
  CHECK(config.values.wsgi_app == "app:application");
  CHECK(config.origin("wsgi_app") == "argument");
  // The argument beats the environment, as a flag does.
  CHECK(load({"web.wsgi"}, {{"KILN_WSGI_APP", "other:app"}}).values.wsgi_app == "web.wsgi");
  CHECK(load({}, {{"KILN_WSGI_APP", "other:app"}}).values.wsgi_app == "other:app");
  for (const char* spec :
       {"app", "app:app", "pkg.module:create_app()", "app:create_app('production', debug=False)"}) {
    INFO(spec);
    CHECK(load({spec}).values.wsgi_app == spec);
  }
  CHECK(error_of({"app:"}) ==
        "argument: wsgi_app \"\" is not a name in the module (MODULE:NAME or "
        "MODULE:FACTORY())");
  CHECK(error_of({"app:create_app("}) ==
        "argument: wsgi_app \"create_app(\" is not a call: it must end with "
        "')'");
}

TEST_CASE("worker_class takes gunicorn's classes, and sync means one thread", "[config]") {
  CHECK(load({}).values.threads == 4);
  CHECK(load({"-k", "sync"}).values.threads == 1);
  // Threads given too make a sync worker a gthread one, as in gunicorn.
  CHECK(load({"-k", "sync", "--threads", "8"}).values.threads == 8);
  CHECK(load({"-k", "eventlet"}).values.worker_class == "eventlet");
  CHECK(load({"-k", "gevent"}).values.threads == 4);
  CHECK(error_of({"-k", "tornado"}) ==
        "flag -k \"tornado\": worker_class must be one of sync, gthread, eventlet, gevent, not "
        "\"tornado\"");
  CHECK(load({"--preload"}).values.preload_app);
  CHECK(load({"--preload-app"}).values.preload_app);
}

TEST_CASE("the Python app's directories and virtual environment are checked", "[config]") {
  temporary_directory venv("kiln-venv");
  CHECK(error_of({"--chdir", "/nonexistent/app"}) ==
        "flag --chdir: chdir \"/nonexistent/app\" is not a directory");
  CHECK(error_of({"--virtualenv", venv.path().c_str()}) ==
        "flag --virtualenv: virtualenv \"" + venv.path() +
            "\" is not a virtual environment: it has no pyvenv.cfg");
  CHECK(error_of({}, {{"VIRTUAL_ENV", venv.path()}}) ==
        "env VIRTUAL_ENV: virtualenv \"" + venv.path() +
            "\" is not a virtual environment: it has no pyvenv.cfg");
  venv.write("pyvenv.cfg",
             "home = /usr/bin\ninclude-system-site-packages = false\n"
             "version = 2.7.18\n");
  CHECK(error_of({"--virtualenv", venv.path().c_str()})
            .find("was made by Python 2.7, but kiln was built for Python 3.") != std::string::npos);
  CHECK(load({"--pythonpath", "/a, /b"}).values.pythonpath == strings{"/a", "/b"});
  CHECK(load({}).values.pythonpath.empty());
  CHECK(load({}, {{"SCRIPT_NAME", "/app"}}).values.root_path == "/app");
  CHECK(error_of({"--root-path", "app/"}) ==
        "flag --root-path: root_path \"app/\" must start with '/' and not end with one, "
        "as \"/app\"");
}

// The registry.

TEST_CASE("every setting has a unique name, help, and a default that loads", "[config]") {
  const auto registry = setting_registry();
  REQUIRE_FALSE(registry.empty());
  std::set<std::string_view> names;
  std::set<char> short_flags;
  for (const auto& info : registry) {
    INFO("setting " << info.name);
    CHECK(names.insert(info.name).second);
    if (info.short_flag != 0) CHECK(short_flags.insert(info.short_flag).second);
    // Names are TOML bare keys that also make valid variable and flag names.
    CHECK_FALSE(info.name.empty());
    CHECK(std::all_of(info.name.begin(), info.name.end(),
                      [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
    CHECK(info.help.size() > 20);
    CHECK(info.help.ends_with('.'));
    CHECK_FALSE(info.section.empty());
    // The default, given again as a flag, loads and gives the same value.
    std::string flag = info.flag() + "=" + std::string(info.default_value);
    configuration config;
    REQUIRE_NOTHROW(config = load({flag.c_str()}));
    std::string by_default = described(load({}), info.name);
    CHECK(described(config, info.name) ==
          by_default.substr(0, by_default.find("  # ")) + "  # flag " + info.flag());
  }
  CHECK(names.size() == registry.size());
}

TEST_CASE("a setting's variable and flag are derived from its name", "[config]") {
  for (const auto& info : setting_registry()) {
    INFO("setting " << info.name);
    std::string variable = "KILN_";
    std::string flag = "--";
    for (char c : info.name) {
      variable.push_back(c == '_' ? '_' : static_cast<char>(c - 'a' + 'A'));
      flag.push_back(c == '_' ? '-' : c);
    }
    CHECK(info.environment_variable() == variable);
    CHECK(info.flag() == flag);
    // Each one reaches its setting.
    CHECK(load({}, {{variable, std::string(info.default_value)}}).origin(info.name) ==
          "env " + variable);
  }
  const auto* size = find_setting("limit_request_field_size");
  REQUIRE(size != nullptr);
  CHECK(size->environment_variable() == "KILN_LIMIT_REQUEST_FIELD_SIZE");
  CHECK(size->flag() == "--limit-request-field-size");
  CHECK(find_setting("keepalive")->environment_variable() == "KILN_KEEPALIVE");
  CHECK(find_setting("keepalive")->flag() == "--keepalive");
}

TEST_CASE("a TOML file sets each type of setting, named by file and line", "[config]") {
  temporary_file file(
      "# A comment, then a blank line.\n"
      "\n"
      "bind = [\"127.0.0.1:1\", \"unix:/tmp/kiln-test.sock\"]\n"
      "backlog = 16\n"
      "reuse_port = true\n"
      "workers = 4\n"
      "keepalive = 2.5\n"
      "header_timeout = 7\n"
      "pid = \"/tmp/kiln-test.pid\"\n"
      "log_level = \"WARNING\"\n"
      "limit_request_body = 0  # No limit.\n");
  auto config = load({"-c", file.path().c_str()});
  CHECK(config.file == file.path());
  CHECK(config.values.bind == strings{"127.0.0.1:1", "unix:/tmp/kiln-test.sock"});
  CHECK(config.values.backlog == 16);
  CHECK(config.values.reuse_port);
  CHECK(config.values.workers == 4);
  CHECK(config.values.keepalive == milliseconds(2500));
  CHECK(config.values.header_timeout == milliseconds(7000));
  CHECK(config.values.pid == "/tmp/kiln-test.pid");
  CHECK(config.values.log_level == "warning");
  CHECK(config.values.limit_request_body == 0);
  CHECK(config.origin("bind") == at_line(file, 3));
  CHECK(config.origin("backlog") == at_line(file, 4));
  CHECK(config.origin("keepalive") == at_line(file, 7));
  CHECK(config.origin("limit_request_body") == at_line(file, 11));
  CHECK(config.origin("body_timeout") == "default");
  CHECK(config.values.body_timeout == milliseconds(60000));
}

TEST_CASE("TOML strings are read like environment values", "[config]") {
  auto config = load_toml(
      "reuse_port = \"yes\"\n"
      "workers = \" 3 \"\n"
      "keepalive = \"1.5\"\n"
      "bind = \"127.0.0.1:1, 127.0.0.1:2\"\n");
  CHECK(config.values.reuse_port);
  CHECK(config.values.workers == 3);
  CHECK(config.values.keepalive == milliseconds(1500));
  CHECK(config.values.bind == strings{"127.0.0.1:1", "127.0.0.1:2"});
}

TEST_CASE("the file comes from -c, --config or KILN_CONFIG, and -c wins", "[config]") {
  temporary_file first("keepalive = 1\n");
  temporary_file second("keepalive = 2\n");
  CHECK(load({"--config", first.path().c_str()}).values.keepalive == milliseconds(1000));
  std::string attached = std::string("--config=") + second.path();
  CHECK(load({attached.c_str()}).values.keepalive == milliseconds(2000));
  auto from_env = load({}, {{"KILN_CONFIG", first.path()}});
  CHECK(from_env.values.keepalive == milliseconds(1000));
  CHECK(from_env.file == first.path());
  CHECK(from_env.origin("keepalive") == at_line(first, 1));
  auto both = load({"-c", second.path().c_str()}, {{"KILN_CONFIG", first.path()}});
  CHECK(both.values.keepalive == milliseconds(2000));
  CHECK(both.file == second.path());
  // No file at all.
  CHECK(load({}).file.empty());
}

TEST_CASE("the environment sets each type of setting as KILN_<NAME>", "[config]") {
  auto config = load({}, {{"KILN_BIND", " 127.0.0.1:1 ,unix:/tmp/kiln-test.sock"},
                          {"KILN_BACKLOG", "64"},
                          {"KILN_REUSE_PORT", "on"},
                          {"KILN_WORKERS", "2"},
                          {"KILN_KEEPALIVE", "0.25"},
                          {"KILN_PID", "${HOME}/kiln.pid"},
                          {"KILN_LOG_LEVEL", "Error"},
                          {"HOME", "/root"},
                          {"PATH", "/usr/bin"},
                          {"KILN", "not a setting"},
                          {"XKILN_WORKERS", "7"}});
  CHECK(config.values.bind == strings{"127.0.0.1:1", "unix:/tmp/kiln-test.sock"});
  CHECK(config.values.backlog == 64);
  CHECK(config.values.reuse_port);
  CHECK(config.values.workers == 2);
  CHECK(config.values.keepalive == milliseconds(250));
  // Only TOML strings are interpolated: a variable's value is taken as it is.
  CHECK(config.values.pid == "${HOME}/kiln.pid");
  CHECK(config.values.log_level == "error");
  CHECK(config.origin("bind") == "env KILN_BIND");
  CHECK(config.origin("workers") == "env KILN_WORKERS");
  CHECK(config.origin("log_level") == "env KILN_LOG_LEVEL");
  CHECK(config.origin("backlog") == "env KILN_BACKLOG");
  CHECK(config.origin("timeout") == "default");
  CHECK(config.file.empty());
}

TEST_CASE("a repeated flag: the last wins, a list flag collects", "[config]") {
  auto config = load({"--keepalive", "1", "--keepalive", "2", "-t", "3", "--timeout", "4"});
  CHECK(config.values.keepalive == milliseconds(2000));
  CHECK(config.values.timeout == milliseconds(4000));
  CHECK(config.origin("timeout") == "flag --timeout");
  // A --bind replaces the bind from any other source, then further ones add to it.
  auto bound = load({"--bind", "127.0.0.1:1", "-b", "127.0.0.1:2,127.0.0.1:3"},
                    {{"KILN_BIND", "127.0.0.1:9"}});
  CHECK(bound.values.bind == strings{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"});
  CHECK(bound.origin("bind") == "flag -b");
}

// Precedence.

TEST_CASE("a flag beats the environment, which beats the file, which beats the default",
          "[config]") {
  temporary_file file(
      "# Precedence.\n"
      "keepalive = 10\n"
      "workers = 10\n");
  environment env{{"KILN_KEEPALIVE", "20"}};

  auto defaults = load({});
  CHECK(defaults.values.keepalive == milliseconds(75000));
  CHECK(defaults.origin("keepalive") == "default");

  auto from_file = load({"-c", file.path().c_str()});
  CHECK(from_file.values.keepalive == milliseconds(10000));
  CHECK(from_file.origin("keepalive") == at_line(file, 2));

  auto from_env = load({"-c", file.path().c_str()}, env);
  CHECK(from_env.values.keepalive == milliseconds(20000));
  CHECK(from_env.origin("keepalive") == "env KILN_KEEPALIVE");

  auto from_flag = load({"-c", file.path().c_str(), "--keepalive", "30"}, env);
  CHECK(from_flag.values.keepalive == milliseconds(30000));
  CHECK(from_flag.origin("keepalive") == "flag --keepalive");
  // The flag's place on the command line does not matter.
  auto flag_first = load({"--keepalive=30", "-c", file.path().c_str()}, env);
  CHECK(flag_first.values.keepalive == milliseconds(30000));
  CHECK(flag_first.origin("keepalive") == "flag --keepalive");

  // The same with the conventional variable in between.
  env = {{"WEB_CONCURRENCY", "3"}};
  auto conventional = load({"-c", file.path().c_str()}, env);
  CHECK(conventional.values.workers == 3);
  CHECK(conventional.origin("workers") == "env WEB_CONCURRENCY");
  env["KILN_WORKERS"] = "4";
  auto kiln_variable = load({"-c", file.path().c_str()}, env);
  CHECK(kiln_variable.values.workers == 4);
  CHECK(kiln_variable.origin("workers") == "env KILN_WORKERS");
  auto flag = load({"-c", file.path().c_str(), "-w", "5"}, env);
  CHECK(flag.values.workers == 5);
  CHECK(flag.origin("workers") == "flag -w");
}

// The conventional variables.

TEST_CASE("PORT binds 0.0.0.0:$PORT only when nothing else gives a bind", "[config]") {
  auto config = load({}, {{"PORT", "9000"}});
  CHECK(config.values.bind == strings{"0.0.0.0:9000"});
  CHECK(config.origin("bind") == "env PORT");
  CHECK(load({}, {{"PORT", " 8080 "}}).values.bind == strings{"0.0.0.0:8080"});
  CHECK(load({}, {{"PORT", "0"}}).values.bind == strings{"0.0.0.0:0"});

  temporary_file file("bind = \"127.0.0.1:7000\"\n");
  auto from_file = load({"-c", file.path().c_str()}, {{"PORT", "9000"}});
  CHECK(from_file.values.bind == strings{"127.0.0.1:7000"});
  CHECK(from_file.origin("bind") == at_line(file, 1));

  auto from_env = load({}, {{"PORT", "9000"}, {"KILN_BIND", "127.0.0.1:7001"}});
  CHECK(from_env.values.bind == strings{"127.0.0.1:7001"});
  CHECK(from_env.origin("bind") == "env KILN_BIND");

  auto from_flag = load({"--bind", "127.0.0.1:7002"}, {{"PORT", "9000"}});
  CHECK(from_flag.values.bind == strings{"127.0.0.1:7002"});
  CHECK(from_flag.origin("bind") == "flag --bind");

  // A PORT that is not used is not checked either.
  CHECK(load({"--bind", "127.0.0.1:7002"}, {{"PORT", "web"}}).values.bind ==
        strings{"127.0.0.1:7002"});
  CHECK(load({"-c", file.path().c_str()}, {{"PORT", "web"}}).values.bind ==
        strings{"127.0.0.1:7000"});
  CHECK(error_of({}, {{"PORT", "web"}}) ==
        "environment PORT=\"web\": PORT must be a port number from 0 to 65535");
  CHECK(error_of({}, {{"PORT", "65536"}}) ==
        "environment PORT=\"65536\": PORT must be a port number from 0 to 65535");
  CHECK(error_of({}, {{"PORT", "-1"}}) ==
        "environment PORT=\"-1\": PORT must be a port number from 0 to 65535");
  CHECK(error_of({}, {{"PORT", ""}}) ==
        "environment PORT=\"\": PORT must be a port number from 0 to 65535");
}

TEST_CASE("WEB_CONCURRENCY sets workers and HTTP_SERVE_TIMEOUT_SECONDS the timeout", "[config]") {
  auto config = load({}, {{"WEB_CONCURRENCY", "6"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "12.5"}});
  CHECK(config.values.workers == 6);
  CHECK(config.origin("workers") == "env WEB_CONCURRENCY");
  CHECK(config.values.timeout == milliseconds(12500));
  CHECK(config.origin("timeout") == "env HTTP_SERVE_TIMEOUT_SECONDS");

  // The KILN_ names win over the conventional ones.
  auto both = load({}, {{"WEB_CONCURRENCY", "6"},
                        {"KILN_WORKERS", "2"},
                        {"HTTP_SERVE_TIMEOUT_SECONDS", "12.5"},
                        {"KILN_TIMEOUT", "5"}});
  CHECK(both.values.workers == 2);
  CHECK(both.origin("workers") == "env KILN_WORKERS");
  CHECK(both.values.timeout == milliseconds(5000));
  CHECK(both.origin("timeout") == "env KILN_TIMEOUT");

  // They beat the file, like any variable.
  temporary_file file("workers = 10\ntimeout = 30\n");
  auto over_file = load({"-c", file.path().c_str()},
                        {{"WEB_CONCURRENCY", "6"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "9"}});
  CHECK(over_file.values.workers == 6);
  CHECK(over_file.values.timeout == milliseconds(9000));

  CHECK(error_of({}, {{"WEB_CONCURRENCY", "many"}}) ==
        "environment WEB_CONCURRENCY=\"many\": workers must be a whole number or \"auto\", not "
        "\"many\"");
  CHECK(error_of({}, {{"HTTP_SERVE_TIMEOUT_SECONDS", "-1"}}) ==
        "environment HTTP_SERVE_TIMEOUT_SECONDS=\"-1\": timeout must be between 0 and 86400, not "
        "-1");
}

// Interpolation.

TEST_CASE("${VAR} is the variable's value, or nothing", "[config]") {
  environment env{{"A", "x"}, {"B", "y"}, {"EMPTY", ""}};
  CHECK(interpolate("${A}", env, "here") == "x");
  CHECK(interpolate("<${A}:${B}>", env, "here") == "<x:y>");
  CHECK(interpolate("${A}${A}", env, "here") == "xx");
  CHECK(interpolate("${UNSET}", env, "here").empty());
  CHECK(interpolate("${EMPTY}", env, "here").empty());
  CHECK(interpolate("no references", env, "here") == "no references");
  CHECK(interpolate("", env, "here").empty());
}

TEST_CASE("${VAR:-default} is the default when VAR is unset or empty", "[config]") {
  environment env{{"SET", "8000"}, {"EMPTY", ""}};
  CHECK(interpolate("${SET:-30}", env, "here") == "8000");
  CHECK(interpolate("${UNSET:-30}", env, "here") == "30");
  CHECK(interpolate("${EMPTY:-30}", env, "here") == "30");
  CHECK(interpolate("${UNSET:-}", env, "here").empty());
  // A default may hold colons, as an address does.
  CHECK(interpolate("${HOST:-0.0.0.0}:${SET:-1}", env, "here") == "0.0.0.0:8000");
  CHECK(interpolate("${UNSET:-a:-b}", env, "here") == "a:-b");
}

TEST_CASE("${VAR:?message} fails with the message when VAR is unset or empty", "[config]") {
  environment env{{"PORT", "8000"}, {"EMPTY", ""}};
  CHECK(interpolate("0.0.0.0:${PORT:?PORT must be set}", env, "here") == "0.0.0.0:8000");
  CHECK(interpolation_error("0.0.0.0:${UNSET:?PORT must be set}", env) ==
        "here: UNSET is not set: PORT must be set");
  CHECK(interpolation_error("${EMPTY:?give it a value}", env) ==
        "here: EMPTY is not set: give it a value");
  CHECK(interpolation_error("${UNSET:?}", env) == "here: UNSET must be set");
}

TEST_CASE("$$ is a dollar, and a $ without a brace is itself", "[config]") {
  environment env{{"A", "x"}};
  CHECK(interpolate("$$", env, "here") == "$");
  CHECK(interpolate("$${A}", env, "here") == "${A}");
  CHECK(interpolate("$$$${A}", env, "here") == "$${A}");
  CHECK(interpolate("$$${A}", env, "here") == "$x");
  CHECK(interpolate("cost: $5", env, "here") == "cost: $5");
  CHECK(interpolate("$A", env, "here") == "$A");
  CHECK(interpolate("end$", env, "here") == "end$");
}

TEST_CASE("a malformed reference is an error", "[config]") {
  CHECK(interpolation_error("0.0.0.0:${PORT") == "here: unterminated \"${\" in \"0.0.0.0:${PORT\"");
  CHECK(interpolation_error("${") == "here: unterminated \"${\" in \"${\"");
  CHECK(interpolation_error("${}") == "here: \"${}\" is not a variable reference");
  CHECK(interpolation_error("${A-B}") == "here: \"${A-B}\" is not a variable reference");
  CHECK(interpolation_error("${A B}") == "here: \"${A B}\" is not a variable reference");
  CHECK(interpolation_error("${:-x}") == "here: \"${:-x}\" is not a variable reference");
  CHECK(interpolation_error("${A:+x}") ==
        "here: \"${A:+x}\": expected ${VAR}, ${VAR:-default} or ${VAR:?message}");
  // A default cannot hold a reference: rather an error than a half-expanded value.
  CHECK(interpolation_error("${A:-${B}}") ==
        "here: \"${\" inside \"${...}\" is not supported in \"${A:-${B}}\"");
  CHECK(interpolation_error("${A:?${B}}") ==
        "here: \"${\" inside \"${...}\" is not supported in \"${A:?${B}}\"");
  CHECK(interpolation_error("${A:x}") ==
        "here: \"${A:x}\": expected ${VAR}, ${VAR:-default} or ${VAR:?message}");
}

TEST_CASE("TOML strings are interpolated, as the seed's gunicorn settings were", "[config]") {
  temporary_file file(
      "timeout = \"${HTTP_SERVE_TIMEOUT_SECONDS:-30}\"\n"
      "bind = \"0.0.0.0:${PORT:?PORT must be set}\"\n"
      "pid = \"${RUN:-/run}/kiln-$${USER}.pid\"\n");
  auto config = load({"-c", file.path().c_str()}, {{"PORT", "9000"}});
  CHECK(config.values.timeout == milliseconds(30000));
  CHECK(config.origin("timeout") == at_line(file, 1));
  CHECK(config.values.bind == strings{"0.0.0.0:9000"});
  CHECK(config.origin("bind") == at_line(file, 2));
  CHECK(config.values.pid == "/run/kiln-${USER}.pid");

  // The variable given, it sets the timeout twice; the environment's own reading counts.
  auto set =
      load({"-c", file.path().c_str()}, {{"PORT", "9000"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "45"}});
  CHECK(set.values.timeout == milliseconds(45000));
  CHECK(set.origin("timeout") == "env HTTP_SERVE_TIMEOUT_SECONDS");

  CHECK(error_of({"-c", file.path().c_str()}) ==
        at_line(file, 2) + ": PORT is not set: PORT must be set");
  CHECK(error_of({"-c", file.path().c_str()}, {{"PORT", ""}}) ==
        at_line(file, 2) + ": PORT is not set: PORT must be set");

  // In arrays too.
  auto listed = load_toml("bind = [\"127.0.0.1:${PORT}\", \"unix:${DIR:-/tmp}/k.sock\"]\n",
                          {{"PORT", "1234"}});
  CHECK(listed.values.bind == strings{"127.0.0.1:1234", "unix:/tmp/k.sock"});
  CHECK(toml_error("bind = [\"127.0.0.1:1\", \"${PORT\"]\n") ==
        "FILE:1: unterminated \"${\" in \"${PORT\"");
  CHECK(toml_error("\n\nlog_level = \"${LEVEL-info}\"\n") ==
        "FILE:3: \"${LEVEL-info}\" is not a variable reference");
  // An expansion to nothing is still checked.
  CHECK(toml_error("workers = \"${UNSET}\"\n") ==
        "FILE:1: workers must be a whole number or \"auto\", not \"\"");
}

// Errors from the file.

TEST_CASE("an unknown TOML key is named with its line, and a near miss suggested", "[config]") {
  CHECK(toml_error("# Tuning.\nworkers = 2\nkeep_alive = 90\n") ==
        "FILE:3: 'keep_alive' is not a setting; did you mean 'keepalive'?");
  CHECK(toml_error("worker = 2\n") == "FILE:1: 'worker' is not a setting; did you mean 'workers'?");
  CHECK(toml_error("gracefull_timeout = 2\n") ==
        "FILE:1: 'gracefull_timeout' is not a setting; did you mean 'graceful_timeout'?");
  CHECK(toml_error("limit_request_fields_size = 2\n") ==
        "FILE:1: 'limit_request_fields_size' is not a setting; did you mean "
        "'limit_request_field_size'?");
  // Nothing close: no suggestion, rather than a misleading one ("pid" for "port").
  CHECK(toml_error("port = 8000\n") == "FILE:1: 'port' is not a setting");
  CHECK(toml_error("frobnicate = true\n") == "FILE:1: 'frobnicate' is not a setting");
  // The keys are flat: no tables.
  CHECK(toml_error("\n[server]\nworkers = 1\n") == "FILE:2: 'server' is not a setting");
  CHECK(toml_error("server.workers = 1\n") == "FILE:1: 'server' is not a setting");
  // Keys are case-sensitive, like the setting names.
  CHECK(toml_error("Workers = 1\n") ==
        "FILE:1: 'Workers' is not a setting; did you mean 'workers'?");
}

TEST_CASE("a TOML value of the wrong type says what was expected", "[config]") {
  CHECK(toml_error("reuse_port = \"maybe\"\n") ==
        "FILE:1: reuse_port must be true or false, not \"maybe\"");
  CHECK(toml_error("reuse_port = 1\n") ==
        "FILE:1: reuse_port must be true or false, not an integer");
  CHECK(toml_error("workers = [1]\n") ==
        "FILE:1: workers must be a whole number or \"auto\", not an array");
  CHECK(toml_error("workers = 2.5\n") ==
        "FILE:1: workers must be a whole number or \"auto\", not a float");
  CHECK(toml_error("workers = true\n") ==
        "FILE:1: workers must be a whole number or \"auto\", not a boolean");
  CHECK(toml_error("backlog = \"lots\"\n") ==
        "FILE:1: backlog must be a whole number, not \"lots\"");
  CHECK(toml_error("backlog = {}\n") == "FILE:1: backlog must be a whole number, not a table");
  CHECK(toml_error("keepalive = true\n") ==
        "FILE:1: keepalive must be a number of seconds, not a boolean");
  CHECK(toml_error("keepalive = 1979-05-27\n") ==
        "FILE:1: keepalive must be a number of seconds, not a date or time");
  CHECK(toml_error("keepalive = \"90s\"\n") ==
        "FILE:1: keepalive must be a number of seconds, not \"90s\"");
  CHECK(toml_error("keepalive = nan\n") ==
        "FILE:1: keepalive must be a number of seconds, not nan");
  CHECK(toml_error("keepalive = -inf\n") ==
        "FILE:1: keepalive must be a number of seconds, not -inf");
  CHECK(toml_error("static_root = 1\n") == "FILE:1: static_root must be a string, not an integer");
  CHECK(toml_error("log_level = 3\n") ==
        "FILE:1: log_level must be one of debug, info, warning, error, critical, not an integer");
  CHECK(toml_error("log_level = \"loud\"\n") ==
        "FILE:1: log_level must be one of debug, info, warning, error, critical, not \"loud\"");
  CHECK(toml_error("bind = 8000\n") ==
        "FILE:1: bind must be a string or an array of strings, not an integer");
  CHECK(toml_error("bind = [\"127.0.0.1:1\", 8000]\n") ==
        "FILE:1: bind must be an array of strings, not an array holding an integer");
  CHECK(toml_error("bind = []\n") == "FILE:1: bind must not be an empty array");
  CHECK(toml_error("bind = [\"127.0.0.1:1\", \" \"]\n") == "FILE:1: bind has an empty item");
  CHECK(toml_error("bind = \"127.0.0.1:1,,127.0.0.1:2\"\n") ==
        "FILE:1: bind has an empty item in \"127.0.0.1:1,,127.0.0.1:2\"");
}

TEST_CASE("a TOML value out of range names the range", "[config]") {
  CHECK(toml_error("workers = 0\n") == "FILE:1: workers must be between 1 and 1024, not 0");
  CHECK(toml_error("workers = 1025\n") == "FILE:1: workers must be between 1 and 1024, not 1025");
  CHECK(toml_error("workers = 9223372036854775807\n") ==
        "FILE:1: workers must be between 1 and 1024, not 9223372036854775807");
  CHECK(toml_error("backlog = 65536\n") ==
        "FILE:1: backlog must be between 1 and 65535, not 65536");
  CHECK(toml_error("keepalive = -1\n") == "FILE:1: keepalive must be between 0 and 86400, not -1");
  CHECK(toml_error("keepalive = 86400.5\n") ==
        "FILE:1: keepalive must be between 0 and 86400, not 86400.5");
  CHECK(toml_error("timeout = 1e9\n") ==
        "FILE:1: timeout must be between 0 and 86400, not 1000000000");
  CHECK(toml_error("header_timeout = 0\n") ==
        "FILE:1: header_timeout must be between 0.001 and 86400, not 0");
  CHECK(toml_error("max_requests = -1\n") == "FILE:1: max_requests must be at least 0, not -1");
  CHECK(toml_error("workers = \"-3\"\n") == "FILE:1: workers must be between 1 and 1024, not -3");
  // The edges are allowed, and "no limit" has no upper bound.
  CHECK(load_toml("workers = 1024\nkeepalive = 0\nheader_timeout = 0.001\n").values.workers ==
        1024);
  CHECK(load_toml("max_requests = 2000000000000\n").values.max_requests == 2000000000000);
  CHECK(load_toml("limit_request_body = 9223372036854775807\n").values.limit_request_body ==
        9223372036854775807);
}

TEST_CASE("a malformed TOML file is named with line and column", "[config]") {
  CHECK(toml_error("# Tuning.\n\nkeepalive = 90 90\n") ==
        "FILE:3:16: Error while parsing key-value pair: expected a comment or whitespace, saw '9'");
  CHECK(toml_error("keepalive = \n") ==
        "FILE:1:13: Error while parsing key-value pair: expected value, saw '\\n'");
  CHECK(toml_error("workers = 1\nworkers = 2\n") ==
        "FILE:2:11: Error while parsing key-value pair: cannot redefine existing integer "
        "'workers'");
  CHECK(error_of({"-c", "/nonexistent/kiln.toml"}) ==
        "/nonexistent/kiln.toml: cannot read the configuration file: File could not be opened for "
        "reading");
  CHECK(error_of({}, {{"KILN_CONFIG", "/nonexistent/kiln.toml"}}) ==
        "/nonexistent/kiln.toml: cannot read the configuration file: File could not be opened for "
        "reading");
}

TEST_CASE("an error quoting a value with a line break stays one line", "[config]") {
  // Found by fuzzing: a TOML multi-line string is a value with line breaks in it.
  CHECK(toml_error("bind = \"\"\"\n${PORT\n:x}\"\"\"\n") ==
        "FILE:1: \"${PORT\\n:x}\" is not a variable reference");
  CHECK(error_of({"--workers", "1\n2"}) ==
        "flag --workers \"1\\n2\": workers must be a whole number or \"auto\", not \"1\\n2\"");
}

// Errors from the environment and the command line.

TEST_CASE("an unknown KILN_ variable is an error, with a suggestion", "[config]") {
  CHECK(error_of({}, {{"KILN_KEEP_ALIVE", "3"}}) ==
        "environment KILN_KEEP_ALIVE: 'KILN_KEEP_ALIVE' names no setting; did you mean "
        "'KILN_KEEPALIVE'?");
  CHECK(error_of({}, {{"KILN_WORKER", "3"}}) ==
        "environment KILN_WORKER: 'KILN_WORKER' names no setting; did you mean 'KILN_WORKERS'?");
  CHECK(error_of({}, {{"KILN_PORT", "3"}}) ==
        "environment KILN_PORT: 'KILN_PORT' names no setting");
  CHECK(error_of({}, {{"KILN_", "3"}}) == "environment KILN_: 'KILN_' names no setting");
  // The names are upper case.
  CHECK(error_of({}, {{"KILN_workers", "3"}}) ==
        "environment KILN_workers: 'KILN_workers' names no setting");
}

TEST_CASE("Kubernetes service links named kiln are not settings", "[config]") {
  // A Service named kiln, and one named kiln-api, in the pod's namespace.
  environment links{{"KILN_PORT", "tcp://10.0.0.1:8000"},
                    {"KILN_SERVICE_HOST", "10.0.0.1"},
                    {"KILN_SERVICE_PORT", "8000"},
                    {"KILN_SERVICE_PORT_HTTP", "8000"},
                    {"KILN_PORT_8000_TCP", "tcp://10.0.0.1:8000"},
                    {"KILN_PORT_8000_TCP_PROTO", "tcp"},
                    {"KILN_PORT_8000_TCP_PORT", "8000"},
                    {"KILN_PORT_8000_TCP_ADDR", "10.0.0.1"},
                    {"KILN_API_PORT", "udp://10.0.0.2:53"},
                    {"KILN_API_SERVICE_HOST", "10.0.0.2"},
                    {"KILN_API_PORT_53_UDP_ADDR", "10.0.0.2"},
                    {"KILN_WORKERS", "3"}};
  auto config = load({}, links);
  CHECK(config.values.workers == 3);
  CHECK(config.origin("bind") == "default");
  // The same names with values a link never has are still mistakes.
  CHECK(error_of({}, {{"KILN_PORT", "8000"}}) ==
        "environment KILN_PORT: 'KILN_PORT' names no setting");
  CHECK(error_of({}, {{"KILN_WORKERS_PORT", "8000"}}) ==
        "environment KILN_WORKERS_PORT: 'KILN_WORKERS_PORT' names no setting");
}

TEST_CASE("a bad environment value names the variable and its value", "[config]") {
  CHECK(error_of({}, {{"KILN_WORKERS", "zero"}}) ==
        "environment KILN_WORKERS=\"zero\": workers must be a whole number or \"auto\", not "
        "\"zero\"");
  CHECK(error_of({}, {{"KILN_WORKERS", "0"}}) ==
        "environment KILN_WORKERS=\"0\": workers must be between 1 and 1024, not 0");
  CHECK(error_of({}, {{"KILN_REUSE_PORT", "maybe"}}) ==
        "environment KILN_REUSE_PORT=\"maybe\": reuse_port must be true or false, not \"maybe\"");
  CHECK(error_of({}, {{"KILN_KEEPALIVE", ""}}) ==
        "environment KILN_KEEPALIVE=\"\": keepalive must be a number of seconds, not \"\"");
  CHECK(error_of({}, {{"KILN_KEEPALIVE", "inf"}}) ==
        "environment KILN_KEEPALIVE=\"inf\": keepalive must be a number of seconds, not \"inf\"");
  CHECK(error_of({}, {{"KILN_KEEPALIVE", "1m"}}) ==
        "environment KILN_KEEPALIVE=\"1m\": keepalive must be a number of seconds, not \"1m\"");
  CHECK(error_of({}, {{"KILN_LOG_LEVEL", "verbose"}}) ==
        "environment KILN_LOG_LEVEL=\"verbose\": log_level must be one of debug, info, warning, "
        "error, critical, not \"verbose\"");
  CHECK(error_of({}, {{"KILN_BIND", "127.0.0.1:1,"}}) ==
        "environment KILN_BIND=\"127.0.0.1:1,\": bind has an empty item in \"127.0.0.1:1,\"");
  CHECK(error_of({}, {{"KILN_BACKLOG", "0x10"}}) ==
        "environment KILN_BACKLOG=\"0x10\": backlog must be a whole number, not \"0x10\"");
}

TEST_CASE("bad flags: unknown, missing or unwanted values, bad values", "[config]") {
  CHECK(error_of({"--wokers", "3"}) == "flag --wokers: unknown flag; did you mean '--workers'?");
  CHECK(error_of({"--port", "3"}) == "flag --port: unknown flag");
  CHECK(error_of({"-x"}) == "flag -x: unknown flag");
  CHECK(error_of({"--"}) == "flag --: unknown flag");
  CHECK(error_of({"--reuse_port"}) ==
        "flag --reuse_port: unknown flag; did you mean '--reuse-port'?");
  CHECK(error_of({"-w"}) == "flag -w: needs a value");
  CHECK(error_of({"-c"}) == "flag -c: needs a value");
  CHECK(error_of({"--config"}) == "flag --config: needs a value");
  CHECK(error_of({"--help=yes"}) == "flag --help: takes no value");
  CHECK(error_of({"--check-config=1"}) == "flag --check-config: takes no value");
  CHECK(error_of({"--no-reuse-port=true"}) == "flag --no-reuse-port: takes no value");
  CHECK(error_of({"--no-workers"}) == "flag --no-workers: unknown flag");
  CHECK(error_of({"--workers=many"}) ==
        "flag --workers \"many\": workers must be a whole number or \"auto\", not \"many\"");
  CHECK(error_of({"-w", "2000"}) ==
        "flag -w \"2000\": workers must be between 1 and 1024, not 2000");
  CHECK(error_of({"--log-level", "loud"}) ==
        "flag --log-level \"loud\": log_level must be one of debug, info, warning, error, "
        "critical, not \"loud\"");
  CHECK(error_of({"--bind="}) == "flag --bind \"\": bind has an empty item in \"\"");
  CHECK(error_of({"--graceful-timeout", "-5"}) ==
        "flag --graceful-timeout \"-5\": graceful_timeout must be between 0 and 86400, not -5");
  CHECK(error_of({"--max-requests", "-1"}) ==
        "flag --max-requests \"-1\": max_requests must be at least 0, not -1");
  // A value that starts with a dash is still the flag's value.
  CHECK(error_of({"--keepalive", "-w"}) ==
        "flag --keepalive \"-w\": keepalive must be a number of seconds, not \"-w\"");
}

TEST_CASE("values that parse but cannot work are refused by where they came from", "[config]") {
  CHECK(error_of({"--bind", "nope"}) ==
        "flag --bind: bind \"nope\" is not HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N");
  CHECK(error_of({}, {{"KILN_BIND", "127.0.0.1:1,::1:80"}}) ==
        "env KILN_BIND: bind \"::1:80\": write IPv6 addresses as [ADDRESS]:PORT");
  CHECK(toml_error("\nbind = [\"127.0.0.1:1\", \"unix:\"]\n") ==
        "FILE:2: bind \"unix:\" needs a path");
  CHECK(error_of({}, {{"KILN_STATIC_ROOT", "/nonexistent/kiln"}}) ==
        "env KILN_STATIC_ROOT: static_root \"/nonexistent/kiln\" is not a directory");
  std::string readme = std::string(KILN_SOURCE_DIR) + "/README.md";
  CHECK(error_of({"--static-root", readme.c_str()}) ==
        "flag --static-root: static_root \"" + readme + "\" is not a directory");
  CHECK(error_of({"--user", "no-such-kiln-user"}) ==
        "flag --user: user \"no-such-kiln-user\" does not exist");
  CHECK(error_of({"--group", "no-such-kiln-group"}) ==
        "flag --group: group \"no-such-kiln-group\" does not exist");
  // A number too big for an ID is no user, not an exception of another kind.
  CHECK(error_of({"--user", "99999999999999999999"}) ==
        "flag --user: user \"99999999999999999999\" does not exist");
  CHECK(error_of({"--group", "99999999999999999999"}) ==
        "flag --group: group \"99999999999999999999\" does not exist");
  CHECK(load({"--static-root", "/tmp"}).values.static_root == "/tmp");
  CHECK(load({"--bind", "[::1]:0", "--bind", "fd://3"}).values.bind ==
        strings{"[::1]:0", "fd://3"});
}

// Value syntax.

TEST_CASE("booleans are true/false, yes/no, on/off or 1/0, in any case", "[config]") {
  for (const char* yes : {"true", "TRUE", "yes", "Yes", "on", "1", " true "}) {
    INFO(yes);
    CHECK(load({}, {{"KILN_REUSE_PORT", yes}}).values.reuse_port);
  }
  for (const char* no : {"false", "False", "no", "NO", "off", "0"}) {
    INFO(no);
    CHECK_FALSE(load({}, {{"KILN_REUSE_PORT", no}}).values.reuse_port);
    std::string flag = std::string("--reuse-port=") + no;
    CHECK_FALSE(load({"--reuse-port", flag.c_str()}).values.reuse_port);
  }
  CHECK(load_toml("reuse_port = true\n").values.reuse_port);
  CHECK_FALSE(load_toml("reuse_port = false\n").values.reuse_port);
  CHECK(error_of({"--reuse-port=2"}) ==
        "flag --reuse-port \"2\": reuse_port must be true or false, not \"2\"");
  CHECK(error_of({}, {{"KILN_REUSE_PORT", ""}}) ==
        "environment KILN_REUSE_PORT=\"\": reuse_port must be true or false, not \"\"");
}

TEST_CASE("bind is a list: a TOML array, a comma-separated value, or repeated flags", "[config]") {
  CHECK(load_toml("bind = [\"127.0.0.1:1\", \"[::1]:2\", \"unix:/tmp/k.sock\"]\n").values.bind ==
        strings{"127.0.0.1:1", "[::1]:2", "unix:/tmp/k.sock"});
  CHECK(load_toml("bind = [\" 127.0.0.1:1 \"]\n").values.bind == strings{"127.0.0.1:1"});
  CHECK(load_toml("bind = \"127.0.0.1:1\"\n").values.bind == strings{"127.0.0.1:1"});
  CHECK(load({}, {{"KILN_BIND", "127.0.0.1:1,[::1]:2 , unix:/tmp/k.sock"}}).values.bind ==
        strings{"127.0.0.1:1", "[::1]:2", "unix:/tmp/k.sock"});
  CHECK(load({"-b", "127.0.0.1:1", "--bind=127.0.0.1:2"}).values.bind ==
        strings{"127.0.0.1:1", "127.0.0.1:2"});
}

TEST_CASE("workers = \"auto\" is one per usable CPU", "[config]") {
  auto cpus = static_cast<std::int64_t>(available_cpus());
  REQUIRE(cpus >= 1);
  CHECK(load({}).values.workers == cpus);
  CHECK(load({}).origin("workers") == "default");
  auto from_file = load_toml("workers = \"auto\"\n");
  CHECK(from_file.values.workers == cpus);
  CHECK(from_file.origin("workers").ends_with(":1"));
  CHECK(load({}, {{"KILN_WORKERS", "AUTO"}}).values.workers == cpus);
  CHECK(load({}, {{"WEB_CONCURRENCY", "auto"}}).values.workers == cpus);
  CHECK(load({"--workers", " auto "}).values.workers == cpus);
  // Only workers takes it.
  CHECK(error_of({"--backlog", "auto"}) ==
        "flag --backlog \"auto\": backlog must be a whole number, not \"auto\"");
  CHECK(error_of({"--workers", "automatic"}) ==
        "flag --workers \"automatic\": workers must be a whole number or \"auto\", not "
        "\"automatic\"");
}

TEST_CASE("durations are seconds, with decimals down to milliseconds", "[config]") {
  auto config = load_toml(
      "keepalive = 2.5\n"
      "header_timeout = 0.25\n"
      "graceful_timeout = 0\n"
      "timeout = \"1.5\"\n");
  CHECK(config.values.keepalive == milliseconds(2500));
  CHECK(config.values.header_timeout == milliseconds(250));
  CHECK(config.values.graceful_timeout == milliseconds(0));
  CHECK(config.values.timeout == milliseconds(1500));
  CHECK(load({}, {{"KILN_SEND_TIMEOUT", "0.001"}}).values.send_timeout == milliseconds(1));
  CHECK(load({"--body-timeout", "1.5"}).values.body_timeout == milliseconds(1500));
  CHECK(load({"--body-timeout", "1e2"}).values.body_timeout == milliseconds(100000));
  CHECK(load({"--body-timeout", "86400"}).values.body_timeout == milliseconds(86400000));
  CHECK(load({"--keepalive", "0.0004"}).values.keepalive == milliseconds(0));
  CHECK(error_of({"--header-timeout", "0.0009"}) ==
        "flag --header-timeout \"0.0009\": header_timeout must be between 0.001 and 86400, not "
        "0.0009");
  CHECK(error_of({"--keepalive", "nan"}) ==
        "flag --keepalive \"nan\": keepalive must be a number of seconds, not \"nan\"");
  CHECK(error_of({"--keepalive", "1,5"}) ==
        "flag --keepalive \"1,5\": keepalive must be a number of seconds, not \"1,5\"");
}

// --print-config, --help.

TEST_CASE("describe() shows every setting with its value and origin", "[config]") {
  temporary_file file("keepalive = 2.5\nlog_level = \"debug\"\n");
  auto config = load({"-c", file.path().c_str(), "--bind", "127.0.0.1:1", "--bind",
                      "unix:/tmp/k.sock", "--pid", "/tmp/a \"b\".pid"},
                     {{"KILN_REUSE_PORT", "yes"}, {"WEB_CONCURRENCY", "3"}});
  std::string text = describe(config);
  CHECK(
      text.starts_with("# Sockets\nbind = [\"127.0.0.1:1\", \"unix:/tmp/k.sock\"]  # flag "
                       "--bind\nbacklog = 2048  # default\nreuse_port = true  # env "
                       "KILN_REUSE_PORT\n\n# Processes\nworkers = 3  # env WEB_CONCURRENCY\n"));
  CHECK(described(config, "keepalive") == "keepalive = 2.5  # " + at_line(file, 1));
  CHECK(described(config, "log_level") == "log_level = \"debug\"  # " + at_line(file, 2));
  CHECK(described(config, "pid") == "pid = \"/tmp/a \\\"b\\\".pid\"  # flag --pid");
  CHECK(described(config, "user") == "user = \"\"  # default");
  CHECK(described(config, "timeout") == "timeout = 30  # default");
  CHECK(described(config, "limit_request_body") == "limit_request_body = 1048576  # default");
  CHECK(text.find("\n\n# HTTP\nkeepalive = 2.5") != std::string::npos);
  CHECK(text.find("\n\n# Logging\nlog_level = \"debug\"  # " + at_line(file, 2) + "\n") !=
        std::string::npos);
  // Every setting, once.
  for (const auto& info : setting_registry()) {
    INFO(info.name);
    CHECK(text.find("\n" + std::string(info.name) + " = ") != std::string::npos);
    CHECK(text.find("\n" + std::string(info.name) + " = ") ==
          text.rfind("\n" + std::string(info.name) + " = "));
  }
  // What it prints is itself a configuration file that gives the same values.
  std::string reloaded_text;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    // Except for the empty strings, which mean "none" and are not all valid settings.
    if (line.find(" = \"\"") == std::string::npos) reloaded_text += line + "\n";
  }
  auto reloaded = load_toml(reloaded_text);
  CHECK(describe(reloaded).find("keepalive = 2.5  # ") != std::string::npos);
  CHECK(reloaded.values.bind == config.values.bind);
  CHECK(reloaded.values.pid == config.values.pid);
  CHECK(reloaded.values.workers == 3);
  CHECK(reloaded.values.reuse_port);
}

// The shipped configuration files.

TEST_CASE("every file in config/ loads", "[config]") {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(KILN_SOURCE_DIR) + "/config")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file);
    configuration config;
    REQUIRE_NOTHROW(config = load({"-c", file.c_str()}, {{"PORT", "9000"}}));
    CHECK(config.file == file.string());
    // Each file sets something, and only settings: nothing else would have loaded.
    CHECK(std::count_if(config.origins.begin(), config.origins.end(), [&](const std::string& o) {
            return o.starts_with(file.string() + ":");
          }) >= 3);
    CHECK(config.values.bind.size() == 1);
  }
}

TEST_CASE("config/kiln.toml carries the production tuning", "[config]") {
  std::string path = std::string(KILN_SOURCE_DIR) + "/config/kiln.toml";
  auto config = load({"-c", path.c_str()}, {{"PORT", "9000"}});
  CHECK(config.values.bind == strings{"0.0.0.0:9000"});
  CHECK(config.origin("bind").starts_with(path + ":"));
  CHECK(config.values.workers == 10);
  CHECK(config.values.worker_connections == 1000);
  CHECK(config.values.keepalive == milliseconds(90000));
  CHECK(config.values.timeout == milliseconds(30000));
  CHECK(config.origin("timeout").starts_with(path + ":"));
  CHECK(config.values.log_level == "info");
  CHECK(config.values.static_root.empty());

  // The platform's variables still tune it.
  auto tuned =
      load({"-c", path.c_str()},
           {{"PORT", "5000"}, {"WEB_CONCURRENCY", "4"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "120"}});
  CHECK(tuned.values.bind == strings{"0.0.0.0:5000"});
  CHECK(tuned.values.workers == 4);
  CHECK(tuned.values.timeout == milliseconds(120000));

  // Without PORT it does not start.
  auto message = error_of({"-c", path.c_str()});
  CHECK(message.starts_with(path + ":"));
  CHECK(message.ends_with(": PORT is not set: PORT must be set"));
}

TEST_CASE("config/kiln.local.toml is for development", "[config]") {
  std::string path = std::string(KILN_SOURCE_DIR) + "/config/kiln.local.toml";
  auto config = load({"-c", path.c_str()});
  CHECK(config.values.bind == strings{"127.0.0.1:8000"});
  CHECK(config.values.workers == 1);
  CHECK(config.values.log_level == "debug");
  CHECK(config.origin("log_level").starts_with(path + ":"));
  CHECK(load({"-c", path.c_str()}, {{"PORT", "9000"}}).values.bind == strings{"127.0.0.1:9000"});
}

}  // namespace kiln::test
