// kiln as a drop-in for gunicorn: the team's gunicorn_config.py run as gunicorn runs it, gunicorn's
// flags and GUNICORN_CMD_ARGS, its server hooks at its moments, raw_env and capture_output; and,
// against Debian's own gunicorn, that every setting it has is one kiln knows.
#include "gunicorn.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <grp.h>
#include <nlohmann/json.hpp>
#include <pwd.h>
#include <signal.h>
#include <sstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "settings.hpp"
#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string deployment = std::string(KILN_FIXTURES) + "/reference-deployment";
const std::string reference_config = deployment + "/gunicorn_config.py";
const std::string gunicorn_fixtures = std::string(KILN_FIXTURES) + "/gunicorn";
const std::string wsgi_fixtures = std::string(KILN_FIXTURES) + "/wsgi";

// The comment --print-config puts after a setting's value: where it came from.
std::string origin_of(const std::string& printed, std::string_view setting) {
  std::istringstream lines(printed);
  std::string line;
  std::string prefix = std::string(setting) + " = ";
  while (std::getline(lines, line)) {
    if (!line.starts_with(prefix)) continue;
    auto comment = line.rfind("  # ");
    return comment == std::string::npos ? "" : line.substr(comment + 4);
  }
  return "no such setting";
}

std::size_t count_of(const std::vector<std::string>& lines, const std::string& line) {
  return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), line));
}

std::string user_name() {
  return getpwuid(getuid())->pw_name;
}

std::string group_name() {
  return getgrgid(getgid())->gr_name;
}

// A value each setting that gunicorn shares with kiln can be given on the command line, unlike
// its default; empty for a boolean, whose flag stands alone.
std::map<std::string, std::string> sample_values() {
  return {{"bind", "127.0.0.1:9002"},
          {"backlog", "99"},
          {"reuse_port", ""},
          {"workers", "3"},
          {"worker_connections", "70"},
          {"timeout", "11"},
          {"graceful_timeout", "8"},
          {"max_requests", "9"},
          {"max_requests_jitter", "2"},
          {"reload", ""},
          {"pid", "/tmp/kiln-gunicorn-test.pid"},
          {"user", user_name()},
          {"group", group_name()},
          {"keepalive", "6"},
          {"limit_request_line", "1000"},
          {"limit_request_fields", "20"},
          {"limit_request_field_size", "3000"},
          {"chdir", wsgi_fixtures},
          {"pythonpath", "/tmp"},
          {"worker_class", "sync"},
          {"threads", "5"},
          {"preload_app", ""},
          {"raw_env", "X=1"},
          {"forwarded_allow_ips", "10.0.0.1"},
          {"proxy_protocol", ""},
          {"proxy_allow_ips", "10.0.0.2"},
          {"log_level", "warning"},
          {"error_log", "-"},
          {"access_log", "-"},
          {"access_log_format", "%(h)s %(r)s"},
          {"capture_output", ""}};
}

// Runs kiln --print-config with a flag and its sample value.
kiln_run print_with_flag(const std::string& flag, const std::string& value) {
  std::vector<std::string> arguments{"--print-config", flag};
  if (!value.empty()) arguments.push_back(value);
  return run(arguments);
}

}  // namespace

TEST_CASE(
    "the reference deployment's gunicorn_config.py runs unchanged, from its entrypoint's line",
    "[gunicorn]") {
  // entrypoint.sh's web line with gunicorn changed to kiln, run in the app's directory as the
  // image's WORKDIR /app does: exec kiln --error-logfile - -c /app/gunicorn_config.py
  // app:application
  kiln_process kiln(
      {.arguments = {"--error-logfile", "-", "-c", reference_config, "app:application"},
       .environment = {{"PORT", "0"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "45"}},
       .unset = kiln_variables(),
       .directory = deployment});
  CHECK(kiln.wait_for_output("[INFO] Using 10 workers\n"));
  CHECK(kiln.wait_for_output("[WARNING] " + reference_config +
                             ":4: worker_class eventlet: kiln runs the app on 4 threads per worker "
                             "instead, and never monkey-patches; its event loop holds slow clients "
                             "and idle connections without a thread\n"));
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 10; }, 60s));
  auto api = fetch(kiln.port(), "/api/data");
  CHECK(api.status == 200);
  CHECK(nlohmann::json::parse(api.body) == nlohmann::json{{"message", "Data from the backend"}});
  CHECK(fetch(kiln.port(), "/books/2").body.starts_with("<!doctype html>"));
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  CHECK(kiln.count_in_output("): exit code 0\n") == 10);
}

