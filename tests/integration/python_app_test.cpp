// The Python app's life in kiln: loading (and failing to), signals, threads, a hung request, a
// graceful stop, new code on HUP and on a change of its files, preloading, and where it is
// imported from (chdir, pythonpath, a virtual environment).
#include <filesystem>
#include <fstream>
#include <set>
#include <signal.h>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string wsgi_fixtures = std::string(KILN_FIXTURES) + "/wsgi";

std::vector<std::string> app_arguments(std::string app, std::vector<std::string> more = {},
                                       std::string directory = wsgi_fixtures) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0", "--workers",
                                     "1",      "--chdir",     std::move(directory)};
  arguments.insert(arguments.end(), more.begin(), more.end());
  arguments.push_back(std::move(app));
  return arguments;
}

// A kiln that is expected to stop by itself, started without waiting for it to listen.
kiln_process failing(std::vector<std::string> arguments) {
  return kiln_process(
      kiln_process::options{.arguments = std::move(arguments), .wait_until_listening = false});
}

// An app in a directory of its own, whose answer says which version of its code runs.
struct versioned_app {
  temporary_directory directory{"kiln-versioned-app"};
  void write(int version) const {
    directory.write("versioned.py", "VERSION = " + std::to_string(version) + R"(

def application(environ, start_response):
    body = f"version {VERSION}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
)");
  }
};

// What /proc says a process does with signals: the caught and the ignored, as masks.
std::pair<std::string, std::string> signal_masks(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::string caught;
  std::string ignored;
  while (std::getline(status, line)) {
    if (line.starts_with("SigCgt:")) caught = line.substr(line.find_first_not_of(" \t", 7));
    if (line.starts_with("SigIgn:")) ignored = line.substr(line.find_first_not_of(" \t", 7));
  }
  return {caught, ignored};
}

