// Static files as a browser sees them: metadata, conditional requests, ranges, precompressed
// siblings, caching, directories, the SPA fallback, the root's walls, large files, changes on
// disk, and the health endpoints, against the real kiln binary over TCP.
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// Fri, 01 Jan 2021 00:00:00 GMT: the files' modification time, so that dates are known.
constexpr std::time_t file_time = 1609459200;
constexpr std::string_view file_date = "Fri, 01 Jan 2021 00:00:00 GMT";

// A temporary directory whose files are dated file_time, with directories and symlinks.
class dated_directory : public temporary_directory {
 public:
  explicit dated_directory(std::string_view name = "kiln-static") : temporary_directory(name) {}

  // Writes a file (and the directories above it), dated file_time.
  void write(std::string_view relative, std::string_view contents) const {
    temporary_directory::write(relative, contents);
    set_time(relative, file_time);
  }
  void set_time(std::string_view relative, std::time_t seconds, long nanoseconds = 0) const {
    struct timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
    REQUIRE(::utimensat(AT_FDCWD, (*this / relative).c_str(), times, 0) == 0);
  }
  void make_directory(std::string_view relative) const {
    std::filesystem::create_directories(*this / relative);
  }
  void link(std::string_view target, std::string_view relative) const {
    REQUIRE(::symlink(std::string(target).c_str(), (*this / relative).c_str()) == 0);
  }
};

std::vector<std::string> serve(const dated_directory& root, std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0",   "--workers",
                                     "1",      "--static-root", root.path()};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

// Sends raw bytes on a new connection and reads one response.
http_response round_trip(const kiln_process& kiln, std::string_view raw, bool to_head = false) {
  http_client client(kiln.port());
  REQUIRE(client.send(raw));
  auto response = client.read_response(to_head);
  REQUIRE(response);
  return *response;
}

http_response fetch(const kiln_process& kiln, std::string_view target,
                    std::string_view extra_headers = "") {
  return round_trip(kiln, get(target, extra_headers));
}

std::string head_request(std::string_view target, std::string_view extra_headers = "") {
  return "HEAD " + std::string(target) + " HTTP/1.1\r\nHost: kiln\r\n" +
         std::string(extra_headers) + "\r\n";
}

http_response head(const kiln_process& kiln, std::string_view target,
                   std::string_view extra_headers = "") {
  return round_trip(kiln, head_request(target, extra_headers), true);
}

// Compares bodies without printing megabytes when they differ.
bool same_bytes(const std::string& actual, const std::string& expected) {
  if (actual == expected) return true;
  std::size_t at = 0;
  while (at < actual.size() && at < expected.size() && actual[at] == expected[at])
    ++at;
  UNSCOPED_INFO("sizes " << actual.size() << " and " << expected.size()
                         << ", first difference at byte " << at);
  return false;
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes)
    byte = static_cast<char>(random());
  return bytes;
}

const std::string letters = "abcdefghijklmnopqrstuvwxyz";

}  // namespace

TEST_CASE("GET and HEAD of a file carry its metadata", "[static_files]") {
  dated_directory root;
  root.write("hello.txt", "hello world\n");
  kiln_process kiln(serve(root));

  auto get_response = fetch(kiln, "/hello.txt");
  CHECK(get_response.status == 200);
  CHECK(get_response.body == "hello world\n");
  CHECK(get_response.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(get_response.header("Content-Length") == "12");
  CHECK(get_response.header("Last-Modified") == std::string(file_date));
  CHECK(get_response.header("Accept-Ranges") == "bytes");
  CHECK(get_response.header("Cache-Control") == "no-cache");
  CHECK_FALSE(get_response.header("Vary"));
  CHECK_FALSE(get_response.header("Content-Encoding"));
  auto etag = get_response.header("ETag");
  REQUIRE(etag);
  CHECK(etag->size() > 2);
  CHECK(etag->front() == '"');
  CHECK(etag->back() == '"');
  // The same file, the same tag.
  CHECK(fetch(kiln, "/hello.txt").header("ETag") == etag);

  // HEAD: the same head, no body; the next response on the connection starts right after it.
  http_client client(kiln.port());
  REQUIRE(client.send(head_request("/hello.txt") + get("/hello.txt")));
  auto head_response = client.read_response(true);
  REQUIRE(head_response);
  CHECK(head_response->status == 200);
  CHECK(head_response->body.empty());
  for (const char* name : {"Content-Type", "Content-Length", "ETag", "Last-Modified",
                           "Accept-Ranges", "Cache-Control"}) {
    INFO(name);
    CHECK(head_response->header(name) == get_response.header(name));
  }
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->status == 200);
  CHECK(next->body == "hello world\n");
  CHECK(client.unread().empty());
}