TEST_CASE("the migrated entrypoint differs from the team's by one word", "[gunicorn]") {
  auto team = lines_of(deployment + "/entrypoint.sh");
  auto migrated =
      lines_of(std::string(KILN_SOURCE_DIR) + "/examples/gunicorn-migration/entrypoint.sh");
  REQUIRE(team.size() == migrated.size());
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < team.size(); ++i) {
    if (team[i] != migrated[i]) changed.push_back(i);
  }
  REQUIRE(changed.size() == 1);
  std::string line = migrated[changed.front()];
  CHECK(line == "  exec kiln --error-logfile - -c /app/gunicorn_config.py app:application");
  line.replace(line.find("kiln"), 4, "gunicorn");
  CHECK(line == team[changed.front()]);
}

TEST_CASE("kiln --print-config names gunicorn_config.py's lines as the source of its settings",
          "[gunicorn]") {
  auto printed =
      run({"--print-config", "--error-logfile", "-", "-c", reference_config, "app:application"},
          {{"HTTP_SERVE_TIMEOUT_SECONDS", "45"}, {"PORT", "9000"}}, deployment);
  INFO(printed.output);
  CHECK(printed.status == exited_with(0));
  std::string at = "  # " + reference_config + ":";
  CHECK(has_line(printed.output, "workers = 10" + at + "3"));
  CHECK(has_line(printed.output, "worker_class = \"eventlet\"" + at + "4"));
  CHECK(has_line(printed.output, "worker_connections = 1000" + at + "5"));
  CHECK(has_line(printed.output, "keepalive = 90" + at + "6"));
  CHECK(has_line(printed.output, "timeout = 45" + at + "7"));
  CHECK(has_line(printed.output, "bind = [\"0.0.0.0:9000\"]  # env PORT"));
  CHECK(has_line(printed.output, "error_log = \"-\"  # flag --error-logfile"));
  CHECK(has_line(printed.output, "wsgi_app = \"app:application\"  # argument"));
  CHECK(
      has_line(printed.output, "kiln: warning: " + reference_config +
                                   ":4: worker_class eventlet: kiln runs the app on 4 threads per "
                                   "worker instead, and never monkey-patches; its event loop "
                                   "holds slow clients and idle connections without a thread"));
  // Without the variable, the file's own default.
  auto plain = run({"--print-config", "-c", reference_config}, {}, deployment);
  CHECK(has_line(plain.output, "timeout = 30" + at + "7"));
}

TEST_CASE("under a gunicorn config file, WEB_CONCURRENCY and PORT are defaults it overrides",
          "[gunicorn]") {
  temporary_file file("bind = '127.0.0.1:9005'\n", "kiln-config", ".py");
  // gunicorn's own order: the file sets workers and bind, whatever the platform's variables say.
  auto printed =
      run({"--print-config", "-c", reference_config}, {{"WEB_CONCURRENCY", "3"}, {"PORT", "9100"}});
  CHECK(origin_of(printed.output, "workers") == reference_config + ":3");
  CHECK(origin_of(printed.output, "bind") == "env PORT");
  CHECK(origin_of(run({"--print-config", "-c", file.path()}, {{"PORT", "9100"}}).output, "bind") ==
        file.path() + ":1");
  // kiln's own variables, GUNICORN_CMD_ARGS and flags are above the file, in that order.
  auto above = run({"--print-config", "-c", reference_config},
                   {{"KILN_WORKERS", "4"}, {"KILN_KEEPALIVE", "5"}, {"GUNICORN_CMD_ARGS", "-w 6"}});
  CHECK(origin_of(above.output, "keepalive") == "env KILN_KEEPALIVE");
  CHECK(origin_of(above.output, "workers") == "GUNICORN_CMD_ARGS -w");
  auto flag =
      run({"--print-config", "-c", reference_config, "-w", "7"}, {{"GUNICORN_CMD_ARGS", "-w 6"}});
  CHECK(has_line(flag.output, "workers = 7  # flag -w"));
}

