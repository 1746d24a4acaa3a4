// A kiln application for the integration tests: handlers that misbehave on purpose, and one
// that reports what it was given.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include <kiln/kiln.hpp>

int main(int argc, char** argv) {
  kiln::app app;
  app.get("/throw",
          [](const kiln::request&) -> kiln::response { throw std::runtime_error("boom"); });
  app.get("/throw-other", [](const kiln::request&) -> kiln::response { throw 42; });
  app.get("/http-error", [](const kiln::request&) -> kiln::response {
    throw kiln::http_error(418, "short and stout");
  });
  app.get("/http-error-100", [](const kiln::request&) -> kiln::response {
    throw kiln::http_error(100, "not an error status");
  });
  app.get("/bad-header", [](const kiln::request&) {
    kiln::response response = kiln::response::text("split");
    response.headers.emplace_back("X-Split", "a\r\nInjected: yes");
    return response;
  });
  app.get("/block/{seconds}", [](const kiln::request& req) {
    // Blocks the worker's loop: what the master's timeout is for.
    std::this_thread::sleep_for(
        std::chrono::seconds(std::stoi(std::string(*req.param("seconds")))));
    return kiln::response::text("slept");
  });
  app.get("/exhaust-memory", [](const kiln::request&) {
    // More than any machine has: the allocation fails, as it does when memory runs out.
    std::size_t too_much = std::size_t{1} << 46;
    auto bytes = std::make_unique<char[]>(too_much);
    bytes[too_much - 1] = 'x';
    return kiln::response::text(std::string(1, bytes[too_much - 1]));
  });
  app.route("POST", "/echo/{name}", [](const kiln::request& req) {
    return kiln::response::json({{"method", req.method},
                                 {"path", req.path},
                                 {"query", req.query},
                                 {"name", *req.param("name")},
                                 {"body", req.body},
                                 {"peer", req.peer},
                                 {"request_id", req.request_id},
                                 {"x_test", req.header_value("X-Test").value_or("")}});
  });
  app.put("/echo/{name}",
          [](const kiln::request& req) { return kiln::response::json(req.json(), 200); });
  return kiln::run(app, argc, argv);
}
