#include "static_paths.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/requests.hpp"

namespace kiln::test {
namespace {

struct resolved {
  path_verdict verdict;
  std::string relative;
};

resolved resolve(std::string_view encoded_path) {
  std::string relative = "left over from an earlier request";
  auto verdict = to_relative_path(encoded_path, relative);
  return {verdict, verdict == path_verdict::file ? relative : std::string()};
}

}  // namespace

TEST_CASE("to_relative_path decodes paths below the root", "[static_paths]") {
  auto check_file = [](std::string_view path, std::string_view expected) {
    INFO(path);
    auto r = resolve(path);
    CHECK(r.verdict == path_verdict::file);
    CHECK(r.relative == expected);
  };
  check_file("/index.html", "index.html");
  check_file("/assets/app.js", "assets/app.js");
  check_file("/assets/app%201.js", "assets/app 1.js");
  check_file("/caf%C3%A9.txt", "caf\xC3\xA9.txt");
  check_file("/a+b.txt", "a+b.txt");
  check_file("/%61%62c", "abc");
  check_file("/a.b.c/d..e", "a.b.c/d..e");
  // Empty and "." segments vanish.
  check_file("//a///b", "a/b");
  check_file("/a/./b", "a/b");
  check_file("/./a", "a");
  check_file("/a/%2e/b", "a/b");
  // A directory names its index.html.
  check_file("/", "index.html");
  check_file("//", "index.html");
  check_file("/.", "index.html");
  check_file("/./", "index.html");
  check_file("/docs/", "docs/index.html");
  check_file("/docs//", "docs/index.html");
  check_file("/docs/.", "docs");  // A directory without its slash: redirected to add it.
  check_file("/docs%2f", "docs/index.html");
  check_file("/a/b/c/", "a/b/c/index.html");
}

TEST_CASE("to_relative_path refuses every way out of the root", "[static_paths]") {
  for (const char* path : {
           "/..",
           "/../",
           "/../etc/passwd",
           "/../../../../etc/passwd",
           "/a/..",
           "/a/../b",
           "/a/b/../../..",
           "/%2e%2e",
           "/%2E%2E",
           "/%2E%2e%2f",
           "/.%2e/etc/passwd",
           "/%2e./etc/passwd",
           "/..%2f",
           "/..%2fetc%2fpasswd",
           "/..%2f..%2fetc/passwd",
           "/%2f..",
           "/%2f%2e%2e%2fetc",
           "/a/%2e%2e/%2e%2e/etc/passwd",
           "/a%2f..%2f..%2fb",
           // Backslashes, literal or encoded, are not separators here, and never allowed.
           "/a\\b",
           "/..\\..\\etc\\passwd",
           "/a%5cb",
           "/a%5c..%5c..",
           "/a%5C..%5C..%5Cetc",
           // NUL bytes would cut the path short in the kernel.
           "/%00",
           "/index.html%00.png",
           "/a%00/b",
           // Malformed escapes.
           "/%zz",
           "/%4",
           "/%",
           "/a%",
           "/a%2",
           "/%g0",
           "/%0g",
           "/a%2x",
           "/%%41",
           // Not a path at all.
           "",
           "index.html",
           "a/b",
           "*",
       }) {
    INFO('"' << path << '"');
    CHECK(resolve(path).verdict == path_verdict::bad_request);
  }
}

TEST_CASE("to_relative_path hides dotfiles but serves .well-known", "[static_paths]") {
  for (const char* path : {
           "/.env",
           "/.git/config",
           "/.git/",
           "/.htaccess",
           "/a/.hidden",
           "/a/.hidden/b.txt",
           "/%2eenv",
           "/%2Egit/config",
           "/...",
           "/.well-known/.secret",
           "/a/.well-known/x",
           "/.well-knownx/a",
           "/.Well-Known/a",
       }) {
    INFO('"' << path << '"');
    CHECK(resolve(path).verdict == path_verdict::not_found);
  }
  // RFC 8615's well-known locations (security.txt, assetlinks.json, ACME challenges) are files
  // a site must be able to publish.
  CHECK(resolve("/.well-known/security.txt").relative == ".well-known/security.txt");
  CHECK(resolve("/.well-known/acme-challenge/x1").relative == ".well-known/acme-challenge/x1");
  CHECK(resolve("/%2ewell-known/security.txt").relative == ".well-known/security.txt");
  CHECK(resolve("/.well-known/").relative == ".well-known/index.html");
  CHECK(resolve("/.well-known/../x").verdict == path_verdict::bad_request);
}

TEST_CASE("is_content_hashed recognises bundler hashes", "[static_paths]") {
  for (const char* name : {
           "index-BxG3a9kF.js",   // Vite.
           "index-Bx_3a-kF.css",  // Vite's alphabet has _ and -.
           "About-CqYzUa0Q.js",
           "assets/index-BxG3a9kF.js",  // With a directory.
           "vendor-DmZpLqWx.js",        // Letters only, but both cases at random.
           "app.3f9a1c2b.js",           // webpack [contenthash:8].
           "app.3f9a1c2b.css",
           "main.0123456789abcdef0123.js",  // webpack's 20 hex digits.
           "chunk.a1b2c3d4e5f60718293a.js",
           "static/js/main.8e3c1f2a.js",  // create-react-app.
           "logo.5d5d9eef.svg",
           "font-Ab3dEf9h.woff2",
           "v1.2/app.3f9a1c2b.js",
       }) {
    INFO(name);
    CHECK(is_content_hashed(name));
  }
}

TEST_CASE("is_content_hashed leaves ordinary names alone", "[static_paths]") {
  for (const char* name : {
           "index.html",
           "index-settings.js",
           "user-settings.css",
           "main.min.js",
           "jquery-3.6.0.min.js",
           "jquery-3.6.0.js",
           "bootstrap.bundle.min.js",
           "favicon.ico",
           "logo.png",
           "robots.txt",
           "manifest.webmanifest",
           "app.js",
           "app",
           ".hidden",
           "",
           "a.b",
           "abcdefgh.js",
           "12345678",
           "app.3f9a1c2b",          // No extension after the hash: the hash is the extension.
           "app-3f9a1c2b",          // Likewise.
           "app.3f9a1c2.js",        // Seven characters are not enough.
           "moment.timezone.js",    // Eight letters of one case are a word.
           "jquery.dataTables.js",  // And so are camelCase words.
           "icon-FileText.svg",
           "vendor-ReactDom.js",
           "user-Settings.js",
           "assets.3f9a1c2b/logo.png",  // A hash in a directory name says nothing of the file.
           "app.3f9a1c2b.js/",          // Nor in a directory.
           "app.3f9a1c!b.js",
       }) {
    INFO('"' << name << '"');
    CHECK_FALSE(is_content_hashed(name));
  }
}

TEST_CASE("is_page_navigation: browser navigations outside the API", "[static_paths]") {
  const std::vector<header> html = {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}};
  auto navigation = [&](std::string_view method, std::string_view path, std::vector<header> headers,
                        std::string_view prefix = "/api/") {
    return is_page_navigation(make_request(method, path, std::move(headers)), prefix);
  };
  CHECK(navigation("GET", "/", html));
  CHECK(navigation("GET", "/some/page", html));
  CHECK(navigation("HEAD", "/some/page", html));
  CHECK(navigation("GET", "/some/page/", html));
  CHECK(navigation("GET", "/books/7", html));
  CHECK(navigation("GET", "/v1.2/page", html));  // Dots in earlier segments do not matter.
  CHECK(navigation("GET", "/page", {{"accept", "text/html"}}));
  CHECK(navigation("GET", "/page", {{"X-Other", "1"}, {"Accept", "text/html"}}));