TEST_CASE("a gunicorn config file sets every setting kiln shares, by gunicorn's names",
          "[gunicorn]") {
  temporary_directory directory("kiln-gunicorn");
  std::string user = user_name();
  std::string group = group_name();
  std::string config = R"(import multiprocessing
import os

_BASE = "127.0.0.1"
bind = [f"{_BASE}:9003", "unix:/tmp/kiln-gunicorn-test.sock"]
backlog = 64
reuse_port = True
workers = multiprocessing.cpu_count() * 0 + 3
worker_connections = 50
timeout = 12
graceful_timeout = 7
max_requests = 100
max_requests_jitter = 10
reload = True
pidfile = "/tmp/kiln-gunicorn-test.pid"
user = ")" + user + R"("
group = ")" + group + R"("
keepalive = 4
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 4096
wsgi_app = "probe:application"
chdir = ")" + wsgi_fixtures +
                       R"("
pythonpath = "/tmp,/opt"
worker_class = "sync"
threads = 2
preload_app = True
raw_env = ["A=1", "B=2"]
forwarded_allow_ips = "10.0.0.0/8,127.0.0.1"
secure_scheme_headers = {"X-SCHEME": "https", "X-FORWARDED-SSL": "on"}
proxy_protocol = True
proxy_allow_ips = "10.0.0.1"
loglevel = "debug"
errorlog = "-"
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s'
capture_output = True


def post_fork(server, worker):
    pass
)";
  directory.write("gunicorn.conf.py", config);
  std::string path = directory / "gunicorn.conf.py";
  auto printed = run({"--print-config", "-c", path});
  INFO(printed.output);
  REQUIRE(printed.status == exited_with(0));
  CHECK(printed.output.find("warning") == std::string::npos);
  // Each setting that has a gunicorn name is set in the file, and comes from its line.
  std::istringstream file_lines(config);
  std::map<std::string, int> line_of;
  int number = 0;
  for (std::string line; std::getline(file_lines, line);) {
    ++number;
    if (auto equals = line.find(" = "); equals != std::string::npos && line[0] != '_') {
      line_of[line.substr(0, equals)] = number;
    }
  }
  for (const auto& info : setting_registry()) {
    if (info.gunicorn.empty()) continue;
    INFO(info.name);
    REQUIRE(line_of.contains(std::string(info.gunicorn)));
    CHECK(origin_of(printed.output, info.name) ==
          path + ":" + std::to_string(line_of[std::string(info.gunicorn)]));
  }
  // Values as gunicorn's file gives them: lists, dicts, booleans, computed numbers.
  CHECK(has_line(
      printed.output,
      "bind = [\"127.0.0.1:9003\", \"unix:/tmp/kiln-gunicorn-test.sock\"]  # " + path + ":5"));
  CHECK(has_line(printed.output, "workers = 3  # " + path + ":8"));
  CHECK(has_line(printed.output, "pythonpath = [\"/tmp\", \"/opt\"]  # " + path + ":24"));
  CHECK(has_line(printed.output, "raw_env = [\"A=1\", \"B=2\"]  # " + path + ":28"));
  CHECK(has_line(
      printed.output,
      "secure_scheme_headers = [\"X-SCHEME: https\", \"X-FORWARDED-SSL: on\"]  # " + path + ":30"));
  CHECK(has_line(printed.output, "preload_app = true  # " + path + ":27"));
  CHECK(has_line(printed.output, "log_level = \"debug\"  # " + path + ":33"));
}

