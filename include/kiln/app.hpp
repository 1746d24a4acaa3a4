#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <kiln/request.hpp>
#include <kiln/response.hpp>

namespace kiln {

// A request handler. It runs on a worker's event loop: it must not block for long (the master's
// timeout kills a worker whose loop stops), and what it throws becomes a 500 and a log line. An
// allocation that fails ends the worker, which the master replaces: std::bad_alloc never reaches
// a handler.
using handler = std::function<response(const request&)>;

// An application: routes from a method and a path pattern to handlers. A pattern is literal
// segments and parameters in braces: "/api/books/{id}". The first route that matches wins.
class app {
 public:
  app& route(std::string method, std::string pattern, handler function);
  app& get(std::string pattern, handler function) {
    return route("GET", std::move(pattern), std::move(function));
  }
  app& post(std::string pattern, handler function) {
    return route("POST", std::move(pattern), std::move(function));
  }
  app& put(std::string pattern, handler function) {
    return route("PUT", std::move(pattern), std::move(function));
  }
  app& patch(std::string pattern, handler function) {
    return route("PATCH", std::move(pattern), std::move(function));
  }
  app& del(std::string pattern, handler function) {
    return route("DELETE", std::move(pattern), std::move(function));
  }

  // What a request's method and path select.
  struct match {
    const handler* function = nullptr;  // nullptr: no route for this method and path.
    std::string allow;  // When the path matches routes of other methods only: "GET, POST".
  };
  // Finds the route; fills params with the pattern's parameters, percent-decoded. A GET route
  // also answers HEAD.
  match find(std::string_view method, std::string_view path,
             std::vector<std::pair<std::string_view, std::string>>& params) const;

  bool empty() const noexcept { return routes_.empty(); }

 private:
  struct route_entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "api", "books", "{id}".
    handler function;
  };
  std::vector<route_entry> routes_;
};

// Runs kiln with this application: the command line, configuration, master and workers, static
// files and health endpoints, exactly as the stock kiln binary (which is an app with no routes).
// Returns the process exit status. Call it from main(): it rewrites the process title in argv.
int run(const app& application, int argc, char** argv);

}  // namespace kiln
