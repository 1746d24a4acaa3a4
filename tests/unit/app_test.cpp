#include <stdexcept>

#include <catch2/catch.hpp>

#include <kiln/app.hpp>

namespace kiln::test {
namespace {

// A handler that names itself in its body, so that a test sees which route was chosen.
handler named(std::string name) {
  return [name](const request&) { return response::text(name); };
}

struct found {
  std::string route;  // The chosen handler's name, or "" when none was.
  std::string allow;
  std::vector<std::pair<std::string, std::string>> params;
};

found find(const app& routes, std::string_view method, std::string_view path) {
  std::vector<std::pair<std::string_view, std::string>> params{{"stale", "from before"}};
  auto match = routes.find(method, path, params);
  found result;
  if (match.function != nullptr) {
    result.route = (*match.function)(request{}).body;
  } else {
    CHECK(params.empty());
  }
  result.allow = match.allow;
  for (const auto& [name, value] : params)
    result.params.emplace_back(name, value);
  return result;
}

using param_list = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("app::find: literal routes", "[app]") {
  app routes;
  routes.get("/", named("root"));
  routes.get("/api/books", named("books"));
  routes.get("/api/books/new", named("new book"));
  routes.post("/api/books", named("create"));

  CHECK(find(routes, "GET", "/").route == "root");
  CHECK(find(routes, "GET", "/api/books").route == "books");
  CHECK(find(routes, "GET", "/api/books/new").route == "new book");
  CHECK(find(routes, "POST", "/api/books").route == "create");
  // Percent-encoded literal segments match their decoded form.
  CHECK(find(routes, "GET", "/api/b%6Foks").route == "books");
  // No route: nothing chosen, nothing allowed.
  for (const char* path : {"/api", "/api/book", "/api/books/new/x", "/API/books", "/other"}) {
    INFO(path);
    auto f = find(routes, "GET", path);
    CHECK(f.route.empty());
    CHECK(f.allow.empty());
  }
  // Methods are case-sensitive.
  CHECK(find(routes, "get", "/api/books").route.empty());
}

TEST_CASE("app::find: parameters are captured and decoded", "[app]") {
  app routes;
  routes.get("/api/books/{id}", named("book"));
  routes.get("/api/books/{id}/chapters/{chapter}", named("chapter"));
  routes.get("/files/{name}", named("file"));

  auto f = find(routes, "GET", "/api/books/7");
  CHECK(f.route == "book");
  CHECK(f.params == param_list{{"id", "7"}});

  f = find(routes, "GET", "/api/books/a%20b");
  CHECK(f.route == "book");
  CHECK(f.params == param_list{{"id", "a b"}});

  f = find(routes, "GET", "/api/books/42/chapters/x%2Fy");
  CHECK(f.route == "chapter");
  CHECK(f.params == param_list{{"id", "42"}, {"chapter", "x/y"}});

  f = find(routes, "GET", "/files/caf%C3%A9+1");
  CHECK(f.params == param_list{{"name", "caf\xC3\xA9+1"}});

  // A malformed escape matches nothing.
  for (const char* path : {"/api/books/%zz", "/api/books/%4", "/api/books/a%"}) {
    INFO(path);
    CHECK(find(routes, "GET", path).route.empty());
  }
}

TEST_CASE("app::find: empty parameter segments do not match", "[app]") {
  app routes;
  routes.get("/api/books/{id}", named("book"));
  routes.get("/api/books/{id}/chapters/{chapter}", named("chapter"));
  CHECK(find(routes, "GET", "/api/books/").route.empty());
  CHECK(find(routes, "GET", "/api/books//chapters/1").route.empty());
  CHECK(find(routes, "GET", "/api/books/1/chapters/").route.empty());
  CHECK(find(routes, "POST", "/api/books/").allow.empty());
}

TEST_CASE("app::find: a trailing slash is part of the path", "[app]") {
  app routes;
  routes.get("/api/books", named("books"));
  routes.get("/docs/", named("docs"));
  CHECK(find(routes, "GET", "/api/books").route == "books");
  CHECK(find(routes, "GET", "/api/books/").route.empty());
  CHECK(find(routes, "GET", "/docs/").route == "docs");
  CHECK(find(routes, "GET", "/docs").route.empty());
  CHECK(find(routes, "GET", "//api/books").route.empty());
}

TEST_CASE("app::find: HEAD is answered by GET routes", "[app]") {
  app routes;
  routes.get("/a", named("get a"));
  routes.route("HEAD", "/b", named("head b"));
  routes.get("/b", named("get b"));
  CHECK(find(routes, "HEAD", "/a").route == "get a");
  CHECK(find(routes, "HEAD", "/b").route == "head b");
  CHECK(find(routes, "GET", "/b").route == "get b");
}

TEST_CASE("app::find: the first matching route wins", "[app]") {
  app routes;
  routes.get("/api/books/new", named("literal"));
  routes.get("/api/books/{id}", named("parameter"));
  routes.get("/api/{collection}/{id}", named("generic"));
  routes.get("/api/books/{id}", named("shadowed"));
  CHECK(find(routes, "GET", "/api/books/new").route == "literal");
  CHECK(find(routes, "GET", "/api/books/7").route == "parameter");
  auto f = find(routes, "GET", "/api/authors/7");
  CHECK(f.route == "generic");
  CHECK(f.params == param_list{{"collection", "authors"}, {"id", "7"}});

  app reversed;
  reversed.get("/api/books/{id}", named("parameter"));
  reversed.get("/api/books/new", named("literal"));
  CHECK(find(reversed, "GET", "/api/books/new").route == "parameter");
}

TEST_CASE("app::find: a path served for other methods only gets their Allow list", "[app]") {
  app routes;
  routes.get("/api/books", named("list"));
  routes.post("/api/books", named("create"));
  routes.get("/api/books/{id}", named("get"));
  routes.put("/api/books/{id}", named("replace"));
  routes.del("/api/books/{id}", named("delete"));
  routes.patch("/api/books/{id}", named("update"));
  routes.post("/api/upload", named("upload"));

  auto f = find(routes, "DELETE", "/api/books");
  CHECK(f.route.empty());
  CHECK(f.allow == "GET, HEAD, POST");

  f = find(routes, "POST", "/api/books/7");
  CHECK(f.route.empty());
  CHECK(f.allow == "GET, HEAD, PUT, DELETE, PATCH");

  f = find(routes, "GET", "/api/upload");
  CHECK(f.route.empty());
  CHECK(f.allow == "POST");
  f = find(routes, "HEAD", "/api/upload");
  CHECK(f.allow == "POST");

  // A match for the method itself leaves no Allow behind.
  f = find(routes, "PUT", "/api/books/7");
  CHECK(f.route == "replace");
  CHECK(f.allow.empty());
  CHECK(f.params == param_list{{"id", "7"}});
}

TEST_CASE("app::find: each method appears once in Allow", "[app]") {
  app routes;
  routes.route("HEAD", "/x", named("head"));
  routes.get("/x", named("get"));
  routes.post("/x", named("post"));
  routes.post("/{any}", named("post any"));
  routes.route("PROPPATCH", "/x", named("proppatch"));
  routes.patch("/x", named("patch"));
  CHECK(find(routes, "DELETE", "/x").allow == "HEAD, GET, POST, PROPPATCH, PATCH");
}

TEST_CASE("app::route: patterns must start with /", "[app]") {
  app routes;
  CHECK(routes.empty());
  CHECK_THROWS_AS(routes.get("", named("x")), std::invalid_argument);
  CHECK_THROWS_AS(routes.get("api/books", named("x")), std::invalid_argument);
  CHECK_THROWS_AS(routes.post("{id}", named("x")), std::invalid_argument);
  CHECK_THROWS_AS(routes.route("GET", "*", named("x")), std::invalid_argument);
  CHECK(routes.empty());
  CHECK_NOTHROW(routes.get("/", named("x")));
  CHECK_FALSE(routes.empty());
  // An empty app matches nothing.
  app none;
  CHECK(find(none, "GET", "/").route.empty());
  CHECK(find(none, "GET", "/").allow.empty());
}

TEST_CASE("response::set_header refuses what could split a response", "[app]") {
  response r;
  CHECK_NOTHROW(r.set_header("X-Request-Id", "abc 123\tdef"));
  CHECK_NOTHROW(r.set_header("x!#$%&'*+-.^_`|~0", "v"));
  CHECK_NOTHROW(r.set_header("Empty", ""));
  REQUIRE(r.headers.size() == 3);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"X-Request-Id", "abc 123\tdef"});