TEST_CASE("If-None-Match answers 304 for a current tag", "[static_files]") {
  dated_directory root;
  root.write("page.html", "<p>page</p>");
  kiln_process kiln(serve(root));
  auto first = fetch(kiln, "/page.html");
  REQUIRE(first.status == 200);
  std::string etag = first.header("ETag").value_or("\"missing\"");

  for (std::string condition : std::vector<std::string>{
           etag, "\"other\", " + etag, "\"a\",\"b\" ,  " + etag + " ", "*", "W/" + etag}) {
    INFO("If-None-Match: " << condition);
    http_client client(kiln.port());
    REQUIRE(
        client.send(get("/page.html", "If-None-Match: " + condition + "\r\n") + get("/page.html")));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 304);
    CHECK(response->body.empty());
    CHECK(response->header("ETag") == etag);
    CHECK(response->header("Last-Modified") == std::string(file_date));
    CHECK(response->header("Cache-Control") == "no-cache");
    // No body bytes were sent: the pipelined request's answer follows at once.
    auto next = client.read_response();
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == "<p>page</p>");
  }
  for (std::string condition :
       std::vector<std::string>{"\"other\"", "\"other\", \"more\"", "W/\"other\"",
                                etag.substr(0, etag.size() - 1) + "x\""}) {
    INFO("If-None-Match: " << condition);
    auto response = fetch(kiln, "/page.html", "If-None-Match: " + condition + "\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "<p>page</p>");
  }
  auto head_response = head(kiln, "/page.html", "If-None-Match: " + etag + "\r\n");
  CHECK(head_response.status == 304);
}

