#include "owned_request.hpp"

#include <algorithm>
#include <functional>

namespace kiln {

std::unique_ptr<owned_request> take_request(request& req) {
  auto copy = std::make_unique<owned_request>();
  request& to = copy->req;
  // Every view, in one list, so that sizing, copying and pointing are the same walk.
  std::vector<std::pair<std::string_view*, std::string_view>> views = {
      {&to.method, req.method},        {&to.target, req.target}, {&to.path, req.path},
      {&to.query, req.query},          {&to.peer, req.peer},     {&to.server, req.server},
      {&to.request_id, req.request_id}};
  to.headers.resize(req.headers.size());
  for (std::size_t i = 0; i < req.headers.size(); ++i) {
    views.emplace_back(&to.headers[i].name, req.headers[i].name);
    views.emplace_back(&to.headers[i].value, req.headers[i].value);
  }
  std::size_t size = 0;
  for (const auto& [target, view] : views)
    size += view.size();
  copy->bytes.reserve(size);
  for (const auto& [target, view] : views) {
    std::size_t at = copy->bytes.size();
    copy->bytes.append(view);
    *target = std::string_view(copy->bytes).substr(at, view.size());
  }
  to.version_major = req.version_major;
  to.version_minor = req.version_minor;
  to.keep_alive = req.keep_alive;
  to.expects_continue = req.expects_continue;
  to.body = std::move(req.body);
  req.body.clear();
  return copy;
}

}  // namespace kiln
