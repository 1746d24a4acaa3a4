#include "static_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/requests.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// What static_files answered, as a connection would have sent it (the body of a file read back
// from the descriptor it handed over).
struct answer {
  int status = 0;
  std::string headers;
  std::string body;
  bool streamed = false;   // Sent from a descriptor, not from a string.
  bool in_memory = false;  // That descriptor is a memfd.
  int calls = 0;
};

class recording_responder final : public responder {
 public:
  answer last;

  void send(int status, std::string_view headers, std::string_view more_headers,
            std::string_view body) noexcept override {
    record(status, headers, more_headers, body);
  }
  void send_shared(int status, std::string_view headers, std::string_view more_headers,
                   output_batch::shared_bytes, std::string_view body) noexcept override {
    record(status, headers, more_headers, body);
  }
  void send_file(int status, std::string_view headers, std::string_view more_headers, int fd,
                 std::uint64_t offset, std::uint64_t length, bool in_memory) noexcept override {
    std::string body(length, '\0');
    std::size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, body.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    body.resize(done);
    ::close(fd);
    record(status, headers, more_headers, body);
    last.streamed = true;
    last.in_memory = in_memory;
  }
  void send_status(int status, std::string_view headers) noexcept override {
    record(status, "Content-Type: text/plain; charset=utf-8\r\n", headers, std::to_string(status));
  }
  response_writer& defer(deferred_response&) noexcept override {
    FAIL("static files never defer an answer");
    std::abort();
  }

 private:
  void record(int status, std::string_view headers, std::string_view more_headers,
              std::string_view body) {
    int calls = last.calls + 1;
    last = {};
    last.calls = calls;
    last.status = status;
    last.headers.append(headers).append(more_headers);
    last.body = body;
  }
};

// Bytes that differ along their length, so that a piece sent from the wrong place shows.
std::string patterned_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<char>((i * 7919) >> 3);
  return bytes;
}

answer serve(static_files& files, std::string_view path, std::uint64_t now_ms = 1000,
             std::vector<header> headers = {}) {
  recording_responder out;
  auto req = make_request("GET", path, std::move(headers));
  files.serve(req, out, now_ms);
  CHECK(out.last.calls == 1);
  return out.last;
}

bool has_header(const answer& a, std::string_view line) {
  return a.headers.find(std::string(line) + "\r\n") != std::string::npos;
}

// A root with a regular file, a symlink to it, a symlink out of the root and a symlinked
// directory out of the root.
struct symlink_tree {
  temporary_directory root{"kiln-static-unit"};
  temporary_directory outside{"kiln-static-unit"};
  symlink_tree() {
    root.write("real.txt", "inside");
    root.write("nested/deeper/file.txt", "nested file");
    outside.write("secret.txt", "SECRET");
    REQUIRE(::symlink("real.txt", (root / "alias.txt").c_str()) == 0);
    REQUIRE(::symlink("../real.txt", (root / "nested/up.txt").c_str()) == 0);
    REQUIRE(::symlink((outside / "secret.txt").c_str(), (root / "leak.txt").c_str()) == 0);
    // Climbs above / and back down: ".." at the root stays at the root.
    std::string climb;
    for (int i = 0; i < 20; ++i)
      climb += "../";
    climb += (outside / "secret.txt").substr(1);
    REQUIRE(::symlink(climb.c_str(), (root / "relative-leak.txt").c_str()) == 0);
    REQUIRE(::symlink(outside.path().c_str(), (root / "outdir").c_str()) == 0);
  }
};

}  // namespace

TEST_CASE("static_files answers files, 404s and 405s", "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("index.html", "<h1>home</h1>");
  root.write("docs/index.html", "docs");
  root.write(".env", "SECRET=1");
  static_files files({root.path()});

  auto a = serve(files, "/");
  CHECK(a.status == 200);
  CHECK(a.body == "<h1>home</h1>");
  CHECK(has_header(a, "Content-Type: text/html; charset=utf-8"));
  CHECK(has_header(a, "Cache-Control: no-cache"));

  CHECK(serve(files, "/docs/").body == "docs");
  a = serve(files, "/docs");
  CHECK(a.status == 301);
  CHECK(has_header(a, "Location: /docs/"));
  CHECK(serve(files, "/nope.txt").status == 404);
  CHECK(serve(files, "/.env").status == 404);
  CHECK(serve(files, "/../etc/passwd").status == 400);

  recording_responder out;
  auto post = make_request("POST", "/index.html");
  files.serve(post, out, 1000);
  CHECK(out.last.status == 405);
  CHECK(has_header(out.last, "Allow: GET, HEAD"));
}