TEST_CASE("gunicorn's flags are aliases where the meaning matches", "[gunicorn]") {
  // The issue's list, each against the setting --print-config says it set.
  struct alias {
    std::string flag;
    std::string setting;
  };
  std::vector<alias> aliases{
      {"-b", "bind"},
      {"-w", "workers"},
      {"-k", "worker_class"},
      {"-t", "timeout"},
      {"--threads", "threads"},
      {"--keep-alive", "keepalive"},
      {"--graceful-timeout", "graceful_timeout"},
      {"--max-requests", "max_requests"},
      {"--max-requests-jitter", "max_requests_jitter"},
      {"--worker-connections", "worker_connections"},
      {"--backlog", "backlog"},
      {"--access-logfile", "access_log"},
      {"--access-logformat", "access_log_format"},
      {"--error-logfile", "error_log"},
      {"--log-level", "log_level"},
      {"--capture-output", "capture_output"},
      {"--preload", "preload_app"},
      {"--chdir", "chdir"},
      {"--pythonpath", "pythonpath"},
      {"-e", "raw_env"},
      {"--reload", "reload"},
      {"--forwarded-allow-ips", "forwarded_allow_ips"},
      {"--limit-request-line", "limit_request_line"},
      {"--limit-request-fields", "limit_request_fields"},
      {"--limit-request-field_size", "limit_request_field_size"},
      {"-p", "pid"},
      {"-u", "user"},
      {"-g", "group"},
  };
  auto values = sample_values();
  for (const auto& [flag, setting] : aliases) {
    INFO(flag);
    REQUIRE(values.contains(setting));
    auto printed = print_with_flag(flag, values[setting]);
    CHECK(printed.status == exited_with(0));
    CHECK(origin_of(printed.output, setting) == "flag " + flag);
  }
  // The actions, and -c with a gunicorn config file.
  CHECK(run({"--check-config", "-c", reference_config}).status == exited_with(0));
  CHECK(run({"--print-config", "-c", reference_config}).status == exited_with(0));
}

TEST_CASE("every setting Debian's gunicorn has is one kiln takes, ignores with advice, or a hook",
          "[gunicorn]") {
  // gunicorn's own list of settings, with their command-line flags: one line each.
  std::FILE* pipe = ::popen(
      "/usr/bin/python3 -c 'from gunicorn.config import KNOWN_SETTINGS as k\n"
      "for s in k: print(s.name, *(s.cli or []))'",
      "r");
  REQUIRE(pipe != nullptr);
  std::string listing;
  char buffer[4096];
  while (std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe))
    listing.append(buffer, got);
  REQUIRE(::pclose(pipe) == 0);  // python3-gunicorn is installed by scripts/test.
  auto values = sample_values();
  std::istringstream lines(listing);
  std::size_t shared = 0;
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    INFO(line);
    ++count;
    if (name == "config" || name == "check_config" || name == "print_config") continue;
    if (is_gunicorn_hook(name)) {
      CHECK(find_gunicorn_setting(name) == nullptr);
      continue;
    }
    if (auto only = find_gunicorn_only_setting(name)) {
      CHECK_FALSE(only->advice.empty());
      CHECK(find_gunicorn_setting(name) == nullptr);
      continue;
    }
    const setting_info* info = find_gunicorn_setting(name);
    REQUIRE(info != nullptr);
    ++shared;
    // Each of gunicorn's flags for it sets it in kiln too.
    for (std::string flag; words >> flag;) {
      INFO(flag);
      REQUIRE(values.contains(std::string(info->name)));
      auto printed = print_with_flag(flag, values[std::string(info->name)]);
      CHECK(printed.status == exited_with(0));
      CHECK(origin_of(printed.output, info->name) == "flag " + flag);
    }
  }
  CHECK(count > 80);
  CHECK(shared >= 30);
}

