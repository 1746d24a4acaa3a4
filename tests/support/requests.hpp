#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include <kiln/request.hpp>

namespace kiln::test {

// A request as the parser would hand it over, for code that takes one: method, path (the
// target too) and headers; the views point into the caller's strings.
inline request make_request(std::string_view method, std::string_view path,
                            std::vector<header> headers = {}) {
  request req;
  req.method = method;
  req.target = path;
  req.path = path;
  req.headers = std::move(headers);
  return req;
}

}  // namespace kiln::test
