// The examples end to end: the example API binary serves the built single-page app
// (examples/spa/dist) with SPA fallback, and Debian's headless Chromium loads it, runs its
// JavaScript and shows data that came from the API.
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/chromium.hpp"
#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::filesystem::path spa_dist = KILN_SPA_DIST;

// The books the example API starts with; neither index.html nor the bundle contains them.
constexpr const char* seeded_titles[] = {"The Left Hand of Darkness", "Invisible Cities",
                                         "The Periodic Table"};

// What the test needs besides kiln: it fails, not skips, so that CI cannot pass without them.
void require_browser_and_dist() {
  require_chromium();
  if (!std::filesystem::is_regular_file(spa_dist / "index.html")) {
    FAIL((spa_dist / "index.html").string()
         << " is missing: build the example SPA with scripts/build-spa (scripts/test runs it)");
  }
}

// The example API with the built SPA, on a port of the kernel's choosing.
kiln_process start_example() {
  return kiln_process(kiln_process::options{
      .arguments = {"--bind", "127.0.0.1:0", "--workers", "1", "--static-root", spa_dist.string(),
                    "--spa-fallback"},
      .binary = KILN_EXAMPLE_API,
  });
}

std::string url_of(const kiln_process& kiln, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(kiln.port()) + std::string(path);
}

// The hashed name of the bundle Vite wrote, as index.html refers to it: "index-CML4HYC_.js".
std::string hashed_script_name() {
  std::string index = read_file(spa_dist / "index.html");
  std::smatch found;
  std::regex script(R"re(src="/assets/([A-Za-z0-9_.-]+\.js)")re");
  if (!std::regex_search(index, found, script)) {
    FAIL("no /assets/*.js script in " << (spa_dist / "index.html").string() << ":\n" << index);
  }
  return found[1].str();
}

}  // namespace

TEST_CASE("the SPA's home page lists the books the API returns", "[browser]") {
  require_browser_and_dist();
  auto kiln = start_example();
  std::string index = read_file(spa_dist / "index.html");
  std::string dom = dump_dom(url_of(kiln, "/"));
  INFO(dom);
  CHECK(dom.find("<ul id=\"books\">") != std::string::npos);
  for (const char* title : seeded_titles) {
    CHECK(index.find(title) == std::string::npos);  // Only the API knows the titles.
    CHECK(dom.find(title) != std::string::npos);
  }
  CHECK(dom.find("href=\"/books/2\"") != std::string::npos);
}

TEST_CASE("a deep link to a book is served index.html and shows the book", "[browser]") {
  require_browser_and_dist();
  auto kiln = start_example();
  std::string dom = dump_dom(url_of(kiln, "/books/2"));
  INFO(dom);
  CHECK(dom.find("<h1>Invisible Cities</h1>") != std::string::npos);
  CHECK(dom.find("Italo Calvino") != std::string::npos);
  CHECK(dom.find("Book not found") == std::string::npos);
}

TEST_CASE("a deep link to a missing book shows Book not found", "[browser]") {
  require_browser_and_dist();
  auto kiln = start_example();
  std::string dom = dump_dom(url_of(kiln, "/books/999"));
  INFO(dom);
  CHECK(dom.find("Book not found") != std::string::npos);
  CHECK(dom.find("Invisible Cities") == std::string::npos);
}

TEST_CASE("the SPA shows the books of the Flask example, with kiln serving its files",
          "[browser][flask]") {
  // The same SPA, its API in Python: kiln serves the files and hands Flask only /api/...
  require_browser_and_dist();
  kiln_process kiln(kiln_process::options{
      .arguments = {"--bind", "127.0.0.1:0", "--workers", "1", "--static-root", spa_dist.string(),
                    "--spa-fallback", "--chdir", std::string(KILN_SOURCE_DIR) + "/examples/flask",
                    "app:app"},
  });
  std::string home = dump_dom(url_of(kiln, "/"));
  INFO(home);
  for (const char* title : seeded_titles)
    CHECK(home.find(title) != std::string::npos);
  std::string book = dump_dom(url_of(kiln, "/books/3"));
  INFO(book);
  CHECK(book.find("<h1>The Periodic Table</h1>") != std::string::npos);
  CHECK(kiln.output().find("Error handling request") == std::string::npos);
}

