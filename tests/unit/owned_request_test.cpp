#include "owned_request.hpp"

#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("an owned request outlives the buffer its request pointed into", "[owned_request]") {
  std::string buffer = "POST /a?b=1 HTTP/1.1 Host example.com 127.0.0.1:5 127.0.0.1:80 id7";
  request req;
  std::string_view text = buffer;
  req.method = text.substr(0, 4);
  req.target = text.substr(5, 6);
  req.path = text.substr(5, 2);
  req.query = text.substr(8, 3);
  req.headers = {{text.substr(21, 4), text.substr(26, 11)}};
  req.peer = text.substr(38, 11);
  req.server = text.substr(50, 12);
  req.request_id = text.substr(63, 3);
  req.version_minor = 0;
  req.keep_alive = false;
  req.body = "the body";

  owned_request owned(req);
  buffer.assign(buffer.size(), 'X');  // The connection reuses its buffer at once.
  const request& copy = owned.req;
  CHECK(copy.method == "POST");
  CHECK(copy.target == "/a?b=1");
  CHECK(copy.path == "/a");
  CHECK(copy.query == "b=1");
  REQUIRE(copy.headers.size() == 1);
  CHECK(copy.headers[0].name == "Host");
  CHECK(copy.headers[0].value == "example.com");
  CHECK(copy.peer == "127.0.0.1:5");
  CHECK(copy.server == "127.0.0.1:80");
  CHECK(copy.request_id == "id7");
  CHECK(copy.version_minor == 0);
  CHECK_FALSE(copy.keep_alive);
  // The body is moved, not copied: a large upload is not held twice.
  CHECK(copy.body == "the body");
  CHECK(req.body.empty());
  // One allocation holds every view.
  CHECK(owned.bytes.size() == 4 + 6 + 2 + 3 + 4 + 11 + 11 + 12 + 3);
}

}  // namespace kiln::test