// How many connections wait in the kernel's accept queue of the socket listening on port.
int accept_queue(std::uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    if (state == "0A" && local.ends_with(wanted)) {
      return std::stoi(queues.substr(queues.find(':') + 1), nullptr, 16);
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("a worker whose threads are all busy, with as many requests waiting, stops accepting",
          "[python]") {
  // One thread: one request runs, one waits in the worker; then new connections are left in
  // the kernel's queue, for another worker to take (here there is none, so they wait).
  kiln_process kiln(app_arguments("probe", {"-k", "sync"}));
  http_client running(kiln.port());
  http_client waiting(kiln.port());
  REQUIRE(running.send(get("/sleep?s=4")));
  REQUIRE(waiting.send(get("/sleep?s=0.1")));
  std::this_thread::sleep_for(200ms);
  // libuv holds one more accepted connection; the next stays with the kernel, and still does
  // half a second later (a worker that accepted would have taken it at once).
  http_client held(kiln.port());
  http_client queued(kiln.port());
  REQUIRE(held.send(get("/hello")));
  REQUIRE(queued.send(get("/hello")));
  REQUIRE(eventually([&] { return accept_queue(kiln.port()) >= 1; }));
  std::this_thread::sleep_for(500ms);
  CHECK(accept_queue(kiln.port()) >= 1);
  // ... while the first request was still in the app: the worker was saturated throughout.
  CHECK_FALSE(running.wait_for_bytes(1, 0ms));
  // Once the app has room again, every one is answered, in its turn.
  for (auto* client : {&running, &waiting, &held, &queued}) {
    auto response = client->read_response(false, 30s);
    REQUIRE(response);
    CHECK(response->status == 200);
  }
  CHECK(accept_queue(kiln.port()) == 0);
}

TEST_CASE("an app that cannot be imported stops kiln with its traceback and exit code 4",
          "[python]") {
  struct failure {
    const char* app;
    std::vector<const char*> said;
  };
  const failure cases[] = {
      {"broken_import",
       {"Failed to load the app broken_import:\nTraceback (most recent call last):\n",
        "broken_import.py\", line 2, in <module>",
        "ModuleNotFoundError: No module named 'a_module_that_is_not_installed'"}},
      {"broken_syntax",
       {"Failed to load the app broken_syntax:\n", "broken_syntax.py\", line 3",
        "SyntaxError: expected ':'"}},
      {"no_such_module", {"ModuleNotFoundError: No module named 'no_such_module'"}},
      {"factory:missing", {"AttributeError: Failed to find attribute 'missing' in 'factory'."}},
      {"factory:broken_factory()",
       {"factory.py\", line 16, in broken_factory",
        "RuntimeError: the factory could not make the app"}},
      {"factory:not_callable",
       {"TypeError: factory:not_callable is 'int', not a callable WSGI "
        "app"}},
      {"factory:create_app(print)", {"the arguments of 'create_app(print)' must be literals"}},
  };
  for (const auto& [app, said] : cases) {
    INFO(app);
    auto kiln = failing(app_arguments(app));
    auto status = kiln.wait();
    REQUIRE(status);
    CHECK(*status == exited_with(4));
    for (const char* text : said)
      CHECK(kiln.output().find(text) != std::string::npos);
    CHECK(kiln.output().find(std::string("could not load the app ") + app + ": stopping kiln") !=
          std::string::npos);
    // No respawn loop: the one worker booted once.
    CHECK(kiln.count_in_output("Booting worker") == 1);
  }
}

TEST_CASE("kiln --check-config loads the app too, as gunicorn's does", "[python]") {
  auto good = failing({"--check-config", "--chdir", wsgi_fixtures, "factory:create_app()"});
  CHECK(good.wait() == exited_with(0));
  CHECK(good.output() ==
        "kiln: the configuration is valid, and the app factory:create_app() loads\n");
  auto bad = failing({"--check-config", "--chdir", wsgi_fixtures, "broken_import"});
  CHECK(bad.wait() == exited_with(4));
  CHECK(bad.output().starts_with("kiln: Failed to load the app broken_import:\nTraceback"));
  CHECK(
      bad.output().find("ModuleNotFoundError: No module named 'a_module_that_is_not_installed'") !=
      std::string::npos);
}

TEST_CASE("gunicorn's ways of naming the app: module, module:name, module:factory(args)",
          "[python]") {
  {
    kiln_process kiln(app_arguments("probe"));  // The callable named application.
    CHECK(fetch(kiln.port(), "/hello").body == "Hello, World!\n");
  }
  {
    kiln_process kiln(app_arguments("probe:application"));
    CHECK(fetch(kiln.port(), "/hello").body == "Hello, World!\n");
  }
  {
    kiln_process kiln(app_arguments("factory:create_app()"));
    CHECK(fetch(kiln.port(), "/").body == "hello!\n");
  }
  {
    kiln_process kiln(app_arguments("factory:create_app('hi', punctuation='?')"));
    CHECK(fetch(kiln.port(), "/").body == "hi?\n");
  }
  {
    // KILN_WSGI_APP, as entrypoint.sh and the container set it.
    kiln_process kiln(kiln_process::options{
        .arguments = {"--bind", "127.0.0.1:0", "-w", "1", "--chdir", wsgi_fixtures},
        .environment = {{"KILN_WSGI_APP", "factory:create_app('env')"}}});
    CHECK(fetch(kiln.port(), "/").body == "env!\n");
  }
}

TEST_CASE("Python installs no signal handlers: the worker's are kiln's own", "[python]") {
  auto worker_masks = [](std::vector<std::string> arguments) {
    kiln_process kiln(arguments);
    std::vector<pid_t> workers;
    REQUIRE(eventually([&] {
      workers = children_of(kiln.pid());
      return workers.size() == 1;
    }));
    // Asked once, so that the worker is surely past its start.
    http_client client(kiln.port());
    REQUIRE(client.send(get("/hello")));
    REQUIRE(client.read_response());
    return signal_masks(workers.front());
  };
  auto plain = worker_masks({"--bind", "127.0.0.1:0", "-w", "1"});
  auto hosting = worker_masks(app_arguments("probe"));
  CHECK(!plain.first.empty());
  CHECK(hosting == plain);
}

TEST_CASE("a request the app produces nothing for within timeout: 504, stacks, a new worker",
          "[python]") {
  kiln_process kiln(app_arguments("probe", {"--timeout", "2", "--graceful-timeout", "5"}));
  std::vector<pid_t> before;
  REQUIRE(eventually([&] {
    before = children_of(kiln.pid());
    return before.size() == 1;
  }));
  http_client hung(kiln.port());
  REQUIRE(hung.send(get("/sleep?s=60")));
  auto answer = hung.read_response(false, 30s);
  REQUIRE(answer);
  CHECK(answer->status == 504);
  CHECK(answer->header("Connection") == "close");
  CHECK(kiln.wait_for_output("WORKER TIMEOUT (pid:" + std::to_string(before.front()) + ")"));
  // Every thread's stack, with where the hung one is.
  CHECK(kiln.wait_for_output("The app's threads (pid " + std::to_string(before.front())));
  CHECK(kiln.wait_for_output("Thread kiln-app-"));
  CHECK(kiln.wait_for_output("in routes\n"));
  CHECK(kiln.wait_for_output("time.sleep(float(args.get(\"s\", \"1\")))"));
  // A new worker serves; the old one is gone.
  REQUIRE(eventually([&] {
    auto now = children_of(kiln.pid());
    return now.size() == 1 && now.front() != before.front();
  }));
  CHECK(fetch(kiln.port(), "/hello").status == 200);
}

TEST_CASE("a stream that keeps producing is not taken for hung", "[python]") {
  kiln_process kiln(app_arguments("probe", {"--timeout", "1"}));
  auto workers = children_of(kiln.pid());
  // Ten pieces, one every 0.4 s: four seconds in all, never one second without a piece.
  http_client client(kiln.port());
  REQUIRE(client.send(get("/generator?n=10&size=3&delay=0.4")));
  auto response = client.read_response(false, 30s);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body.size() == 30);
  CHECK(kiln.output().find("WORKER TIMEOUT") == std::string::npos);
  CHECK(children_of(kiln.pid()) == workers);
}

TEST_CASE("TERM lets a request in the app finish within graceful_timeout", "[python]") {
  kiln_process kiln(app_arguments("probe", {"--graceful-timeout", "20"}));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/sleep?s=1.5")));
  // The request is in the app when TERM comes.
  std::this_thread::sleep_for(300ms);
  kiln.signal(SIGTERM);
  auto response = client.read_response(false, 30s);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "slept\n");
  CHECK(response->header("Connection") == "close");
  CHECK(kiln.wait() == exited_with(0));
  // The worker ended cleanly too: its threads let go of Python before leaving it.
  CHECK(kiln.output().find("Fatal Python error") == std::string::npos);
  CHECK(kiln.count_in_output("Worker exited (pid: ") == 1);
  CHECK(kiln.output().find("): exit code 0\n") != std::string::npos);
}