  // Methods other than GET and HEAD.
  CHECK_FALSE(navigation("POST", "/some/page", html));
  CHECK_FALSE(navigation("PUT", "/some/page", html));
  CHECK_FALSE(navigation("DELETE", "/some/page", html));
  CHECK_FALSE(navigation("OPTIONS", "/some/page", html));
  // No Accept, or one without text/html (fetch() and XHR send */* or application/json).
  CHECK_FALSE(navigation("GET", "/some/page", {}));
  CHECK_FALSE(navigation("GET", "/some/page", {{"Accept", "*/*"}}));
  CHECK_FALSE(navigation("GET", "/some/page", {{"Accept", "application/json"}}));
  CHECK_FALSE(navigation("GET", "/some/page", {{"Accept", ""}}));
  // An extension in the last segment: a missing asset, not a page.
  CHECK_FALSE(navigation("GET", "/assets/nope.js", html));
  CHECK_FALSE(navigation("GET", "/favicon.ico", html));
  CHECK_FALSE(navigation("GET", "/page.html", html));
  CHECK_FALSE(navigation("GET", "/a/b.c", html));
}

TEST_CASE("is_page_navigation: the API prefix, with and without its slash", "[static_paths]") {
  const std::vector<header> html = {{"Accept", "text/html"}};
  auto navigation = [&](std::string_view path, std::string_view prefix) {
    return is_page_navigation(make_request("GET", path, html), prefix);
  };
  for (std::string_view prefix : {"/api/", "/api"}) {
    INFO("prefix " << prefix);
    CHECK_FALSE(navigation("/api", prefix));
    CHECK_FALSE(navigation("/api/", prefix));
    CHECK_FALSE(navigation("/api/x", prefix));
    CHECK_FALSE(navigation("/api/books/7", prefix));
    // Paths that merely start with the same letters are pages.
    CHECK(navigation("/apiary", prefix));
    CHECK(navigation("/apis/x", prefix));
    CHECK(navigation("/x/api/y", prefix));
  }
  CHECK_FALSE(navigation("/backend/x", "/backend/"));
  CHECK_FALSE(navigation("/backend", "/backend/"));
  CHECK(navigation("/api/x", "/backend/"));
  // No prefix: nothing is API.
  CHECK(navigation("/api/x", ""));
}

}  // namespace kiln::test
