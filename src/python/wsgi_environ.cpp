#include "python/wsgi_environ.hpp"

#include <array>

#include "http_syntax.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_objects.hpp"

namespace kiln::python {
namespace {

// The keys every environ has, made once: an interned str is found in a dict by its pointer.
struct environ_keys {
  py_ref request_method = own(PyUnicode_InternFromString("REQUEST_METHOD"));
  py_ref script_name = own(PyUnicode_InternFromString("SCRIPT_NAME"));
  py_ref path_info = own(PyUnicode_InternFromString("PATH_INFO"));
  py_ref query_string = own(PyUnicode_InternFromString("QUERY_STRING"));
  py_ref raw_uri = own(PyUnicode_InternFromString("RAW_URI"));
  py_ref server_protocol = own(PyUnicode_InternFromString("SERVER_PROTOCOL"));
  py_ref server_name = own(PyUnicode_InternFromString("SERVER_NAME"));
  py_ref server_port = own(PyUnicode_InternFromString("SERVER_PORT"));
  py_ref remote_addr = own(PyUnicode_InternFromString("REMOTE_ADDR"));
  py_ref remote_port = own(PyUnicode_InternFromString("REMOTE_PORT"));
  py_ref content_type = own(PyUnicode_InternFromString("CONTENT_TYPE"));
  py_ref content_length = own(PyUnicode_InternFromString("CONTENT_LENGTH"));
  py_ref http_host = own(PyUnicode_InternFromString("HTTP_HOST"));
  py_ref wsgi_input = own(PyUnicode_InternFromString("wsgi.input"));
  py_ref url_scheme = own(PyUnicode_InternFromString("wsgi.url_scheme"));
  py_ref https = own(PyUnicode_InternFromString("https"));
  py_ref http_1_1 = own(PyUnicode_InternFromString("HTTP/1.1"));
  py_ref http_1_0 = own(PyUnicode_InternFromString("HTTP/1.0"));
  py_ref get = own(PyUnicode_InternFromString("GET"));
  py_ref post = own(PyUnicode_InternFromString("POST"));
  py_ref empty = own(PyUnicode_InternFromString(""));
};
environ_keys* keys = nullptr;

// Request bytes as a str, one code point per byte: PEP 3333's "bytes as latin-1".
py_ref latin1(std::string_view bytes) {
  return own(PyUnicode_DecodeLatin1(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr));
}

bool set(PyObject* environ, PyObject* key, py_ref value) {
  return value && PyDict_SetItem(environ, key, value.get()) == 0;
}

// "127.0.0.1:8000", "[::1]:8000", "example.com" as host and port (empty when there is none).
std::pair<std::string_view, std::string_view> split_address(std::string_view address) {
  if (address.starts_with('[')) {
    auto close = address.find(']');
    if (close == std::string_view::npos) return {address, {}};
    std::string_view rest = address.substr(close + 1);
    return {address.substr(1, close - 1),
            rest.starts_with(':') ? rest.substr(1) : rest.substr(0, 0)};
  }
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return {address, {}};
  return {address.substr(0, colon), address.substr(colon + 1)};
}

// The authority of an absolute-form target ("http://example.com:8080/x" gives
// "example.com:8080"), which stands for Host (RFC 9112, 3.2.2); empty for other forms.
std::string_view target_authority(std::string_view target) {
  auto scheme_end = target.find("://");
  if (target.starts_with('/') || scheme_end == std::string_view::npos) return {};
  std::string_view rest = target.substr(scheme_end + 3);
  return rest.substr(0, rest.find_first_of("/?"));
}

}  // namespace

environ_builder::environ_builder(const settings& config, bool multithread, bool multiprocess)
    : root_path_(config.root_path) {
  if (keys == nullptr) keys = new environ_keys();
  if (!init_wsgi_objects()) {
    throw app_load_error("cannot make the WSGI objects:\n" + formatted_exception());
  }
  base_ = own(PyDict_New());
  py_ref version = own(Py_BuildValue("(ii)", 1, 0));
  py_ref errors = make_errors();
  bool made = base_ && version && errors &&
              PyDict_SetItemString(base_.get(), "wsgi.version", version.get()) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.url_scheme", latin1("http").get()) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.errors", errors.get()) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.multithread",
                                   multithread ? Py_True : Py_False) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.multiprocess",
                                   multiprocess ? Py_True : Py_False) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.run_once", Py_False) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.input_terminated", Py_True) == 0 &&
              PyDict_SetItemString(base_.get(), "wsgi.file_wrapper", file_wrapper_type()) == 0 &&
              PyDict_SetItemString(base_.get(), "SERVER_SOFTWARE",
                                   latin1("kiln/" KILN_VERSION).get()) == 0 &&
              PyDict_SetItem(base_.get(), keys->script_name.get(), latin1(root_path_).get()) == 0;
  if (!made) throw app_load_error("cannot make the WSGI environ:\n" + formatted_exception());
}

environ_builder::~environ_builder() = default;

