// The images, built with podman and run as a platform would run them: the production image with
// web with PORT, web without PORT, a custom command, SIGTERM during a slow download; the Flask
// image; and the team's gunicorn deployment moved to kiln by one word. Slow: it builds them.
// It needs podman, which ../shared/tools/container-build.sh (or CONTAINER_BUILD) installs and
// configures; without that tool the test reports itself skipped (exit code 77).
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/shell.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string image = "localhost/kiln:test";

// podman prints noise about systemd health-check timers on machines without systemd.
std::string without_podman_noise(const std::string& text) {
  std::string kept;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("level=error msg=\"unable to get systemd connection") == std::string::npos) {
      kept += line + "\n";
    }
  }
  return kept;
}

std::string container_build_tool() {
  if (const char* given = std::getenv("CONTAINER_BUILD")) return given;
  return std::string(KILN_SOURCE_DIR) + "/../shared/tools/container-build.sh";
}

// A running container, removed at the end of the test whatever happens.
class container {
 public:
  explicit container(const std::string& options, const std::string& image_name = image) {
    name_ = "kiln-test-" + std::to_string(getpid()) + "-" + std::to_string(++count_);
    auto started =
        shell("podman run -d --network host --name " + name_ + " " + options + " " + image_name);
    INFO(started.output);
    REQUIRE(started.status == 0);
  }
  ~container() { shell("podman rm -f -t 0 " + name_); }
  const std::string& name() const { return name_; }
  std::string logs() const { return without_podman_noise(shell("podman logs " + name_).output); }
  // The port kiln announced, when it was started with PORT=0.
  std::uint16_t port() const {
    std::smatch match;
    std::string text;
    static const std::regex listening(R"(Listening at: http://0\.0\.0\.0:(\d+))");
    REQUIRE(eventually(
        [&] {
          text = logs();
          return std::regex_search(text, match, listening) &&
                 text.find("Booting worker") != std::string::npos;
        },
        60s));
    return static_cast<std::uint16_t>(std::stoi(match[1]));
  }
  // Waits for the container to exit; its exit code.
  int wait() const {
    auto waited = shell("timeout 60 podman wait " + name_);
    REQUIRE(waited.status == 0);
    return std::stoi(waited.output);
  }

 private:
  std::string name_;
  static inline int count_ = 0;
};

}  // namespace

// Builds a target of docker/Dockerfile as image_name with podman, and returns its size in MB.
// Skips the test (exit code 77) where podman cannot be set up.
double build_image(const std::string& target, const std::string& image_name) {
  std::string tool = container_build_tool();
  if (!std::filesystem::exists(tool)) {
    WARN("no " << tool << ": cannot set podman up here, so the image is not tested");
    std::exit(77);  // CTest counts this as skipped, not passed.
  }
  auto setup = shell(tool + " --setup");
  if (setup.status != 0) {
    WARN("podman cannot be set up here:\n" << setup.output);
    std::exit(77);
  }
  auto built = shell("cd " + std::string(KILN_SOURCE_DIR) + " && NO_RUN=1 IMAGE=" + image_name +
                     " BUILD_OPTS='--format docker --target " + target + "' " + tool +
                     " docker/Dockerfile .");
  INFO(built.output.substr(built.output.size() > 4000 ? built.output.size() - 4000 : 0));
  REQUIRE(built.status == 0);
  auto size = shell("podman image inspect --format '{{.Size}}' " + image_name);
  REQUIRE(size.status == 0);
  double megabytes = std::stod(size.output) / 1e6;
  WARN(target << " image: " << megabytes << " MB");
  return megabytes;
}