TEST_CASE("If-Modified-Since answers 304 unless the file is newer", "[static_files]") {
  dated_directory root;
  root.write("page.html", "<p>page</p>");
  kiln_process kiln(serve(root));
  for (const char* date : {"Fri, 01 Jan 2021 00:00:00 GMT", "Fri, 01 Jan 2021 00:00:01 GMT",
                           "Sat, 02 Jan 2021 00:00:00 GMT", "Sun, 01 Jan 2040 00:00:00 GMT"}) {
    INFO("If-Modified-Since: " << date);
    auto response = fetch(kiln, "/page.html", "If-Modified-Since: " + std::string(date) + "\r\n");
    CHECK(response.status == 304);
    CHECK(response.body.empty());
    CHECK(response.header("Last-Modified") == std::string(file_date));
  }
  for (const char* date : {"Thu, 31 Dec 2020 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
                           "yesterday", "Fri, 01 Jan 2021 00:00:00 UTC",
                           "Friday, 01-Jan-21 00:00:00 GMT", "Fri, 01 Jan 2021 25:00:00 GMT", ""}) {
    INFO("If-Modified-Since: " << date);
    auto response = fetch(kiln, "/page.html", "If-Modified-Since: " + std::string(date) + "\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "<p>page</p>");
  }
}

TEST_CASE("If-None-Match wins over If-Modified-Since", "[static_files]") {
  dated_directory root;
  root.write("page.html", "<p>page</p>");
  kiln_process kiln(serve(root));
  std::string etag = fetch(kiln, "/page.html").header("ETag").value_or("\"missing\"");
  // A tag that does not match: 200, though the date alone would say 304.
  auto response = fetch(kiln, "/page.html",
                        "If-None-Match: \"other\"\r\n"
                        "If-Modified-Since: Sun, 01 Jan 2040 00:00:00 GMT\r\n");
  CHECK(response.status == 200);
  CHECK(response.body == "<p>page</p>");
  // A tag that matches: 304, though the date alone would say 200.
  response = fetch(kiln, "/page.html",
                   "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                   "If-None-Match: " +
                       etag + "\r\n");
  CHECK(response.status == 304);
}

TEST_CASE("a single byte range gets 206 with exactly its bytes", "[static_files]") {
  dated_directory root;
  root.write("letters.txt", letters);
  kiln_process kiln(serve(root));

  struct expectation {
    const char* range;
    std::string body;
    const char* content_range;
  };
  for (const auto& [range, body, content_range] : {
           expectation{"bytes=0-4", "abcde", "bytes 0-4/26"},
           expectation{"bytes=10-10", "k", "bytes 10-10/26"},
           expectation{"bytes=20-", "uvwxyz", "bytes 20-25/26"},
           expectation{"bytes=-3", "xyz", "bytes 23-25/26"},
           expectation{"bytes=24-1000", "yz", "bytes 24-25/26"},
           expectation{"bytes=-100", letters, "bytes 0-25/26"},
           expectation{"bytes=0-0", "a", "bytes 0-0/26"},
       }) {
    INFO("Range: " << range);
    auto response = fetch(kiln, "/letters.txt", "Range: " + std::string(range) + "\r\n");
    CHECK(response.status == 206);
    CHECK(response.body == body);
    CHECK(response.header("Content-Range") == content_range);
    CHECK(response.header("Content-Length") == std::to_string(body.size()));
    CHECK(response.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(response.header("ETag"));
  }
}

TEST_CASE("ranges beyond the end get 416, unusable ones the whole file", "[static_files]") {
  dated_directory root;
  root.write("letters.txt", letters);
  root.write("empty.txt", "");
  kiln_process kiln(serve(root));
  for (const char* range : {"bytes=26-", "bytes=26-30", "bytes=1000-2000", "bytes=-0"}) {
    INFO("Range: " << range);
    auto response = fetch(kiln, "/letters.txt", "Range: " + std::string(range) + "\r\n");
    CHECK(response.status == 416);
    CHECK(response.header("Content-Range") == "bytes */26");
    CHECK(response.body.find("abc") == std::string::npos);
  }
  auto empty = fetch(kiln, "/empty.txt", "Range: bytes=0-\r\n");
  CHECK(empty.status == 416);
  CHECK(empty.header("Content-Range") == "bytes */0");

  for (const char* range :
       {"bytes=0-1,3-4", "bytes=0-1, 5-", "bytes=5-2", "items=0-4", "bytes=x-y"}) {
    INFO("Range: " << range);
    auto response = fetch(kiln, "/letters.txt", "Range: " + std::string(range) + "\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == letters);
    CHECK_FALSE(response.header("Content-Range"));
  }
  // HEAD ignores Range: its answer is GET's without one.
  auto head_response = head(kiln, "/letters.txt", "Range: bytes=0-4\r\n");
  CHECK(head_response.status == 200);
  CHECK(head_response.header("Content-Length") == "26");
  CHECK_FALSE(head_response.header("Content-Range"));
}

TEST_CASE("If-Range keeps the range only for the current representation", "[static_files]") {
  dated_directory root;
  root.write("letters.txt", letters);
  kiln_process kiln(serve(root));
  std::string etag = fetch(kiln, "/letters.txt").header("ETag").value_or("\"missing\"");

  for (std::string validator : std::vector<std::string>{etag, std::string(file_date)}) {
    INFO("If-Range: " << validator);
    auto response =
        fetch(kiln, "/letters.txt", "Range: bytes=0-2\r\nIf-Range: " + validator + "\r\n");
    CHECK(response.status == 206);
    CHECK(response.body == "abc");
    CHECK(response.header("Content-Range") == "bytes 0-2/26");
  }
  // An old tag, a weak one (If-Range compares strongly), an old date: the whole file.
  for (std::string validator :
       {std::string("\"old-tag\""), "W/" + etag, std::string("Thu, 31 Dec 2020 00:00:00 GMT")}) {
    INFO("If-Range: " << validator);
    auto response =
        fetch(kiln, "/letters.txt", "Range: bytes=0-2\r\nIf-Range: " + validator + "\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == letters);
    CHECK_FALSE(response.header("Content-Range"));
  }
}

TEST_CASE("precompressed siblings are chosen by Accept-Encoding", "[static_files]") {
  dated_directory root;
  root.write("app.js", "console.log('plain');\n");
  root.write("app.js.br", "BROTLI BYTES");
  root.write("app.js.gz", "GZIP BYTES!");
  root.write("style.css", "body{}");
  root.write("style.css.gz", "GZ CSS");
  root.write("solo.js", "solo();");
  kiln_process kiln(serve(root));
  const std::string plain = "console.log('plain');\n";

  struct expectation {
    const char* accept_encoding;  // nullptr: no Accept-Encoding at all.
    std::string body;
    const char* encoding;  // nullptr: no Content-Encoding.
  };
  for (const auto& [accept, body, encoding] : {
           expectation{"br", "BROTLI BYTES", "br"},
           expectation{"gzip, deflate, br", "BROTLI BYTES", "br"},
           expectation{"BR", "BROTLI BYTES", "br"},
           expectation{"*", "BROTLI BYTES", "br"},
           expectation{"gzip", "GZIP BYTES!", "gzip"},
           expectation{"deflate, gzip;q=0.5", "GZIP BYTES!", "gzip"},
           expectation{"br;q=0, gzip", "GZIP BYTES!", "gzip"},
           expectation{nullptr, plain, nullptr},
           expectation{"identity", plain, nullptr},
           expectation{"", plain, nullptr},
           expectation{"br;q=0, gzip;q=0", plain, nullptr},
           expectation{"deflate", plain, nullptr},
       }) {
    INFO("Accept-Encoding: " << (accept ? accept : "(none)"));
    std::string headers = accept ? "Accept-Encoding: " + std::string(accept) + "\r\n" : "";
    auto response = fetch(kiln, "/app.js", headers);
    CHECK(response.status == 200);
    CHECK(response.body == body);
    CHECK(response.header("Content-Length") == std::to_string(body.size()));
    CHECK(response.header("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(response.header("Vary") == "Accept-Encoding");
    if (encoding != nullptr) {
      CHECK(response.header("Content-Encoding") == encoding);
    } else {
      CHECK_FALSE(response.header("Content-Encoding"));
    }
  }

  // Each variant has its own tag, and revalidates against it.
  auto br = fetch(kiln, "/app.js", "Accept-Encoding: br\r\n");
  auto gz = fetch(kiln, "/app.js", "Accept-Encoding: gzip\r\n");
  auto identity = fetch(kiln, "/app.js");
  REQUIRE(br.header("ETag"));
  CHECK(br.header("ETag") != gz.header("ETag"));
  CHECK(br.header("ETag") != identity.header("ETag"));
  auto revalidated = fetch(kiln, "/app.js",
                           "Accept-Encoding: br\r\nIf-None-Match: " + *br.header("ETag") + "\r\n");
  CHECK(revalidated.status == 304);
  CHECK(revalidated.header("Vary") == "Accept-Encoding");

  // HEAD says what GET would send.
  auto head_response = head(kiln, "/app.js", "Accept-Encoding: br\r\n");
  CHECK(head_response.header("Content-Encoding") == "br");
  CHECK(head_response.header("Content-Length") == "12");

  // Ranges come from the file itself, whatever the client accepts.
  auto ranged = fetch(kiln, "/app.js", "Accept-Encoding: br, gzip\r\nRange: bytes=0-6\r\n");
  CHECK(ranged.status == 206);
  CHECK(ranged.body == "console");
  CHECK(ranged.header("Content-Range") == "bytes 0-6/" + std::to_string(plain.size()));
  CHECK_FALSE(ranged.header("Content-Encoding"));
  CHECK(ranged.header("Vary") == "Accept-Encoding");

  // Asked for by name, a sibling is just a file.
  auto direct = fetch(kiln, "/app.js.br", "Accept-Encoding: br\r\n");
  CHECK(direct.status == 200);
  CHECK(direct.body == "BROTLI BYTES");
  CHECK_FALSE(direct.header("Content-Encoding"));
  direct = fetch(kiln, "/app.js.gz");
  CHECK(direct.body == "GZIP BYTES!");
  CHECK_FALSE(direct.header("Content-Encoding"));

  // Only a .gz sibling: br clients get the plain file, still with Vary.
  auto css = fetch(kiln, "/style.css", "Accept-Encoding: br\r\n");
  CHECK(css.body == "body{}");
  CHECK_FALSE(css.header("Content-Encoding"));
  CHECK(css.header("Vary") == "Accept-Encoding");
  css = fetch(kiln, "/style.css", "Accept-Encoding: br, gzip\r\n");
  CHECK(css.body == "GZ CSS");
  CHECK(css.header("Content-Encoding") == "gzip");

  // No siblings, no Vary.
  auto solo = fetch(kiln, "/solo.js", "Accept-Encoding: br, gzip\r\n");
  CHECK(solo.body == "solo();");
  CHECK_FALSE(solo.header("Vary"));
  CHECK_FALSE(solo.header("Content-Encoding"));
}

TEST_CASE("content-hashed names are cached for good, others revalidated", "[static_files]") {
  dated_directory root;
  for (const char* name :
       {"index.html", "assets/index-BxG3a9kF.js", "assets/index-Bx_3a-kF.css", "app.3f9a1c2b.js",
        "logo.png", "main.js", "index-settings.js", "jquery-3.6.0.min.js"}) {
    root.write(name, "x");
  }
  kiln_process kiln(serve(root));
  for (const char* path :
       {"/assets/index-BxG3a9kF.js", "/assets/index-Bx_3a-kF.css", "/app.3f9a1c2b.js"}) {
    INFO(path);
    auto response = fetch(kiln, path);
    CHECK(response.status == 200);
    CHECK(response.header("Cache-Control") == "public, max-age=31536000, immutable");
    // A 304 repeats it.
    auto revalidated = fetch(kiln, path, "If-None-Match: *\r\n");
    CHECK(revalidated.status == 304);
    CHECK(revalidated.header("Cache-Control") == "public, max-age=31536000, immutable");
  }
  for (const char* path : {"/", "/index.html", "/logo.png", "/main.js", "/index-settings.js",
                           "/jquery-3.6.0.min.js"}) {
    INFO(path);
    auto response = fetch(kiln, path);
    CHECK(response.status == 200);
    CHECK(response.header("Cache-Control") == "no-cache");
  }
}

TEST_CASE("directories: index.html, a redirect to add the slash, never a listing",
          "[static_files]") {
  dated_directory root;
  root.write("index.html", "root index");
  root.write("docs/index.html", "docs index");
  root.write("docs/guide/index.html", "guide index");
  root.write("bare/listed-file.txt", "x");
  kiln_process kiln(serve(root));

  CHECK(fetch(kiln, "/").body == "root index");
  auto docs = fetch(kiln, "/docs/");
  CHECK(docs.status == 200);
  CHECK(docs.body == "docs index");
  CHECK(docs.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(fetch(kiln, "/docs/guide/").body == "guide index");

  struct expectation {
    const char* target;
    const char* location;
  };
  for (const auto& [target, location] : {
           expectation{"/docs", "/docs/"},
           expectation{"/docs?x=1&y=two", "/docs/?x=1&y=two"},
           expectation{"/docs/guide", "/docs/guide/"},
           expectation{"/bare", "/bare/"},
           // Never "//docs/", which a browser would take for another host.
           expectation{"//docs", "/docs/"},
           expectation{"///docs?a", "/docs/?a"},
       }) {
    INFO(target);
    auto response = fetch(kiln, target);
    CHECK(response.status == 301);
    CHECK(response.header("Location") == location);
  }

  auto bare = fetch(kiln, "/bare/");
  CHECK(bare.status == 404);
  CHECK(bare.body.find("listed-file") == std::string::npos);
}

TEST_CASE("SPA fallback: navigations get index.html, assets and the API do not",
          "[static_files][spa]") {
  dated_directory root;
  root.write("index.html", "<div id=app></div>");
  root.write("assets/real.js", "real();");
  const std::string html = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";

  SECTION("with the default API prefix") {
    kiln_process kiln(serve(root, {"--spa-fallback"}));
    for (const char* page : {"/some/page", "/some/page/", "/books/7", "/apiary", "/x/api/y"}) {
      INFO(page);
      auto response = fetch(kiln, page, html);
      CHECK(response.status == 200);
      CHECK(response.body == "<div id=app></div>");
      CHECK(response.header("Content-Type") == "text/html; charset=utf-8");
      CHECK(response.header("Cache-Control") == "no-cache");
    }
    auto head_response = head(kiln, "/some/page", html);
    CHECK(head_response.status == 200);
    CHECK(head_response.header("Content-Length") == "18");
    CHECK(head_response.body.empty());
    // Files are still files.
    CHECK(fetch(kiln, "/assets/real.js", html).body == "real();");

    for (const char* accept : {"", "Accept: */*\r\n", "Accept: application/json\r\n"}) {
      INFO("without text/html: " << accept);
      CHECK(fetch(kiln, "/some/page", accept).status == 404);
    }
    for (const char* missing :
         {"/assets/nope.js", "/favicon.ico", "/api/x", "/api", "/api/", "/api/books/7"}) {
      INFO(missing);
      auto response = fetch(kiln, missing, html);
      CHECK(response.status == 404);
      CHECK(response.body.find("app") == std::string::npos);
    }
    for (const char* method : {"POST", "PUT", "DELETE"}) {
      INFO(method);
      auto response = round_trip(kiln, std::string(method) +
                                           " /some/page HTTP/1.1\r\nHost: kiln\r\n"
                                           "Content-Length: 0\r\n" +
                                           html + "\r\n");
      CHECK(response.status == 405);
      CHECK(response.header("Allow") == "GET, HEAD");
    }
  }
  SECTION("with another API prefix") {
    kiln_process kiln(serve(root, {"--spa-fallback", "--api-prefix", "/backend/"}));
    CHECK(fetch(kiln, "/backend/x", html).status == 404);
    CHECK(fetch(kiln, "/backend", html).status == 404);
    auto response = fetch(kiln, "/api/x", html);
    CHECK(response.status == 200);
    CHECK(response.body == "<div id=app></div>");
  }
  SECTION("with an API prefix without its slash") {
    kiln_process kiln(serve(root, {"--spa-fallback", "--api-prefix", "/backend"}));
    CHECK(fetch(kiln, "/backend/x", html).status == 404);
    CHECK(fetch(kiln, "/backend", html).status == 404);
    CHECK(fetch(kiln, "/backendish", html).status == 200);
  }
  SECTION("without --spa-fallback") {
    kiln_process kiln(serve(root));
    CHECK(fetch(kiln, "/some/page", html).status == 404);
    CHECK(fetch(kiln, "/", html).body == "<div id=app></div>");
  }
}

TEST_CASE("no request leaves the static root", "[static_files][security]") {
  dated_directory root;
  dated_directory outside("kiln-outside");
  root.write("index.html", "index");
  root.write("a/b/c.txt", "c");
  root.write(".env", "SECRET_KEY=root-dotfile");
  root.write(".git/config", "[core] secret-git");
  root.write(".well-known/security.txt", "Contact: mailto:security@example.com");
  outside.write("secret.txt", "TOPSECRET outside the root");
  kiln_process kiln(serve(root));
  const std::string out = outside.name();

  for (std::string target : std::vector<std::string>{
           "/../etc/passwd",
           "/../../../../../../etc/passwd",
           "/../" + out + "/secret.txt",
           "/a/../../" + out + "/secret.txt",
           "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
           "/%2e%2e/" + out + "/secret.txt",
           "/%2E%2E/" + out + "/secret.txt",
           "/.%2e/" + out + "/secret.txt",
           "/..%2f..%2fetc/passwd",
           "/..%2f" + out + "%2fsecret.txt",
           "/a/%2e%2e/%2e%2e/etc/passwd",
           "/a/%2e%2e/%2e%2e/" + out + "/secret.txt",
           "/a/b/%2e%2e%2f%2e%2e%2f%2e%2e%2f" + out + "%2fsecret.txt",
           "/%00",
           "/index.html%00.txt",
           "/a%5c..%5c..%5c" + out + "%5csecret.txt",
           "/a%5c..%5c..",
           "/..%5c" + out + "%5csecret.txt",
           "/%2e%2e%5c" + out + "%5csecret.txt",
           "/%zz",
           "/%2",
           "/.env",
           "/.git/config",
           "/.git/",
           "/a/.%2e/.%2e/" + out + "/secret.txt",
           "//../" + out + "/secret.txt",
       }) {
    INFO("GET " << target);
    auto response = fetch(kiln, target);
    CHECK((response.status == 400 || response.status == 404));
    CHECK(response.body.find("SECRET") == std::string::npos);
    CHECK(response.body.find("secret") == std::string::npos);
    CHECK(response.body.find("root:") == std::string::npos);
  }
  // Raw backslashes, and dots in an absolute-form target.
  for (std::string raw : std::vector<std::string>{
           "GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: kiln\r\n\r\n",
           "GET /a/..\\..\\" + out + "\\secret.txt HTTP/1.1\r\nHost: kiln\r\n\r\n",
           "GET http://kiln/../" + out + "/secret.txt HTTP/1.1\r\nHost: kiln\r\n\r\n"}) {
    INFO(raw);
    http_client client(kiln.port());
    REQUIRE(client.send(raw));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK((response->status == 400 || response->status == 404));
    CHECK(response->body.find("SECRET") == std::string::npos);
    CHECK(response->body.find("root:") == std::string::npos);
  }
  // The dotfiles really are there, and .well-known is served.
  auto well_known = fetch(kiln, "/.well-known/security.txt");
  CHECK(well_known.status == 200);
  CHECK(well_known.body == "Contact: mailto:security@example.com");
  CHECK(fetch(kiln, "/a/b/c.txt").body == "c");
}

TEST_CASE("symlinks are served only when they stay inside the root", "[static_files][security]") {
  dated_directory root;
  dated_directory outside("kiln-outside");
  root.write("real.txt", "real contents");
  root.write("sub/inner.txt", "inner contents");
  outside.write("secret.txt", "TOPSECRET");
  root.link(outside / "secret.txt", "leak.txt");
  root.link("../../../../../../../../../.." + (outside / "secret.txt"), "climb.txt");
  root.link(outside.path(), "outdir");
  root.link("real.txt", "alias.txt");
  root.link("../real.txt", "sub/up.txt");
  root.link("sub", "subdir");
  kiln_process kiln(serve(root));

  for (const char* target : {"/leak.txt", "/climb.txt", "/outdir/secret.txt", "/outdir/"}) {
    INFO(target);
    auto response = fetch(kiln, target);
    CHECK(response.status == 404);
    CHECK(response.body.find("TOPSECRET") == std::string::npos);
  }
  auto alias = fetch(kiln, "/alias.txt");
  CHECK(alias.status == 200);
  CHECK(alias.body == "real contents");
  CHECK(alias.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(fetch(kiln, "/sub/up.txt").body == "real contents");
  CHECK(fetch(kiln, "/subdir/inner.txt").body == "inner contents");
}

TEST_CASE("large files come back whole, in ranges, and leave the connection usable",
          "[static_files][large]") {
  dated_directory root;
  const std::string big = random_bytes(5 * 1024 * 1024 + 123, 1);
  const std::string other = random_bytes(3 * 1024 * 1024 + 7, 2);
  root.write("big.bin", big);
  root.write("other.bin", other);
  root.write("small.txt", "small");
  kiln_process kiln(serve(root));

  SECTION("GET, then a small file on the same connection") {
    http_client client(kiln.port());
    REQUIRE(client.send(get("/big.bin")));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->header("Content-Length") == std::to_string(big.size()));
    CHECK(response->header("Content-Type") == "application/octet-stream");
    CHECK(response->header("ETag"));
    CHECK(same_bytes(response->body, big));
    REQUIRE(client.send(get("/small.txt")));
    auto next = client.read_response();
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == "small");
  }
  SECTION("a file held in memory but bigger than one write batch, then another request") {
    const std::string mid = random_bytes(300 * 1024, 3);
    root.write("mid.bin", mid);
    http_client client(kiln.port());
    for (int round = 0; round < 3; ++round) {
      INFO("round " << round);
      REQUIRE(client.send(get("/mid.bin")));
      auto response = client.read_response();
      REQUIRE(response);
      CHECK(same_bytes(response->body, mid));
      REQUIRE(client.send(get("/small.txt")));
      auto next = client.read_response();
      REQUIRE(next);
      CHECK(next->body == "small");
    }
  }
  SECTION("a pipeline of files held for sendfile, more than the socket takes, in order") {
    // Sixteen responses of 300 KiB queue up faster than the client reads them: the socket
    // fills, and each response resumes where sendfile stopped.
    const std::string mid = random_bytes(300 * 1024, 4);
    root.write("mid.bin", mid);
    http_client client(kiln.port());
    std::string pipeline;
    for (int i = 0; i < 16; ++i)
      pipeline += i % 4 == 3 ? get("/mid.bin", "Range: bytes=1000-70999\r\n") : get("/mid.bin");
    REQUIRE(client.send(pipeline + get("/small.txt")));
    for (int i = 0; i < 16; ++i) {
      INFO("response " << i);
      auto response = client.read_response();
      REQUIRE(response);
      if (i % 4 == 3) {
        CHECK(response->status == 206);
        CHECK(same_bytes(response->body, mid.substr(1000, 70000)));
      } else {
        CHECK(response->status == 200);
        CHECK(same_bytes(response->body, mid));
      }
    }
    auto last = client.read_response();
    REQUIRE(last);
    CHECK(last->body == "small");
  }
  SECTION("a long pipeline of one-byte ranges of a held file, answered in order") {
    // Each answer goes whole in one sendfile; the next request follows in a loop, not a deeper
    // call, however many the client sent at once.
    const std::string mid = random_bytes(100 * 1024, 5);
    root.write("mid.bin", mid);
    http_client client(kiln.port());
    std::string pipeline;
    constexpr int count = 2000;
    for (int i = 0; i < count; ++i) {
      std::string at = std::to_string(i * 37);
      pipeline += get("/mid.bin", "Range: bytes=" + at + "-" + at + "\r\n");
    }
    REQUIRE(client.send(pipeline + get("/small.txt")));
    int in_order = 0;
    for (int i = 0; i < count; ++i) {
      auto response = client.read_response();
      REQUIRE(response);
      if (response->status == 206 && response->body == mid.substr(i * 37, 1)) ++in_order;
    }
    CHECK(in_order == count);
    auto last = client.read_response();
    REQUIRE(last);
    CHECK(last->body == "small");
  }
  SECTION("a range from the middle") {
    auto response = fetch(kiln, "/big.bin", "Range: bytes=2097150-3145729\r\n");
    CHECK(response.status == 206);
    CHECK(response.header("Content-Range") ==
          "bytes 2097150-3145729/" + std::to_string(big.size()));
    CHECK(response.header("Content-Length") == "1048580");
    CHECK(same_bytes(response.body, big.substr(2097150, 1048580)));
    response = fetch(kiln, "/big.bin", "Range: bytes=-1000\r\n");
    CHECK(response.status == 206);
    CHECK(same_bytes(response.body, big.substr(big.size() - 1000)));
  }
  SECTION("HEAD") {
    http_client client(kiln.port());
    REQUIRE(client.send(head_request("/big.bin") + get("/small.txt")));
    auto response = client.read_response(true);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->header("Content-Length") == std::to_string(big.size()));
    CHECK(response->body.empty());
    auto next = client.read_response();
    REQUIRE(next);
    CHECK(next->body == "small");
  }
  SECTION("a pipeline of large files, in order") {
    http_client client(kiln.port());
    REQUIRE(client.send(get("/big.bin") + get("/other.bin") + get("/small.txt") +
                        get("/big.bin", "Range: bytes=100-199\r\n")));
    auto first = client.read_response();
    REQUIRE(first);
    CHECK(first->status == 200);
    CHECK(same_bytes(first->body, big));
    auto second = client.read_response();
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(same_bytes(second->body, other));
    auto third = client.read_response();
    REQUIRE(third);
    CHECK(third->body == "small");
    auto fourth = client.read_response();
    REQUIRE(fourth);
    CHECK(fourth->status == 206);
    CHECK(same_bytes(fourth->body, big.substr(100, 100)));
  }
  SECTION("conditional requests") {
    auto etag = fetch(kiln, "/big.bin", "Range: bytes=0-0\r\n").header("ETag");
    REQUIRE(etag);
    auto response = fetch(kiln, "/big.bin", "If-None-Match: " + *etag + "\r\n");
    CHECK(response.status == 304);
    CHECK(response.body.empty());
  }
}

TEST_CASE("a file changed on disk is served fresh", "[static_files]") {
  dated_directory root;
  root.write("page.txt", "version one");
  root.write("same-size.txt", "AAAA");
  root.set_time("same-size.txt", file_time, 100'000'000);
  kiln_process kiln(serve(root));
  auto before = fetch(kiln, "/page.txt");
  REQUIRE(before.body == "version one");
  auto same_before = fetch(kiln, "/same-size.txt");
  REQUIRE(same_before.body == "AAAA");

  root.write("page.txt", "version two, longer");
  { std::ofstream(root / "same-size.txt", std::ios::binary | std::ios::trunc) << "BBBB"; }
  // The same size, in the same second: only the nanoseconds tell.
  root.set_time("same-size.txt", file_time, 200'000'000);

  http_response after;
  CHECK(eventually([&] {
    after = fetch(kiln, "/page.txt");
    return after.body == "version two, longer";
  }));
  CHECK(after.header("Content-Length") == "19");
  CHECK(after.header("ETag") != before.header("ETag"));

  http_response same_after;
  CHECK(eventually([&] {
    same_after = fetch(kiln, "/same-size.txt");
    return same_after.body == "BBBB";
  }));
  CHECK(same_after.header("ETag") != same_before.header("ETag"));
  // A client holding the old contents is not told they are current.
  auto conditional = fetch(kiln, "/same-size.txt",
                           "If-None-Match: " + same_before.header("ETag").value_or("") + "\r\n");
  CHECK(conditional.status == 200);
  CHECK(conditional.body == "BBBB");

  // Removed: 404, once kiln has looked again.
  std::filesystem::remove(root / "page.txt");
  CHECK(eventually([&] { return fetch(kiln, "/page.txt").status == 404; }));
}

TEST_CASE("methods other than GET and HEAD get 405 for static files", "[static_files]") {
  dated_directory root;
  root.write("file.txt", "contents");
  kiln_process kiln(serve(root));
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    INFO(method);
    http_client client(kiln.port());
    REQUIRE(client.send(std::string(method) +
                        " /file.txt HTTP/1.1\r\nHost: kiln\r\nContent-Length: 4\r\n\r\nbody" +
                        get("/file.txt")));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 405);
    CHECK(response->header("Allow") == "GET, HEAD");
    CHECK(response->body.find("contents") == std::string::npos);
    // The connection stays usable.
    auto next = client.read_response();
    REQUIRE(next);
    CHECK(next->body == "contents");
  }
  // The file is still there.
  CHECK(fetch(kiln, "/file.txt").body == "contents");
}

TEST_CASE("health and readiness endpoints", "[static_files][health]") {
  dated_directory root;
  root.write("index.html", "index");

  SECTION("on by default") {
    kiln_process kiln(serve(root));
    auto health = fetch(kiln, "/healthz");
    CHECK(health.status == 200);
    CHECK(health.body == "ok\n");
    CHECK(health.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(health.header("Cache-Control") == "no-store");
    CHECK(fetch(kiln, "/healthz?probe=1").status == 200);
    auto ready = fetch(kiln, "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.body == "ready\n");
    CHECK(ready.header("Cache-Control") == "no-store");
    CHECK(head(kiln, "/healthz").status == 200);
  }
  SECTION("turned off") {
    kiln_process kiln(serve(root, {"--health-path", "", "--ready-path", ""}));
    CHECK(fetch(kiln, "/healthz").status == 404);
    CHECK(fetch(kiln, "/readyz").status == 404);
    CHECK(fetch(kiln, "/").body == "index");
  }
  SECTION("moved") {
    kiln_process kiln(serve(root, {"--health-path", "/live", "--ready-path", "/ready"}));
    CHECK(fetch(kiln, "/live").body == "ok\n");
    CHECK(fetch(kiln, "/ready").body == "ready\n");
    CHECK(fetch(kiln, "/healthz").status == 404);
    CHECK(fetch(kiln, "/readyz").status == 404);
  }
  SECTION("without a static root") {
    kiln_process kiln(std::vector<std::string>{"--bind", "127.0.0.1:0", "--workers", "1"});
    CHECK(fetch(kiln, "/healthz").body == "ok\n");
    CHECK(fetch(kiln, "/readyz").status == 200);
    CHECK(fetch(kiln, "/").status == 404);
  }
}

TEST_CASE("after TERM, readiness fails while kiln still serves for shutdown_delay",
          "[static_files][health]") {
  dated_directory root;
  root.write("file.txt", "contents");
  kiln_process kiln(serve(root, {"--shutdown-delay", "2"}));
  REQUIRE(fetch(kiln, "/readyz").status == 200);
  auto file = fetch(kiln, "/file.txt");
  REQUIRE(file.status == 200);
  CHECK_FALSE(file.header("Connection"));

  auto signalled = std::chrono::steady_clock::now();
  kiln.signal(SIGTERM);
  http_response ready;
  REQUIRE(eventually([&] {
    ready = fetch(kiln, "/readyz");
    return ready.status != 200;
  }));
  // New connections are still accepted and answered, each closed after its response.
  CHECK(ready.status == 503);
  CHECK(ready.body == "stopping\n");
  CHECK(ready.header("Connection") == "close");
  {
    http_client client(kiln.port());
    REQUIRE(client.send(get("/file.txt")));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "contents");
    CHECK(response->header("Connection") == "close");
    CHECK(client.closed_by_server());
  }
  CHECK(fetch(kiln, "/healthz").status == 200);

  auto status = kiln.wait();
  REQUIRE(status);
  CHECK(*status == exited_with(0));
  CHECK(std::chrono::steady_clock::now() - signalled >= std::chrono::milliseconds(1900));
}

}  // namespace kiln::test