TEST_CASE("HUP starts workers that import the app afresh", "[python]") {
  versioned_app app;
  app.write(1);
  kiln_process kiln(app_arguments("versioned", {"--workers", "2"}, app.directory.path()));
  CHECK(fetch(kiln.port(), "/").body == "version 1\n");
  app.write(2);
  load_generator load({.port = kiln.port()});
  kiln.signal(SIGHUP);
  CHECK(eventually([&] { return fetch(kiln.port(), "/").body == "version 2\n"; }));
  // Until the new workers serve, the old ones do: no request failed.
  REQUIRE(load.wait_for_more(50));
  load.stop();
  CHECK(load.failed() == 0);
}

TEST_CASE("reload: a change to a .py file under chdir brings new workers", "[python]") {
  versioned_app app;
  app.write(1);
  kiln_process kiln(app_arguments("versioned", {"--reload"}, app.directory.path()));
  CHECK(fetch(kiln.port(), "/").body == "version 1\n");
  // A file's modification time has a resolution; a moment between the writes keeps them apart.
  std::this_thread::sleep_for(1100ms);
  app.write(3);
  CHECK(kiln.wait_for_output("The app's .py files changed: reloading"));
  CHECK(eventually([&] { return fetch(kiln.port(), "/").body == "version 3\n"; }));
}