TEST_CASE("the production image serves the SPA and the API, and stops cleanly", "[container]") {
  // kiln embeds CPython, so even the C++ example's image carries libpython3.11.
  CHECK(build_image("production", image) < 120);
  // A numeric user, which runAsNonRoot can verify, and the HEALTHCHECK, kept by --format docker.
  auto image_user = shell("podman image inspect --format '{{.Config.User}}' " + image);
  CHECK(image_user.output == "10001:10001\n");
  auto health = shell("podman image inspect --format '{{json .HealthCheck}}' " + image);
  CHECK(health.output.find("/healthz") != std::string::npos);

  SECTION("web with PORT serves the SPA, a deep link, the API and the health checks") {
    container web("-e PORT=0 -e WEB_CONCURRENCY=2 -e HTTP_SERVE_TIMEOUT_SECONDS=20");
    std::uint16_t port = web.port();
    auto index = fetch(port, "/", "Accept: text/html\r\n");
    CHECK(index.status == 200);
    CHECK(index.body.find("id=\"app\"") != std::string::npos);
    auto deep = fetch(port, "/books/2", "Accept: text/html\r\n");
    CHECK(deep.status == 200);
    CHECK(deep.body == index.body);
    auto books = fetch(port, "/api/books");
    CHECK(books.status == 200);
    CHECK(books.header("Content-Type") == "application/json");
    CHECK(nlohmann::json::parse(books.body).size() == 3);
    CHECK(fetch(port, "/api/books/2").status == 200);
    CHECK(fetch(port, "/healthz").status == 200);
    CHECK(fetch(port, "/readyz").status == 200);
    CHECK(web.logs().find("timeout = 20  # env HTTP_SERVE_TIMEOUT_SECONDS") == std::string::npos);
    // The settings came from config/kiln.toml and the environment.
    auto printed = shell("podman exec " + web.name() +
                         " /app/bin/server -c /app/config/kiln.toml --print-config");
    CHECK(printed.output.find("timeout = 20  # env HTTP_SERVE_TIMEOUT_SECONDS") !=
          std::string::npos);
    CHECK(printed.output.find("workers = 2  # env WEB_CONCURRENCY") != std::string::npos);
    // The server runs as the image's user, not as root, and is PID 1 (entrypoint.sh execs).
    auto user = shell("podman exec " + web.name() + " sh -c 'stat -c %u /proc/1'");
    CHECK(user.output == "10001\n");
  }

  SECTION("the image's HEALTHCHECK passes against a running server") {
    // The check connects to $PORT, so this container needs a port number of its own.
    std::uint16_t port = 0;
    close(listening_socket(&port));
    container web("-e PORT=" + std::to_string(port));
    web.port();
    CHECK(
        eventually([&] { return shell("podman healthcheck run " + web.name()).status == 0; }, 30s));
  }

  SECTION("web without PORT says why and exits before starting") {
    auto run = shell("podman run --rm --network host " + image);
    CHECK(run.status == 64);
    CHECK(without_podman_noise(run.output) ==
          "entrypoint.sh: PORT must be set to the port to listen on, e.g. PORT=8000\n");
  }

  SECTION("a custom command runs with its arguments and its exit status") {
    auto run = shell("podman run --rm --network host " + image +
                     " sh -c 'echo \"[$1]\"; exit 3' sh 'a  b'");
    CHECK(run.status == 3);
    // The notice goes to stderr and the command's output to stdout: their order may vary.
    std::string output = without_podman_noise(run.output);
    CHECK(output.size() ==
          std::string("Running custom command: sh -c echo \"[$1]\"; exit 3 sh a  b\n[a  b]\n")
              .size());
    CHECK(output.find("Running custom command: sh -c echo \"[$1]\"; exit 3 sh a  b\n") !=
          std::string::npos);
    CHECK(output.find("[a  b]\n") != std::string::npos);
  }

  SECTION("SIGTERM during a slow download lets it complete, and the container exits 0") {
    temporary_directory directory("kiln-container");
    std::string big(8 * 1024 * 1024, 'k');
    directory.write("big.bin", big);
    std::filesystem::permissions(directory.path(), std::filesystem::perms::all);
    container web("-e PORT=0 -e WEB_CONCURRENCY=1 -v " + directory.path() +
                  ":/srv/files:ro -e KILN_STATIC_ROOT=/srv/files");
    std::uint16_t port = web.port();
    http_client client(port);
    REQUIRE(client.send(get("/big.bin")));
    REQUIRE(eventually([&] {
      client.closed_by_server(10ms);
      return client.unread().size() > 100000;
    }));
    REQUIRE(shell("podman kill --signal TERM " + web.name()).status == 0);
    auto response = client.read_response(false, 60s);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body.size() == big.size());
    CHECK(web.wait() == 0);
    CHECK(web.logs().find("Handling signal: TERM") != std::string::npos);
  }
}