TEST_CASE("GUNICORN_CMD_ARGS holds flags as a shell would split them", "[gunicorn]") {
  auto printed = run(
      {"--print-config"},
      {{"GUNICORN_CMD_ARGS",
        "-w 3 --keep-alive=5 --access-logformat '%(h)s \"%(r)s\"' -e \"GREETING=hello there\""}});
  INFO(printed.output);
  CHECK(printed.status == exited_with(0));
  CHECK(has_line(printed.output, "workers = 3  # GUNICORN_CMD_ARGS -w"));
  CHECK(has_line(printed.output, "keepalive = 5  # GUNICORN_CMD_ARGS --keep-alive"));
  CHECK(has_line(
      printed.output,
      "access_log_format = \"%(h)s \\\"%(r)s\\\"\"  # GUNICORN_CMD_ARGS --access-logformat"));
  CHECK(has_line(printed.output, "raw_env = [\"GREETING=hello there\"]  # GUNICORN_CMD_ARGS -e"));
  // -c in it names the config file, as in gunicorn.
  auto with_file = run({"--print-config"}, {{"GUNICORN_CMD_ARGS", "-c " + reference_config}});
  CHECK(origin_of(with_file.output, "workers") == reference_config + ":3");

  // What it cannot hold is one line naming it, and exit 2.
  auto action = run({"--print-config"}, {{"GUNICORN_CMD_ARGS", "--check-config"}});
  CHECK(action.status == exited_with(2));
  CHECK(action.output ==
        "kiln: environment GUNICORN_CMD_ARGS=\"--check-config\": holds an action (--help, "
        "--check-config...); it takes settings only\n");
  auto unknown = run({"--print-config"}, {{"GUNICORN_CMD_ARGS", "-w 2 --nope 3"}});
  CHECK(unknown.status == exited_with(2));
  CHECK(unknown.output ==
        "kiln: environment GUNICORN_CMD_ARGS=\"-w 2 --nope 3\": flag --nope: unknown flag\n");
  auto quote = run({"--print-config"}, {{"GUNICORN_CMD_ARGS", "-w 'x"}});
  CHECK(quote.status == exited_with(2));
  CHECK(quote.output ==
        "kiln: environment GUNICORN_CMD_ARGS=\"-w 'x\": a quote (') is not closed\n");
}

TEST_CASE("a gunicorn setting kiln does without is one warning line, and kiln starts",
          "[gunicorn]") {
  temporary_file file(
      "workers = 1\nworker_tmp_dir = \"/dev/shm\"\nstatsd_host = \"localhost:8125\"\n",
      "kiln-config", ".py");
  std::string warning_tmp = file.path() +
                            ":2: gunicorn's worker_tmp_dir setting has no equivalent in kiln, and "
                            "is ignored: kiln's workers beat through shared memory, not files";
  std::string warning_statsd =
      file.path() +
      ":3: gunicorn's statsd_host setting has no equivalent in kiln, and is ignored: "
      "no StatsD export: kiln serves Prometheus metrics on metrics_bind";
  auto checked = run({"--check-config", "-c", file.path()});
  CHECK(checked.status == exited_with(0));
  CHECK(checked.output == "kiln: warning: " + warning_tmp + "\nkiln: warning: " + warning_statsd +
                              "\nkiln: the configuration is valid (" + file.path() + ")\n");
  kiln_process kiln(
      {.arguments = {"-c", file.path(), "-b", "127.0.0.1:0"}, .unset = kiln_variables()});
  CHECK(kiln.wait_for_output("[WARNING] " + warning_tmp + "\n"));
  CHECK(kiln.count_in_output(warning_tmp) == 1);
  CHECK(fetch(kiln.port(), "/healthz").status == 200);
}