  for (std::string value : {std::string("a\r\nSet-Cookie: x=1"), std::string("a\rb"),
                            std::string("a\nb"), std::string("a\0b", 3), std::string("\r\n")}) {
    INFO(value);
    CHECK_THROWS_AS(r.set_header("X-Value", value), std::invalid_argument);
  }
  for (std::string name : std::vector<std::string>{"",
                                                   "X Header",
                                                   "X:Header",
                                                   "X-Header:",
                                                   "X\r\nInjected",
                                                   "X\nY",
                                                   std::string("X\0Y", 3),
                                                   "X(Y)",
                                                   "X/Y",
                                                   "X\"Y",
                                                   "X@Y",
                                                   "X\tY",
                                                   "Caf\xC3\xA9",
                                                   "X[]",
                                                   "X{}",
                                                   "X;Y",
                                                   "X=Y",
                                                   "X,Y",
                                                   "X?Y",
                                                   "X\\Y"}) {
    INFO(name);
    CHECK_THROWS_AS(r.set_header(name, "v"), std::invalid_argument);
  }
  CHECK(r.headers.size() == 3);
}

TEST_CASE("response helpers set status, type and body", "[app]") {
  auto j = response::json({{"id", 7}, {"title", "Dune"}});
  CHECK(j.status == 200);
  CHECK(j.headers ==
        std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"}});
  CHECK(nlohmann::json::parse(j.body) == nlohmann::json{{"id", 7}, {"title", "Dune"}});
  CHECK(response::json(nlohmann::json::array(), 201).status == 201);
  CHECK(response::json(nlohmann::json::array(), 201).body == "[]");

  auto t = response::text("hello", 418);
  CHECK(t.status == 418);
  CHECK(t.body == "hello");
  CHECK(t.headers == std::vector<std::pair<std::string, std::string>>{
                         {"Content-Type", "text/plain; charset=utf-8"}});

  auto e = response::empty();
  CHECK(e.status == 204);
  CHECK(e.body.empty());
  CHECK(e.headers.empty());
}

TEST_CASE("request::json parses the body or throws http_error 400", "[app]") {
  request req;
  req.body = R"({"title": "Dune", "year": 1965})";
  CHECK(req.json()["year"] == 1965);

  for (std::string body : {"", "{", "not json", "{\"a\": }", "[1, 2", "{'a': 1}", "\x80\x81"}) {
    INFO(body);
    req.body = body;
    try {
      (void)req.json();
      FAIL("no exception");
    } catch (const http_error& error) {
      CHECK(error.status() == 400);
      CHECK(std::string(error.what()).find("not JSON") != std::string::npos);
    }
  }
}

TEST_CASE("request accessors: headers without case, parameters by name", "[app]") {
  request req;
  req.headers = {{"Content-Type", "text/plain"}, {"X-Twice", "1"}, {"x-twice", "2"}};
  CHECK(req.header_value("content-type") == "text/plain");
  CHECK(req.header_value("X-TWICE") == "1");
  CHECK_FALSE(req.header_value("Accept"));
  req.params = {{"id", "7"}, {"name", "a b"}};
  CHECK(req.param("id") == "7");
  CHECK(req.param("name") == "a b");
  CHECK_FALSE(req.param("ID"));
}

}  // namespace kiln::test