TEST_CASE("the built SPA is served with the caching, fallback and encodings a browser needs",
          "[browser]") {
  require_browser_and_dist();
  auto kiln = start_example();
  std::string index = read_file(spa_dist / "index.html");
  std::string script = hashed_script_name();
  http_client client(kiln.port());
  auto fetch = [&](const std::string& target, std::string_view headers = "") {
    REQUIRE(client.send(get(target, headers)));
    auto response = client.read_response();
    REQUIRE(response);
    return *response;
  };

  SECTION("the hashed bundle is cached for a year") {
    auto response = fetch("/assets/" + script);
    CHECK(response.status == 200);
    CHECK(response.header("Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(response.body == read_file(spa_dist / "assets" / script));
  }
  SECTION("index.html, for / and for a deep link, is revalidated every time") {
    for (const char* target : {"/", "/books/2"}) {
      INFO(target);
      auto response = fetch(target, "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n");
      CHECK(response.status == 200);
      CHECK(response.header("Cache-Control") == "no-cache");
      CHECK(response.header("Content-Type") == "text/html; charset=utf-8");
      CHECK(response.body == index);
    }
  }
  SECTION("a missing asset and a missing API path are 404, not index.html") {
    for (const char* target : {"/assets/nope.js", "/api/nope"}) {
      INFO(target);
      auto response = fetch(target, "Accept: text/html,*/*\r\n");
      CHECK(response.status == 404);
      CHECK(response.body != index);
    }
  }
  SECTION("a browser that accepts Brotli gets the precompressed bundle") {
    REQUIRE(std::filesystem::is_regular_file(spa_dist / "assets" / (script + ".br")));
    auto response = fetch("/assets/" + script, "Accept-Encoding: br\r\n");
    CHECK(response.status == 200);
    CHECK(response.header("Content-Encoding") == "br");
    CHECK(response.header("Vary") == "Accept-Encoding");
    CHECK(response.header("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(response.body == read_file(spa_dist / "assets" / (script + ".br")));
  }
}

TEST_CASE("the example API creates, reads and deletes books", "[examples]") {
  // One worker, so that every request sees the same in-memory store.
  kiln_process kiln(kiln_process::options{
      .arguments = {"--bind", "127.0.0.1:0", "--workers", "1"},
      .binary = KILN_EXAMPLE_API,
  });
  http_client client(kiln.port());
  auto exchange = [&](const std::string& request) {
    REQUIRE(client.send(request));
    auto response = client.read_response();
    REQUIRE(response);
    return *response;
  };
  auto post = [&](std::string_view body) {
    return exchange(
        "POST /api/books HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + std::string(body));
  };

  auto list = exchange(get("/api/books"));
  CHECK(list.status == 200);
  CHECK(list.header("Content-Type") == "application/json");
  CHECK(nlohmann::json::parse(list.body).size() == 3);

  auto created = post(R"({"title": "Kindred", "author": "Octavia E. Butler"})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  CHECK(created.header("Location") == "/api/books/4");
  auto expected =
      nlohmann::json::object({{"id", 4}, {"title", "Kindred"}, {"author", "Octavia E. Butler"}});
  CHECK(nlohmann::json::parse(created.body) == expected);
  CHECK(nlohmann::json::parse(exchange(get("/api/books/4")).body)["title"] == "Kindred");

  CHECK(post("not json").status == 400);
  CHECK(post(R"({"title": "No author"})").status == 400);

  CHECK(exchange("DELETE /api/books/4 HTTP/1.1\r\nHost: kiln\r\n\r\n").status == 204);
  auto gone = exchange(get("/api/books/4"));
  CHECK(gone.status == 404);
  CHECK(nlohmann::json::parse(gone.body).value("error", "") == "no such book");
  CHECK(exchange(get("/api/books/seven")).status == 404);
}

}  // namespace kiln::test