TEST_CASE("a mistake in a gunicorn config file is one line naming file and line, and exit 2",
          "[gunicorn]") {
  auto error_for = [](const std::string& text) {
    temporary_file file(text, "kiln-config", ".py");
    auto checked = run({"--check-config", "-c", file.path()});
    CHECK(checked.status == exited_with(2));
    std::string output = checked.output;
    for (auto at = output.find(file.path()); at != std::string::npos;
         at = output.find(file.path())) {
      output.replace(at, file.path().size(), "FILE");
    }
    return output;
  };
  CHECK(error_for("import os\n_helper = 1\nCONSTANT = 2\nworker = 4\n") ==
        "kiln: FILE:4: 'worker' is not a setting; did you mean 'workers'? (name a helper "
        "_like_this or LIKE_THIS)\n");
  CHECK(error_for("keep_alive = 5\n") ==
        "kiln: FILE:1: 'keep_alive' is not a setting; did you mean 'keepalive'? (name a helper "
        "_like_this or LIKE_THIS)\n");
  CHECK(error_for("workers = \"many\"\n") ==
        "kiln: FILE:1: workers must be a whole number or \"auto\", not \"many\"\n");
  CHECK(error_for("import os\nimport not_a_module\n") ==
        "kiln: FILE:2: ModuleNotFoundError: No module named 'not_a_module'\n");
  CHECK(error_for("workers = (\n") == "kiln: FILE:1: SyntaxError: '(' was never closed\n");
  CHECK(error_for("workers = 2\ntimeout = 1 / 0\n") ==
        "kiln: FILE:2: ZeroDivisionError: division by zero\n");
  CHECK(error_for("on_starting = 5\n") ==
        "kiln: FILE:1: on_starting is a server hook: it must be a function\n");
  CHECK(error_for("def timeout():\n    return 3\n") ==
        "kiln: FILE:1: timeout must be a number of seconds, not a function or an object\n");
  auto missing = run({"--check-config", "-c", "/nonexistent/gunicorn_config.py"});
  CHECK(missing.status == exited_with(2));
  CHECK(missing.output ==
        "kiln: /nonexistent/gunicorn_config.py: cannot read the configuration file: No such file "
        "or directory\n");
}

TEST_CASE("every server hook runs at gunicorn's moment, with its objects", "[gunicorn]") {
  temporary_directory directory("kiln-hooks");
  std::string log = directory / "hooks.log";
  kiln_process kiln({.arguments = {"-c", gunicorn_fixtures + "/every_hook.py", "-b", "127.0.0.1:0",
                                   "--chdir", wsgi_fixtures, "probe:application"},
                     .environment = {{"HOOK_LOG", log}},
                     .unset = kiln_variables()});
  auto has = [&](const std::string& line) {
    return eventually([&] { return count_of(lines_of(log), line) > 0; });
  };
  auto workers = [&](std::size_t count) {
    std::vector<pid_t> pids;
    REQUIRE(eventually([&] {
      pids = children_of(kiln.pid());
      auto lines = lines_of(log);
      return pids.size() == count && std::all_of(pids.begin(), pids.end(), [&](pid_t pid) {
               return count_of(lines, "post_worker_init " + std::to_string(pid)) == 1;
             });
    }));
    return pids;
  };
  auto first = workers(2);
  auto lines = lines_of(log);
  REQUIRE(lines.size() >= 8);
  // The master's hooks come first: on_starting before anything is bound, when_ready before the
  // first fork; then each worker's pre_fork (in the master, no pid yet), post_fork (in the
  // worker), post_worker_init (with the app loaded).
  CHECK(lines[0] == "on_starting 2 True");
  CHECK(lines[1] == "when_ready 2");
  CHECK(count_of(lines, "pre_fork True None") == 2);
  CHECK(count_of(lines, "post_fork True True") == 2);
  CHECK(kiln.wait_for_output("[INFO] when_ready says hello through the server's log\n"));

  // Around a request, on the worker's thread that runs it.
  CHECK(fetch(kiln.port(), "/hello?x=1").status == 200);
  CHECK(has("pre_request True GET /hello x=1"));
  CHECK(has("post_request /hello /hello 200 200 OK"));

  // Scaling by signal: nworkers_changed with the new and old counts.
  kiln.signal(SIGTTIN);
  CHECK(has("nworkers_changed 3 2 3"));
  auto three = workers(3);
  kiln.signal(SIGTTOU);
  CHECK(has("nworkers_changed 2 3 2"));
  auto two = workers(2);
  pid_t retired = 0;
  for (pid_t pid : three) {
    if (std::find(two.begin(), two.end(), pid) == two.end()) retired = pid;
  }
  REQUIRE(retired != 0);
  CHECK(has("worker_exit " + std::to_string(retired)));
  CHECK(has("child_exit " + std::to_string(retired)));

  // A reload: on_reload, new workers, the old ones exit.
  kiln.signal(SIGHUP);
  CHECK(has("on_reload"));
  REQUIRE(eventually([&] {
    auto now = children_of(kiln.pid());
    return now.size() == 2 && std::none_of(now.begin(), now.end(), [&](pid_t pid) {
             return std::find(two.begin(), two.end(), pid) != two.end();
           });
  }));
  for (pid_t old : two) {
    CHECK(has("worker_exit " + std::to_string(old)));
    CHECK(has("child_exit " + std::to_string(old)));
  }
  auto reloaded = workers(2);

  // A request the app hangs in past timeout (2 s, from the file): worker_abort in that worker.
  http_client hung(kiln.port());
  REQUIRE(hung.send(get("/sleep?s=60")));
  auto answer = hung.read_response(false, 60s);
  REQUIRE(answer);
  CHECK(answer->status == 504);
  pid_t aborted = 0;
  REQUIRE(eventually([&] {
    for (pid_t pid : reloaded) {
      if (count_of(lines_of(log), "worker_abort " + std::to_string(pid)) == 1) aborted = pid;
    }
    return aborted != 0;
  }));
  CHECK(has("child_exit " + std::to_string(aborted)));

  // A worker killed outright: child_exit in the master, no worker_exit (it could not say).
  auto survivors = workers(2);
  pid_t killed = survivors.front();
  REQUIRE(::kill(killed, SIGKILL) == 0);
  CHECK(has("child_exit " + std::to_string(killed)));
  CHECK(count_of(lines_of(log), "worker_exit " + std::to_string(killed)) == 0);
  auto last = workers(2);

  // QUIT: a quick stop, worker_int in each worker, then on_exit, last of all.
  CHECK(kiln.stop(SIGQUIT) == exited_with(0));
  lines = lines_of(log);
  for (pid_t pid : last) {
    CHECK(count_of(lines, "worker_int " + std::to_string(pid)) == 1);
    CHECK(count_of(lines, "worker_exit " + std::to_string(pid)) == 1);
    CHECK(count_of(lines, "child_exit " + std::to_string(pid)) == 1);
  }
  CHECK(lines.back() == "on_exit " + std::to_string(kiln.pid()));
  CHECK(kiln.output().find("Exception in the") == std::string::npos);
}