TEST_CASE("the Flask image serves the SPA's files from kiln and the API from Flask",
          "[container]") {
  const std::string flask_image = "localhost/kiln-flask:test";
  double megabytes = build_image("flask", flask_image);
  CHECK(megabytes < 150);
  container web("-e PORT=0 -e WEB_CONCURRENCY=2", flask_image);
  std::uint16_t port = web.port();
  auto api = fetch(port, "/api/data");
  CHECK(api.status == 200);
  CHECK(nlohmann::json::parse(api.body) == nlohmann::json{{"message", "Data from the backend"}});
  CHECK(nlohmann::json::parse(fetch(port, "/api/books").body).size() == 3);
  // The shell and deep links come from kiln's static files: its caching says so.
  auto index = fetch(port, "/", "Accept: text/html\r\n");
  CHECK(index.status == 200);
  CHECK(index.header("Cache-Control") == "no-cache");
  CHECK(index.body.find("id=\"app\"") != std::string::npos);
  CHECK(fetch(port, "/books/2", "Accept: text/html\r\n").body == index.body);
  auto printed =
      shell("podman exec " + web.name() + " kiln -c /app/config/kiln.toml --print-config");
  CHECK(printed.output.find("wsgi_app = \"app:app\"  # env KILN_WSGI_APP") != std::string::npos);
  auto user = shell("podman exec " + web.name() + " sh -c 'stat -c %u /proc/1'");
  CHECK(user.output == "10001\n");
  CHECK(web.logs().find("Error handling request") == std::string::npos);
  REQUIRE(shell("podman kill --signal TERM " + web.name()).status == 0);
  CHECK(web.wait() == 0);
}

TEST_CASE("the team's gunicorn deployment, moved to kiln by one word, runs in its image",
          "[container]") {
  const std::string team_image = "localhost/kiln-team:test";
  double megabytes = build_image("team", team_image);
  CHECK(megabytes < 150);
  // As the platform runs it: its PORT and its timeout variable; gunicorn_config.py says 10
  // workers, keep-alive 90 and an eventlet worker class.
  container web("-e PORT=0 -e HTTP_SERVE_TIMEOUT_SECONDS=45", team_image);
  std::uint16_t port = web.port();
  auto api = fetch(port, "/api/data");
  CHECK(api.status == 200);
  CHECK(nlohmann::json::parse(api.body) == nlohmann::json{{"message", "Data from the backend"}});
  // The team's catch-all route serves its SPA: the shell for deep links, the built assets.
  auto index = fetch(port, "/books/2", "Accept: text/html\r\n");
  CHECK(index.status == 200);
  CHECK(index.body.find("id=\"app\"") != std::string::npos);
  auto logs = web.logs();
  CHECK(logs.find("[INFO] Using 10 workers\n") != std::string::npos);
  CHECK(logs.find("[WARNING] /app/gunicorn_config.py:4: worker_class eventlet: kiln runs the app "
                  "on 4 threads per worker instead") != std::string::npos);
  auto printed = shell("podman exec " + web.name() +
                       " kiln -c /app/gunicorn_config.py --print-config 2>/dev/null");
  CHECK(printed.output.find("\nworkers = 10  # /app/gunicorn_config.py:3\n") != std::string::npos);
  CHECK(printed.output.find("\nkeepalive = 90  # /app/gunicorn_config.py:6\n") !=
        std::string::npos);
  CHECK(printed.output.find("\ntimeout = 45  # /app/gunicorn_config.py:7\n") != std::string::npos);
  auto user = shell("podman exec " + web.name() + " sh -c 'stat -c %u /proc/1'");
  CHECK(user.output == "10001\n");
  CHECK(web.logs().find("Error handling request") == std::string::npos);
  REQUIRE(shell("podman kill --signal TERM " + web.name()).status == 0);
  CHECK(web.wait() == 0);
}

}  // namespace kiln::test
