#pragma once

#include <string>
#include <unordered_map>

#include "owned_request.hpp"
#include "python/py_ref.hpp"
#include "settings.hpp"

namespace kiln::python {

// Builds PEP 3333 environ dicts. What every request shares is made once, in a base dict that
// each request's environ starts as a copy of; the keys are made once too, for the fixed ones
// and for header names as they are seen. Needs the GIL throughout.
//
// Per request: REQUEST_METHOD, SCRIPT_NAME (root_path) and PATH_INFO (percent-decoded, as
// latin-1, root_path taken off), QUERY_STRING and RAW_URI as sent, SERVER_PROTOCOL,
// SERVER_NAME and SERVER_PORT (the address the client reached), REMOTE_ADDR and REMOTE_PORT,
// CONTENT_TYPE and CONTENT_LENGTH (the body's real length, also for a chunked one), every other
// header as HTTP_NAME with repeats joined by "," ("; " for Cookie), and wsgi.input. Headers
// whose names hold '_' are dropped: after the mapping they could pass for others.
class environ_builder {
 public:
  // Throws app_load_error when the shared objects cannot be made.
  environ_builder(const settings& config, bool multithread, bool multiprocess);
  ~environ_builder();
  environ_builder(const environ_builder&) = delete;
  environ_builder& operator=(const environ_builder&) = delete;

  // A new environ for the request; nullptr with a Python exception set.
  py_ref build(const owned_request& request);

 private:
  py_ref header_key(std::string_view name);

  std::string root_path_;
  py_ref base_;
  std::unordered_map<std::string, py_ref> header_keys_;  // "user-agent" -> "HTTP_USER_AGENT"
};

}  // namespace kiln::python