TEST_CASE("pre_exec runs in the old master before USR2 starts the new one", "[gunicorn]") {
  temporary_directory directory("kiln-hooks");
  std::string log = directory / "hooks.log";
  std::string pidfile = directory / "kiln.pid";
  kiln_process kiln(
      {.arguments = {"-c", gunicorn_fixtures + "/every_hook.py", "-b", "127.0.0.1:0", "-w", "1",
                     "-p", pidfile, "--chdir", wsgi_fixtures, "probe:application"},
       .environment = {{"HOOK_LOG", log}},
       .unset = kiln_variables()});
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 1; }));
  upgraded_master upgraded(kiln, pidfile);
  pid_t new_master = upgraded.pid();
  auto lines = lines_of(log);
  CHECK(count_of(lines, "pre_exec " + std::to_string(kiln.pid())) == 1);
  // The new master reads the file again, and runs its own on_starting.
  CHECK(eventually([&] { return count_of(lines_of(log), "on_starting 1 True") == 2; }));
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  REQUIRE(::kill(new_master, SIGTERM) == 0);
  CHECK(eventually([&] { return !process_alive(new_master); }));
}

TEST_CASE("a hook that raises is logged with its traceback; at start it stops kiln", "[gunicorn]") {
  temporary_directory directory("kiln-hooks");
  directory.write("failing_start.py", R"(
def on_starting(server):
    raise RuntimeError("no database to migrate")
)");
  auto start = run({"-c", directory / "failing_start.py", "-b", "127.0.0.1:0"});
  CHECK(start.status == exited_with(1));
  CHECK(start.output.find("[ERROR] Exception in the on_starting hook:\nTraceback (most recent "
                          "call last):\n") != std::string::npos);
  CHECK(start.output.find("RuntimeError: no database to migrate\n") != std::string::npos);
  CHECK(start.output.find("[CRITICAL] The on_starting hook failed: stopping kiln\n") !=
        std::string::npos);
  CHECK(start.output.find("Listening at") == std::string::npos);

  directory.write("failing_ready.py", R"(
workers = 1
def when_ready(server):
    raise RuntimeError("metrics server cannot start")
)");
  auto ready = run({"-c", directory / "failing_ready.py", "-b", "127.0.0.1:0"});
  CHECK(ready.status == exited_with(1));
  CHECK(ready.output.find("RuntimeError: metrics server cannot start\n") != std::string::npos);
  CHECK(ready.output.find("[CRITICAL] The when_ready hook failed: stopping kiln\n") !=
        std::string::npos);

  // Elsewhere the traceback is logged and the server goes on.
  directory.write("failing_elsewhere.py", R"(
workers = 1
def post_fork(server, worker):
    raise RuntimeError("pool not opened")
def pre_request(worker, req):
    raise KeyError(req.path)
)");
  kiln_process kiln({.arguments = {"-c", directory / "failing_elsewhere.py", "-b", "127.0.0.1:0",
                                   "--chdir", wsgi_fixtures, "probe:application"},
                     .unset = kiln_variables()});
  CHECK(kiln.wait_for_output("[ERROR] Exception in the post_fork hook:\nTraceback"));
  CHECK(kiln.wait_for_output("RuntimeError: pool not opened\n"));
  auto hello = fetch(kiln.port(), "/hello");
  CHECK(hello.status == 200);
  CHECK(hello.body == "Hello, World!\n");
  CHECK(kiln.wait_for_output("[ERROR] Exception in the pre_request hook:\nTraceback"));
  CHECK(kiln.wait_for_output("KeyError: '/hello'\n"));
}

