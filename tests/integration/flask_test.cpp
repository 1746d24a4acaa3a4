// Flask on kiln: the reference deployment's app, unchanged (tests/fixtures/reference-deployment),
// alone and behind kiln's static files, and started by entrypoint.sh web; and kiln's own Flask
// example (examples/flask). Debian's python3-flask, in kiln's embedded Python.
#include <nlohmann/json.hpp>
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"

namespace kiln::test {
namespace {

const std::string deployment = std::string(KILN_FIXTURES) + "/reference-deployment";
const std::string flask_example = std::string(KILN_SOURCE_DIR) + "/examples/flask";

// The paths the team's app was asked for, through the observing wrapper.
nlohmann::json seen_by_flask(std::uint16_t port) {
  return nlohmann::json::parse(fetch(port, "/__seen").body);
}

const std::string index_html = R"(<!doctype html>
<html><head><title>The team's app</title><script type="module" src="/assets/index-BxG3a9kF.js"></script></head>
<body><div id="app"></div></body></html>
)";

}  // namespace

TEST_CASE("the reference deployment's Flask app runs unchanged, serving the SPA itself",
          "[flask]") {
  kiln_process kiln(
      {"--bind", "127.0.0.1:0", "--workers", "1", "--chdir", deployment, "observed:application"});
  auto api = fetch(kiln.port(), "/api/data");
  CHECK(api.status == 200);
  CHECK(api.header("Content-Type") == "application/json");
  CHECK(nlohmann::json::parse(api.body) == nlohmann::json{{"message", "Data from the backend"}});
  // Its catch-all route: the shell for pages, the files of the build for assets.
  auto home = fetch(kiln.port(), "/", "Accept: text/html\r\n");
  CHECK(home.status == 200);
  CHECK(home.body == index_html);
  CHECK(fetch(kiln.port(), "/books/2").body == index_html);
  auto asset = fetch(kiln.port(), "/assets/index-BxG3a9kF.js");
  CHECK(asset.status == 200);
  CHECK(asset.body == "document.getElementById(\"app\").textContent = \"built\";\n");
  CHECK(seen_by_flask(kiln.port()) ==
        nlohmann::json::array({"/api/data", "/", "/books/2", "/assets/index-BxG3a9kF.js"}));
  CHECK(kiln.output().find("Error handling request") == std::string::npos);
}

TEST_CASE("behind kiln's static files, Flask sees only the API", "[flask]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--static-root",
                     deployment + "/static", "--spa-fallback", "--chdir", deployment,
                     "observed:application"});
  // kiln answers the shell and deep links, with its validators and caching.
  auto home = fetch(kiln.port(), "/", "Accept: text/html\r\n");
  CHECK(home.status == 200);
  CHECK(home.body == index_html);
  CHECK(home.header("Cache-Control") == "no-cache");
  CHECK(home.header("Accept-Ranges") == "bytes");
  REQUIRE(home.header("ETag"));
  CHECK(fetch(kiln.port(), "/", "If-None-Match: " + *home.header("ETag") + "\r\n").status == 304);
  auto deep = fetch(kiln.port(), "/books/2", "Accept: text/html\r\n");
  CHECK(deep.body == index_html);
  auto asset = fetch(kiln.port(), "/assets/index-BxG3a9kF.js");
  CHECK(asset.header("Cache-Control") == "public, max-age=31536000, immutable");
  auto range = fetch(kiln.port(), "/assets/index-BxG3a9kF.js", "Range: bytes=0-7\r\n");
  CHECK(range.status == 206);
  CHECK(range.body == "document");
  // The API, and anything no file matches, is Flask's.
  CHECK(nlohmann::json::parse(fetch(kiln.port(), "/api/data").body)["message"] ==
        "Data from the backend");
  auto missing = fetch(kiln.port(), "/assets/missing.js");
  CHECK(missing.status == 200);  // The team's catch-all answers its shell for it.
  CHECK(missing.body == index_html);
  CHECK(seen_by_flask(kiln.port()) == nlohmann::json::array({"/api/data", "/assets/missing.js"}));
}

TEST_CASE("entrypoint.sh web runs the team's app named by KILN_WSGI_APP", "[flask]") {
  std::string entrypoint = std::string(KILN_SOURCE_DIR) + "/entrypoint.sh";
  kiln_process kiln({.arguments = {"web"},
                     .environment = {{"APP_SERVER", KILN_BINARY},
                                     {"PORT", "0"},
                                     {"WEB_CONCURRENCY", "2"},
                                     {"HTTP_SERVE_TIMEOUT_SECONDS", "20"},
                                     {"KILN_WSGI_APP", "app:application"},
                                     {"KILN_CHDIR", deployment},
                                     {"KILN_STATIC_ROOT", deployment + "/static"},
                                     {"KILN_SPA_FALLBACK", "true"}},
                     .unset = {"KILN_CONFIG"},
                     .binary = entrypoint});
  CHECK(process_title(kiln.pid()) == "kiln: master");
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 2; }));
  CHECK(nlohmann::json::parse(fetch(kiln.port(), "/api/data").body)["message"] ==
        "Data from the backend");
  CHECK(fetch(kiln.port(), "/", "Accept: text/html\r\n").body == index_html);
  // Under load, a TERM loses nothing.
  load_generator load({.port = kiln.port(), .path = "/api/data"});
  REQUIRE(load.wait_for_more(100));
  kiln.signal(SIGTERM);
  CHECK(kiln.wait() == exited_with(0));
  load.stop();
  CHECK(kiln.output().find("Error handling request") == std::string::npos);
  CHECK(kiln.output().find("Fatal Python error") == std::string::npos);
  CHECK(kiln.count_in_output("): exit code 0\n") == 2);  // Both workers.
}

TEST_CASE("kiln's Flask example: the books API and /api/data", "[flask]") {
  kiln_process kiln(kiln_process::options{
      .arguments = {"--bind", "127.0.0.1:0", "--workers", "1", "--chdir", flask_example, "app:app"},
      .environment = {{"SPA_DIST", deployment + "/static"}}});
  auto books = nlohmann::json::parse(fetch(kiln.port(), "/api/books").body);
  REQUIRE(books.size() == 3);
  CHECK(books[1]["title"] == "Invisible Cities");
  CHECK(nlohmann::json::parse(fetch(kiln.port(), "/api/books/3").body)["author"] == "Primo Levi");
  auto missing = fetch(kiln.port(), "/api/books/9");
  CHECK(missing.status == 404);
  CHECK(nlohmann::json::parse(missing.body) == nlohmann::json{{"error", "no such book"}});
  http_client client(kiln.port());
  std::string body = R"({"title": "Kindred", "author": "Octavia E. Butler"})";
  REQUIRE(
      client.send("POST /api/books HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\n"
                  "Content-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  auto created = client.read_response();
  REQUIRE(created);
  CHECK(created->status == 201);
  CHECK(nlohmann::json::parse(created->body)["id"] == 4);
  CHECK(nlohmann::json::parse(fetch(kiln.port(), "/api/data").body)["message"] ==
        "Data from the backend");
  CHECK(fetch(kiln.port(), "/books/4", "Accept: text/html\r\n").body == index_html);
}

}  // namespace kiln::test