TEST_CASE("preload_app imports the app once, in the master, before the workers fork", "[python]") {
  versioned_app app;
  app.write(1);
  kiln_process kiln(
      app_arguments("versioned", {"--preload", "--workers", "2"}, app.directory.path()));
  CHECK(kiln.wait_for_output("Preloaded the app versioned"));
  CHECK(fetch(kiln.port(), "/").body == "version 1\n");
  // The workers run what the master imported: new code needs a restart, and HUP says so.
  app.write(2);
  kiln.signal(SIGHUP);
  CHECK(
      kiln.wait_for_output("preload_app: the new workers run the app the master imported at "
                           "start; restart kiln to run new code"));
  CHECK(kiln.wait_for_output("Reloaded the configuration"));
  for (int i = 0; i < 5; ++i)
    CHECK(fetch(kiln.port(), "/").body == "version 1\n");

  SECTION("an app that fails to load in the master stops kiln before any worker starts") {
    auto broken = failing(app_arguments("broken_import", {"--preload"}));
    CHECK(broken.wait() == exited_with(4));
    CHECK(broken.output().find("ModuleNotFoundError: No module named "
                               "'a_module_that_is_not_installed'") != std::string::npos);
    CHECK(broken.count_in_output("Booting worker") == 0);
  }
}

TEST_CASE("the app is imported from chdir and pythonpath, and runs in chdir", "[python]") {
  temporary_directory library("kiln-library");
  library.write("greeting.py", "WORDS = 'from pythonpath'\n");
  temporary_directory project("kiln-project");
  project.write("site_app.py", R"(import json, os, sys
import greeting

def application(environ, start_response):
    body = json.dumps({"cwd": os.getcwd(), "words": greeting.WORDS,
                       "first": sys.path[0], "second": sys.path[1]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
)");
  kiln_process kiln(app_arguments("site_app", {"--pythonpath", library.path()}, project.path()));
  auto body = fetch(kiln.port(), "/").body;
  CHECK(body.find("\"cwd\": \"" + project.path() + "\"") != std::string::npos);
  CHECK(body.find("\"words\": \"from pythonpath\"") != std::string::npos);
  CHECK(body.find("\"first\": \"" + project.path() + "\"") != std::string::npos);
  CHECK(body.find("\"second\": \"" + library.path() + "\"") != std::string::npos);
}

TEST_CASE("a virtual environment's packages import, from VIRTUAL_ENV or virtualenv", "[python]") {
  temporary_directory place("kiln-venv");
  std::string venv = place.path() + "/venv";
  // Debian's python3 makes it (without pip, which needs python3-venv and the network).
  REQUIRE(std::system(("/usr/bin/python3 -m venv --without-pip " + venv).c_str()) == 0);
  std::string site_packages;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(venv)) {
    if (entry.path().filename() == "site-packages") site_packages = entry.path().string();
  }
  REQUIRE(!site_packages.empty());
  std::ofstream(site_packages + "/only_in_venv.py") << "WHERE = 'the virtual environment'\n";
  temporary_directory project("kiln-project");
  project.write("venv_app.py", R"(import sys
import only_in_venv

def application(environ, start_response):
    body = f"{only_in_venv.WHERE} {sys.prefix}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
)");
  {
    kiln_process kiln(
        kiln_process::options{.arguments = app_arguments("venv_app", {}, project.path()),
                              .environment = {{"VIRTUAL_ENV", venv}}});
    CHECK(fetch(kiln.port(), "/").body == "the virtual environment " + venv);
  }
  {
    kiln_process kiln(app_arguments("venv_app", {"--virtualenv", venv}, project.path()));
    CHECK(fetch(kiln.port(), "/").body == "the virtual environment " + venv);
  }
  {
    // Without it, the module is not there: the app cannot load.
    auto without = failing(app_arguments("venv_app", {}, project.path()));
    CHECK(without.wait() == exited_with(4));
    CHECK(without.output().find("No module named 'only_in_venv'") != std::string::npos);
  }
}

TEST_CASE("worker_class: gunicorn's green classes run on threads, with a warning", "[python]") {
  kiln_process kiln(app_arguments("probe", {"-k", "eventlet", "--threads", "8"}));
  CHECK(
      kiln.wait_for_output("worker_class eventlet: kiln runs the app on 8 threads per worker "
                           "instead, and never monkey-patches"));
  CHECK(fetch(kiln.port(), "/hello").status == 200);
}

}  // namespace kiln::test