TEST_CASE("static_files redirects to a directory's slash, on this site only", "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("docs/index.html", "docs");
  root.write("odd/index.html/index.html", "a directory called index.html");
  static_files files({root.path()});
  auto a = serve(files, "//docs");
  CHECK(a.status == 301);
  CHECK(has_header(a, "Location: /docs/"));
  a = serve(files, "///docs");
  CHECK(has_header(a, "Location: /docs/"));
  // A directory where index.html should be is not redirected to itself for ever.
  CHECK(serve(files, "/odd/").status == 404);
  CHECK(serve(files, "/odd//").status == 404);
  a = serve(files, "/odd/index.html");
  CHECK(a.status == 301);
  CHECK(has_header(a, "Location: /odd/index.html/"));
}

TEST_CASE("static_files looks at the disk again once a second", "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("page.txt", "first");
  static_files files({root.path()});
  CHECK(serve(files, "/page.txt", 10'000).body == "first");
  root.write("page.txt", "second version");
  // Within the second the cached copy is trusted; after it the change is seen.
  CHECK(serve(files, "/page.txt", 10'500).body == "first");
  CHECK(serve(files, "/page.txt", 11'000).body == "second version");
  std::filesystem::remove(root / "page.txt");
  CHECK(serve(files, "/page.txt", 11'500).body == "second version");
  CHECK(serve(files, "/page.txt", 12'000).status == 404);
}

TEST_CASE("static_files: a same-size rewrite in the same second changes the ETag",
          "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("page.txt", "one");
  auto set_mtime = [&](long nanoseconds) {
    struct timespec times[2] = {{1609459200, nanoseconds}, {1609459200, nanoseconds}};
    REQUIRE(::utimensat(AT_FDCWD, (root / "page.txt").c_str(), times, 0) == 0);
  };
  set_mtime(100'000'000);
  static_files files({root.path()});
  auto before = serve(files, "/page.txt", 10'000);
  REQUIRE(before.status == 200);
  root.write("page.txt", "two");
  set_mtime(200'000'000);
  auto after = serve(files, "/page.txt", 11'000);
  CHECK(after.body == "two");
  CHECK(has_header(before, "Last-Modified: Fri, 01 Jan 2021 00:00:00 GMT"));
  CHECK(has_header(after, "Last-Modified: Fri, 01 Jan 2021 00:00:00 GMT"));
  auto etag = [](const answer& a) {
    auto start = a.headers.find("ETag: ");
    REQUIRE(start != std::string::npos);
    start += 6;
    return a.headers.substr(start, a.headers.find("\r\n", start) - start);
  };
  CHECK(etag(before) != etag(after));
  // The old tag no longer matches: a client holding "one" must not be told it is current.
  auto conditional = serve(files, "/page.txt", 11'000, {{"If-None-Match", etag(before)}});
  CHECK(conditional.status == 200);
  CHECK(conditional.body == "two");
}

TEST_CASE("static_files: HEAD ignores Range", "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("letters.txt", "abcdefghij");
  static_files files({root.path()});
  recording_responder out;
  std::vector<header> range = {{"Range", "bytes=0-3"}};
  auto head = make_request("HEAD", "/letters.txt", range);
  files.serve(head, out, 1000);
  CHECK(out.last.status == 200);
  CHECK(out.last.headers.find("Content-Range") == std::string::npos);
  auto get = make_request("GET", "/letters.txt", range);
  files.serve(get, out, 1000);
  CHECK(out.last.status == 206);
  CHECK(out.last.body == "abcd");
}

TEST_CASE("static_files with openat2: symlinks inside the root only", "[static_files]") {
  symlink_tree tree;
  static_files files({tree.root.path()});
  auto a = serve(files, "/real.txt");
  CHECK(a.status == 200);
  CHECK(a.body == "inside");
  a = serve(files, "/alias.txt");
  CHECK(a.status == 200);
  CHECK(a.body == "inside");
  a = serve(files, "/nested/up.txt");
  CHECK(a.status == 200);
  CHECK(a.body == "inside");
  CHECK(serve(files, "/nested/deeper/file.txt").body == "nested file");
  for (const char* escape : {"/leak.txt", "/relative-leak.txt", "/outdir/secret.txt"}) {
    INFO(escape);
    a = serve(files, escape);
    CHECK(a.status == 404);
    CHECK(a.body.find("SECRET") == std::string::npos);
  }
}

TEST_CASE("static_files without openat2 follows no symlink at all", "[static_files]") {
  symlink_tree tree;
  static_files files({tree.root.path()});
  files.use_openat2(false);
  auto a = serve(files, "/real.txt");
  CHECK(a.status == 200);
  CHECK(a.body == "inside");
  CHECK(serve(files, "/nested/deeper/file.txt").body == "nested file");
  a = serve(files, "/nested/deeper/");
  CHECK(a.status == 404);
  a = serve(files, "/nested");
  CHECK(a.status == 301);
  for (const char* link :
       {"/leak.txt", "/relative-leak.txt", "/outdir/secret.txt", "/alias.txt", "/nested/up.txt"}) {
    INFO(link);
    a = serve(files, link);
    CHECK(a.status == 404);
    CHECK(a.body.find("SECRET") == std::string::npos);
    CHECK(a.body.find("inside") == std::string::npos);
  }
}

TEST_CASE("static_files streams files above 1 MiB from their descriptor", "[static_files]") {
  temporary_directory root("kiln-static-unit");
  const std::string big = patterned_bytes(3 * 1024 * 1024 + 17);
  root.write("big.bin", big);
  static_files files({root.path()});
  auto a = serve(files, "/big.bin");
  CHECK(a.status == 200);
  CHECK(a.streamed);
  CHECK_FALSE(a.in_memory);
  CHECK(a.body == big);
  a = serve(files, "/big.bin", 1000, {{"Range", "bytes=1048570-1048589"}});
  CHECK(a.status == 206);
  CHECK(a.streamed);
  CHECK(a.body == big.substr(1048570, 20));
  CHECK(has_header(a, "Content-Range: bytes 1048570-1048589/" + std::to_string(big.size())));
}

TEST_CASE("static_files holds files from 64 KiB to 1 MiB in a sealed memfd, for sendfile",
          "[static_files]") {
  temporary_directory root("kiln-static-unit");
  const std::string mid = patterned_bytes(200 * 1024 + 3);
  root.write("mid.bin", mid);
  root.write("small.txt", std::string(64 * 1024 - 1, 's'));
  static_files files({root.path()});

  auto a = serve(files, "/small.txt");
  CHECK(a.status == 200);
  CHECK_FALSE(a.streamed);  // Below 64 KiB: one write with the head.
  a = serve(files, "/mid.bin");
  CHECK(a.status == 200);
  CHECK(a.streamed);
  CHECK(a.in_memory);
  CHECK(a.body == mid);
  a = serve(files, "/mid.bin", 1000, {{"Range", "bytes=70000-70009"}});
  CHECK(a.status == 206);
  CHECK(a.in_memory);
  CHECK(a.body == mid.substr(70000, 10));
  // The bytes are held, not read from the disk again: a file removed within the second is
  // still served whole, as it was.
  std::filesystem::remove(root.path() + "/mid.bin");
  a = serve(files, "/mid.bin", 1500);
  CHECK(a.body == mid);
  // Once looked at again, it is gone.
  CHECK(serve(files, "/mid.bin", 3000).status == 404);
}

TEST_CASE("static_files keeps at most max_memory_files memfds, and holds the rest as strings",
          "[static_files]") {
  temporary_directory root("kiln-static-unit");
  constexpr std::size_t count = file_cache::max_memory_files + 2;
  for (std::size_t i = 0; i < count; ++i)
    root.write("f" + std::to_string(i), std::string(64 * 1024, static_cast<char>('a' + i % 26)));
  static_files files({root.path()});
  for (std::size_t i = 0; i < count; ++i) {
    INFO("file " << i);
    auto a = serve(files, "/f" + std::to_string(i));
    CHECK(a.status == 200);
    CHECK(a.body == std::string(64 * 1024, static_cast<char>('a' + i % 26)));
    CHECK(a.in_memory == (i < file_cache::max_memory_files));
    CHECK(a.streamed == (i < file_cache::max_memory_files));
  }
}

TEST_CASE("static_files: out of descriptors is a 503 with Retry-After, never a 404",
          "[static_files]") {
  temporary_directory root("kiln-static-unit");
  root.write("index.html", "home");
  root.write("app.js", "code");
  static_files files({root.path(), true});  // With the SPA fallback, which must not hide it.
  CHECK(serve(files, "/index.html").status == 200);
  // Every descriptor the limit allows taken: the next open fails with EMFILE.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = 256;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    taken.push_back(fd);
  REQUIRE(errno == EMFILE);
  auto a = serve(files, "/app.js", 5000);
  auto page = serve(files, "/books/2", 5000, {{"Accept", "text/html"}});
  for (int fd : taken)
    ::close(fd);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(a.status == 503);
  CHECK(has_header(a, "Retry-After: 1"));
  CHECK(page.status == 503);
  // With descriptors again, the same requests are answered.
  CHECK(serve(files, "/app.js", 6000).body == "code");
}

}  // namespace kiln::test