py_ref environ_builder::header_key(std::string_view name) {
  std::string lower(name);
  for (char& c : lower)
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (auto found = header_keys_.find(lower); found != header_keys_.end()) {
    return share(found->second.get());
  }
  std::string key = "HTTP_";
  for (char c : lower)
    key.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  py_ref made = own(PyUnicode_InternFromString(key.c_str()));
  // Names seen often are kept; a client sending ever new names cannot grow the table for good.
  if (made && header_keys_.size() < 512) header_keys_.emplace(std::move(lower), share(made.get()));
  return made;
}

py_ref environ_builder::build(const owned_request& request) {
  const auto& req = request.req;
  py_ref environ = own(PyDict_Copy(base_.get()));
  if (!environ) return nullptr;
  PyObject* e = environ.get();

  py_ref method = req.method == "GET"    ? share(keys->get.get())
                  : req.method == "POST" ? share(keys->post.get())
                                         : latin1(req.method);
  std::string decoded;
  std::string_view path = req.path;
  if (percent_decode(path, decoded)) path = decoded;  // A malformed escape stays as sent.
  if (!root_path_.empty() && path.starts_with(root_path_) &&
      (path.size() == root_path_.size() || path[root_path_.size()] == '/')) {
    path.remove_prefix(root_path_.size());
  }
  auto [server_host, server_port] = split_address(req.server);
  auto [peer_host, peer_port] = split_address(req.peer);
  bool unix_socket = req.server == "-";
  // The client behind trusted proxies. The port kiln knows is the peer's: said only when the
  // client is the peer.
  std::string_view remote_host = req.client;
  bool client_is_peer = req.client == peer_host;
  if (!set(e, keys->request_method.get(), std::move(method)) ||
      !set(e, keys->path_info.get(), latin1(path)) ||
      !set(e, keys->query_string.get(), latin1(req.query)) ||
      !set(e, keys->raw_uri.get(), latin1(req.target)) ||
      !set(e, keys->server_protocol.get(),
           share(req.version_minor == 0 ? keys->http_1_0.get() : keys->http_1_1.get())) ||
      !set(e, keys->remote_addr.get(), latin1(remote_host)) ||
      (client_is_peer && !set(e, keys->remote_port.get(), latin1(peer_port))) ||
      !set(e, keys->wsgi_input.get(), make_input(req.body))) {
    return nullptr;
  }
  if (req.scheme == "https" && !set(e, keys->url_scheme.get(), share(keys->https.get()))) {
    return nullptr;
  }
  bool has_length = !req.body.empty();
  for (const auto& field : req.headers) {
    py_ref key;
    if (iequals(field.name, "content-type")) {
      key = share(keys->content_type.get());
    } else if (iequals(field.name, "content-length") || iequals(field.name, "transfer-encoding")) {
      has_length = true;  // Said below, as the body's real length.
      continue;
    } else if (field.name.find('_') != std::string_view::npos) {
      continue;
    } else {
      key = header_key(field.name);
    }
    if (!key) return nullptr;
    py_ref value = latin1(field.value);
    if (!value) return nullptr;
    if (PyObject* earlier = PyDict_GetItemWithError(e, key.get())) {
      // A repeated field is one list (RFC 9110, 5.3); cookies are joined as user agents do.
      bool cookie = iequals(field.name, "cookie");
      py_ref separator = latin1(cookie ? "; " : ",");
      py_ref joined = separator ? own(PyUnicode_Concat(earlier, separator.get())) : nullptr;
      value = joined ? own(PyUnicode_Concat(joined.get(), value.get())) : nullptr;
      if (!value) return nullptr;
    } else if (PyErr_Occurred()) {
      return nullptr;
    }
    if (PyDict_SetItem(e, key.get(), value.get()) != 0) return nullptr;
  }
  if (has_length &&
      !set(e, keys->content_length.get(), own(PyUnicode_FromFormat("%zu", req.body.size())))) {
    return nullptr;
  }
  // The Host of an absolute-form target is its authority, whatever the Host field says.
  if (auto authority = target_authority(req.target); !authority.empty()) {
    if (!set(e, keys->http_host.get(), latin1(authority))) return nullptr;
  }
  if (unix_socket) {
    // No address to tell: the Host the client named, as gunicorn does.
    PyObject* host = PyDict_GetItemWithError(e, keys->http_host.get());
    std::string host_text;
    if (host != nullptr) {
      if (const char* text = PyUnicode_AsUTF8(host)) host_text = text;
    }
    auto [name, port] = split_address(host_text);
    server_host = name.empty() ? std::string_view("localhost") : name;
    server_port = port.empty() ? std::string_view("80") : port;
    if (!set(e, keys->server_name.get(), latin1(server_host)) ||
        !set(e, keys->server_port.get(), latin1(server_port))) {
      return nullptr;
    }
    return environ;
  }
  if (!set(e, keys->server_name.get(), latin1(server_host)) ||
      !set(e, keys->server_port.get(), latin1(server_port))) {
    return nullptr;
  }
  return environ;
}

}  // namespace kiln::python
