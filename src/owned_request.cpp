#include "owned_request.hpp"

#include <utility>

namespace kiln {

owned_request::owned_request(request& from) {
  request& to = req;
  to.headers.resize(from.headers.size());
  // Every view, in one walk, done twice: once to size the copy, once to make it.
  auto each_view = [&](auto visit) {
    visit(to.method, from.method);
    visit(to.target, from.target);
    visit(to.path, from.path);
    visit(to.query, from.query);
    visit(to.peer, from.peer);
    visit(to.server, from.server);
    visit(to.request_id, from.request_id);
    visit(to.client, from.client);
    for (std::size_t i = 0; i < from.headers.size(); ++i) {
      visit(to.headers[i].name, from.headers[i].name);
      visit(to.headers[i].value, from.headers[i].value);
    }
  };
  std::size_t size = 0;
  each_view([&](std::string_view&, std::string_view view) { size += view.size(); });
  bytes.reserve(size);
  each_view([&](std::string_view& copy, std::string_view view) {
    std::size_t at = bytes.size();
    bytes.append(view);
    copy = std::string_view(bytes).substr(at, view.size());
  });
  to.scheme = from.scheme;  // A literal: "http" or "https".
  to.version_major = from.version_major;
  to.version_minor = from.version_minor;
  to.keep_alive = from.keep_alive;
  to.expects_continue = from.expects_continue;
  to.body = std::move(from.body);
  from.body.clear();
}

}  // namespace kiln