TEST_CASE("raw_env sets the workers' environment, from the file or -e", "[gunicorn]") {
  temporary_file file("raw_env = [\"FROM_FILE=yes\", \"SHARED=file\"]\nworkers = 1\n",
                      "kiln-config", ".py");
  kiln_process kiln(
      {.arguments = {"-c", file.path(), "-e", "FROM_FLAG=a=b", "-e", "SHARED=flag", "-b",
                     "127.0.0.1:0", "--chdir", wsgi_fixtures, "probe:application"},
       .unset = kiln_variables()});
  auto seen =
      nlohmann::json::parse(fetch(kiln.port(), "/os-environ?FROM_FILE=&FROM_FLAG=&SHARED=").body);
  // The flag replaces the file's list, as a flag does for any setting.
  CHECK(seen == nlohmann::json{{"FROM_FILE", nullptr}, {"FROM_FLAG", "a=b"}, {"SHARED", "flag"}});
  kiln_process from_file({.arguments = {"-c", file.path(), "-b", "127.0.0.1:0", "--chdir",
                                        wsgi_fixtures, "probe:application"},
                          .unset = kiln_variables()});
  CHECK(nlohmann::json::parse(fetch(from_file.port(), "/os-environ?FROM_FILE=&SHARED=").body) ==
        nlohmann::json{{"FROM_FILE", "yes"}, {"SHARED", "file"}});
  auto bad = run({"--check-config", "-e", "NO_EQUALS_SIGN"});
  CHECK(bad.status == exited_with(2));
  CHECK(bad.output.starts_with("kiln: flag -e: "));
}

TEST_CASE("capture_output sends the app's stdout and stderr to the error log", "[gunicorn]") {
  kiln_process captured({.arguments = {"--capture-output", "-w", "1", "-b", "127.0.0.1:0",
                                       "--chdir", wsgi_fixtures, "probe:application"},
                         .unset = kiln_variables()});
  CHECK(fetch(captured.port(), "/print").status == 200);
  CHECK(captured.wait_for_output("[INFO] printed to stdout by the app\n"));
  CHECK(captured.wait_for_output("[ERROR] printed to stderr by the app\n"));
  // Without it, the app's output goes out as it wrote it.
  kiln_process plain(
      {.arguments = {"-w", "1", "-b", "127.0.0.1:0", "--chdir", wsgi_fixtures, "probe:application"},
       .unset = kiln_variables()});
  CHECK(fetch(plain.port(), "/print").status == 200);
  CHECK(plain.wait_for_output("\nprinted to stdout by the app\n"));
  CHECK(plain.wait_for_output("\nprinted to stderr by the app\n"));
  CHECK(plain.output().find("] printed to stdout") == std::string::npos);
}

}  // namespace kiln::test
