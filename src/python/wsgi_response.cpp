#include "python/wsgi_response.hpp"

#include <charconv>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http_syntax.hpp"
#include "python/hooks.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_objects.hpp"
#include "response_head.hpp"
#include "scoreboard.hpp"

namespace kiln::python {
namespace {

// The Python face of a wsgi_response: start_response itself, and the write() it returns. It
// outlives its request when the app keeps it; then it only raises.
struct start_response_object {
  PyObject_HEAD wsgi_response* owner;
};

PyTypeObject* start_response_type = nullptr;

wsgi_response* owner_of(PyObject* object) {
  auto* owner = reinterpret_cast<start_response_object*>(object)->owner;
  if (owner == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "start_response used after its request ended");
  }
  return owner;
}

PyObject* start_response_call(PyObject* object, PyObject* args, PyObject* keywords) {
  // start_response(status, headers, exc_info=None), read by hand: it is called for every
  // request, and the general argument parser costs more than the rest of the call.
  Py_ssize_t count = PyTuple_GET_SIZE(args);
  PyObject* exc_info = count == 3 ? PyTuple_GET_ITEM(args, 2) : Py_None;
  if (keywords != nullptr && PyDict_GET_SIZE(keywords) > 0) {
    PyObject* given = PyDict_GetItemString(keywords, "exc_info");
    if (given == nullptr || PyDict_GET_SIZE(keywords) > 1 || count == 3) {
      PyErr_SetString(PyExc_TypeError, "start_response takes status, headers and exc_info");
      return nullptr;
    }
    exc_info = given;
  }
  if (count < 2 || count > 3) {
    PyErr_SetString(PyExc_TypeError, "start_response takes status, headers and exc_info");
    return nullptr;
  }
  wsgi_response* owner = owner_of(object);
  return owner != nullptr
             ? owner->start_response(PyTuple_GET_ITEM(args, 0), PyTuple_GET_ITEM(args, 1), exc_info)
             : nullptr;
}

PyObject* start_response_write(PyObject* object, PyObject* data) {
  wsgi_response* owner = owner_of(object);
  return owner != nullptr ? owner->write(data) : nullptr;
}

void start_response_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  type->tp_free(object);
  Py_DECREF(type);
}

PyMethodDef start_response_methods[] = {
    {"write", start_response_write, METH_O, "write(data): body bytes, sent now"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot start_response_slots[] = {
    {Py_tp_call, reinterpret_cast<void*>(start_response_call)},
    {Py_tp_dealloc, reinterpret_cast<void*>(start_response_dealloc)},
    {Py_tp_methods, start_response_methods},
    {Py_tp_doc, const_cast<char*>("start_response(status, headers, exc_info=None)")},
    {0, nullptr},
};

PyType_Spec start_response_spec = {"kiln.StartResponse", sizeof(start_response_object), 0,
                                   Py_TPFLAGS_DEFAULT, start_response_slots};

// Hop-by-hop fields concern one connection, which kiln manages; an app must not send them
// (PEP 3333).
bool is_hop_by_hop(std::string_view name) noexcept {
  for (std::string_view hop :
       {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "trailers", "transfer-encoding", "upgrade"}) {
    if (iequals(name, hop)) return true;
  }
  return false;
}

// Raises ValueError with a message made in C++ (Python's own formatting has no "%.*s").
template <typename... Arguments>
PyObject* value_error(fmt::format_string<Arguments...> format, Arguments&&... arguments) {
  std::string message = fmt::format(format, std::forward<Arguments>(arguments)...);
  PyErr_SetString(PyExc_ValueError, message.c_str());
  return nullptr;
}

// A str's latin-1 bytes (PEP 3333's "native strings"); false with an exception for others.
bool latin1_of(PyObject* text, const char* what, std::string& out) {
  if (!PyUnicode_Check(text)) {
    PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(text)->tp_name);
    return false;
  }
  py_ref bytes = own(PyUnicode_AsLatin1String(text));
  if (!bytes) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s must be latin-1 text: %R", what, text);
    return false;
  }
  out.assign(PyBytes_AS_STRING(bytes.get()),
             static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get())));
  return true;
}

// A response body piece: bytes, nothing else (PEP 3333).
bool bytes_of(PyObject* piece, std::string_view& out) {
  if (!PyBytes_Check(piece)) {
    PyErr_Format(PyExc_TypeError, "the app's body must be bytes, not %.100s",
                 Py_TYPE(piece)->tp_name);
    return false;
  }
  out = {PyBytes_AS_STRING(piece), static_cast<std::size_t>(PyBytes_GET_SIZE(piece))};
  return true;
}

PyObject* close_name = nullptr;  // "close", interned.

PyObject* write_name() {
  static PyObject* name = PyUnicode_InternFromString("write");
  return name;
}

// Calls close() on what the app returned, if it has one; a failure is logged.
void close_result(PyObject* result, const owned_request& request) {
  if (result == nullptr || PyList_CheckExact(result) || PyTuple_CheckExact(result)) return;
  py_ref method = own(PyObject_GetAttr(result, close_name));
  if (!method) {
    PyErr_Clear();  // No close(): nothing to call.
    return;
  }
  py_ref closed = own(PyObject_CallNoArgs(method.get()));
  if (!closed) {
    spdlog::error("{} {}: the response's close() failed:\n{}", request.req.method, request.req.path,
                  formatted_exception());
  }
}

}  // namespace

bool init_wsgi_response() noexcept {
  if (start_response_type != nullptr) return true;
  start_response_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&start_response_spec));
  close_name = PyUnicode_InternFromString("close");
  return start_response_type != nullptr && close_name != nullptr;
}

namespace {

// Each app thread keeps its start_response and write objects from one request to the next when
// nothing else holds them: two objects fewer to make per request. One the app kept is left to
// it, and raises if it is ever called again.
thread_local py_ref spare_start;
thread_local py_ref spare_write;

}  // namespace

void release_thread_objects() noexcept {
  spare_write.reset();
  spare_start.reset();
}

wsgi_response::wsgi_response(exchange& work, bridge& to) noexcept
    : work_(work), bridge_(to), head_request_(work.incoming().req.method == "HEAD") {}

bool wsgi_response::body_allowed() const noexcept {
  return !head_request_ && status_has_body(status_);
}

void wsgi_response::run(PyObject* app, PyObject* environ) noexcept {
  // Kept ones are reused only when this thread's references are their only ones (write holds
  // one to start_response).
  bool reusable = spare_start && spare_write && Py_REFCNT(spare_start.get()) == 2 &&
                  Py_REFCNT(spare_write.get()) == 1;
  if (!reusable) {
    spare_write.reset();
    spare_start =
        own(reinterpret_cast<PyObject*>(PyObject_New(start_response_object, start_response_type)));
    if (spare_start) {
      reinterpret_cast<start_response_object*>(spare_start.get())->owner = nullptr;
      spare_write = own(PyObject_GetAttr(spare_start.get(), write_name()));
    }
  }
  bool hooked = has_request_hooks();
  if (hooked) pre_request(work_.incoming());
  py_ref result;
  if (spare_start && spare_write) {
    auto* callable = reinterpret_cast<start_response_object*>(spare_start.get());
    callable->owner = this;
    writer_ = spare_write.get();
    PyObject* arguments[] = {environ, spare_start.get()};
    result = own(PyObject_Vectorcall(app, arguments, 2, nullptr));
  }
  if (!result || !send_result(result.get())) fail_request();
  // PEP 3333: close() whatever happened, even when the client left midway; before the last
  // message, after which the exchange is the loop's to free.
  close_result(result.get(), work_.incoming());
  if (hooked) post_request(work_.incoming(), environ, status_, reason_, reported_headers_, sent_);
  if (spare_start) reinterpret_cast<start_response_object*>(spare_start.get())->owner = nullptr;
  writer_ = nullptr;
  result.reset();
  work_.working(0);
  bridge_.post(final_ ? std::move(*final_)
                      : outbound{.to = &work_, .last = true, .complete = false});
}

void wsgi_response::post(outbound message) {
  if (message.last) {
    final_ = std::move(message);
  } else {
    bridge_.post(std::move(message));
  }
}

bool wsgi_response::send_result(PyObject* result) {
  if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) return send_sequence(result);
  if (PyObject* file = wrapped_file(result)) {
    if (status_ != 0 && send_file(file)) return true;
    if (PyErr_Occurred()) return false;
  }
  return send_iterable(result);
}

bool wsgi_response::send_sequence(PyObject* sequence) {
  // The usual answer (Flask's, Django's): the whole body at hand, so head and body leave as one
  // message, with a Content-Length of kiln's when the app gave none.
  Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
  PyObject** items = PySequence_Fast_ITEMS(sequence);
  std::string_view only;
  std::string joined;
  for (Py_ssize_t i = 0; i < count; ++i) {
    std::string_view piece;
    if (!bytes_of(items[i], piece)) return false;
    if (count == 1) {
      only = piece;
    } else {
      joined.append(piece);
    }
  }
  std::string_view body = count == 1 ? only : std::string_view(joined);
  if (status_ == 0) {
    PyErr_SetString(PyExc_RuntimeError, "the app returned without calling start_response");
    return false;
  }
  if (!length_ && body_allowed()) length_ = body.size();
  send(body, true);
  return true;
}

bool wsgi_response::send_file(PyObject* file) {
  // sendfile needs the descriptor, and a length: the app's, or what is left of the file.
  py_ref number = own(PyObject_CallMethod(file, "fileno", nullptr));
  if (!number) {
    PyErr_Clear();  // Not a real file (BytesIO): iterated instead.
    return false;
  }
  int fd = PyLong_AsLong(number.get());
  struct stat status {};
  if (fd < 0 || fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    PyErr_Clear();
    return false;
  }
  // From where the file is now: the app may have read or seeked into it. Python's buffered
  // file knows its position better than the descriptor does.
  py_ref told = own(PyObject_CallMethod(file, "tell", nullptr));
  long long position = told ? PyLong_AsLongLong(told.get()) : -1;
  if (position < 0) {
    PyErr_Clear();
    position = lseek(fd, 0, SEEK_CUR);
    if (position < 0) return false;
  }
  auto left = static_cast<std::uint64_t>(std::max<long long>(0, status.st_size - position));
  std::uint64_t length = length_ ? std::min(*length_, left) : left;
  // HEAD gets the length GET would have.
  if (!length_ && status_has_body(status_)) length_ = length;
  int own_fd = ::dup(fd);
  if (own_fd < 0) return false;
  outbound message{.to = &work_,
                   .status = status_,
                   .reason = reason_,
                   .headers = headers_,
                   .length = length_,
                   .file = body_allowed() ? own_fd : -1,
                   .file_offset = static_cast<std::uint64_t>(position),
                   .file_length = length,
                   .last = true};
  if (!body_allowed()) ::close(own_fd);
  head_sent_ = true;
  post(std::move(message));
  return true;
}

bool wsgi_response::send_iterable(PyObject* iterable) {
  py_ref iterator = own(PyObject_GetIter(iterable));
  if (!iterator) return false;
  py_ref piece = own(PyIter_Next(iterator.get()));
  while (piece) {
    std::string_view bytes;
    if (!bytes_of(piece.get(), bytes)) return false;
    py_ref next;
    // PEP 3333: the head waits for the first piece that is not empty (an app may still call
    // start_response with exc_info until then).
    if (bytes.empty() && !head_sent_) {
      piece = own(PyIter_Next(iterator.get()));
      continue;
    }
    if (status_ == 0) {
      PyErr_SetString(PyExc_RuntimeError, "the app sent a body before calling start_response");
      return false;
    }
    work_.working(monotonic_ms());
    // A first piece as long as the app's Content-Length is the whole body (werkzeug's and
    // Django's answers come so): with the end confirmed, head and body leave as one message.
    if (!head_sent_ && length_ && bytes.size() >= *length_) {
      next = own(PyIter_Next(iterator.get()));
      if (!next) {
        if (PyErr_Occurred()) return false;
        send(bytes, true);
        return true;
      }
    }
    if (!send(bytes, false)) return true;  // The client is gone: nothing more to do.
    piece = next ? std::move(next) : own(PyIter_Next(iterator.get()));
  }
  if (PyErr_Occurred()) return false;
  if (status_ == 0) {
    PyErr_SetString(PyExc_RuntimeError, "the app returned without calling start_response");
    return false;
  }
  // An empty body whose length nobody said is known to be empty.
  if (!head_sent_ && !length_ && body_allowed()) length_ = 0;
  send({}, true);
  return true;
}

bool wsgi_response::send(std::string_view bytes, bool last) {
  if (!body_allowed()) bytes = {};
  bool room = !work_.abandoned();
  if (room && !bytes.empty()) {
    // The client's pace: the thread waits, without the GIL, while enough is on its way.
    Py_BEGIN_ALLOW_THREADS room = work_.wait_for_room(bytes.size());
    Py_END_ALLOW_THREADS
  }
  if (!room) return false;  // The client is gone; run() still sends the last message.
  outbound message{.to = &work_, .last = last};
  if (!head_sent_) {
    message.status = status_;
    message.reason = reason_;  // Kept for the post_request hook.
    message.headers = std::move(headers_);
    message.length = length_;
    head_sent_ = true;
    if (has_request_hooks()) reported_headers_ = message.headers;  // For post_request.
  }
  sent_ += bytes.size();
  message.body.assign(bytes);
  post(std::move(message));
  return true;
}

void wsgi_response::fail_request() noexcept {
  const auto& req = work_.incoming().req;
  spdlog::error("Error handling request {} {}:\n{}", req.method, req.target, formatted_exception());
  if (head_sent_) {
    // Part of the answer is out: only a cut connection tells the client it is not whole.
    post({.to = &work_, .last = true, .complete = false});
    return;
  }
  static constexpr std::string_view body = "500 Internal Server Error\n";
  post({.to = &work_,
        .status = 500,
        .headers = "Content-Type: text/plain; charset=utf-8\r\n",
        .length = body.size(),
        .body = std::string(head_request_ ? std::string_view() : body),
        .last = true});
  head_sent_ = true;
}

PyObject* wsgi_response::start_response(PyObject* status, PyObject* headers,
                                        PyObject* exc_info) noexcept {
  if (exc_info != Py_None) {
    if (head_sent_) {
      // Too late to change the answer: the app's exception goes on (PEP 3333).
      PyObject* type = nullptr;
      PyObject* value = nullptr;
      PyObject* traceback = nullptr;
      if (!PyArg_ParseTuple(exc_info, "OOO", &type, &value, &traceback)) return nullptr;
      Py_INCREF(type);
      Py_INCREF(value);
      Py_INCREF(traceback);
      PyErr_Restore(type, value, traceback);
      return nullptr;
    }
  } else if (status_ != 0) {
    PyErr_SetString(PyExc_RuntimeError, "start_response was called a second time without exc_info");
    return nullptr;
  }

  std::string status_line;
  if (!latin1_of(status, "the status", status_line)) return nullptr;
  // "200 OK": three digits, then a space and a reason phrase without control bytes.
  int code = 0;
  auto [end, error] = std::from_chars(
      status_line.data(), status_line.data() + std::min<std::size_t>(3, status_line.size()), code);
  bool well_formed =
      status_line.size() >= 3 && error == std::errc{} && end == status_line.data() + 3 &&
      code >= 200 && code <= 999 &&
      (status_line.size() == 3 || (status_line[3] == ' ' && is_field_value(status_line.substr(4))));
  if (!well_formed) return value_error("{} is not a final status line (\"200 OK\")", status_line);

  if (!PyList_Check(headers) && !PyTuple_Check(headers)) {
    PyErr_Format(PyExc_TypeError, "the headers must be a list of (name, value) tuples, not %.100s",
                 Py_TYPE(headers)->tp_name);
    return nullptr;
  }
  std::string lines;
  std::optional<std::uint64_t> length;
  Py_ssize_t count = PySequence_Fast_GET_SIZE(headers);
  PyObject** items = PySequence_Fast_ITEMS(headers);
  std::string name;
  std::string value;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = items[i];
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_Format(PyExc_TypeError, "a header must be a (name, value) tuple, not %R", item);
      return nullptr;
    }
    if (!latin1_of(PyTuple_GET_ITEM(item, 0), "a header name", name) ||
        !latin1_of(PyTuple_GET_ITEM(item, 1), "a header value", value)) {
      return nullptr;
    }
    if (!is_token(name)) return value_error("header name '{}' is not a token", name);
    if (!is_field_value(value)) {
      return value_error("the value of header {} holds a control character (CR, LF...)", name);
    }
    if (is_hop_by_hop(name)) {
      return value_error("{} is a hop-by-hop header, which a WSGI app must not send", name);
    }
    if (iequals(name, "content-length")) {
      std::uint64_t number = 0;
      auto [digits_end, bad] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (value.empty() || bad != std::errc{} || digits_end != value.data() + value.size() ||
          length) {
        return value_error("Content-Length {} is not one whole number", value);
      }
      length = number;
      continue;  // kiln writes it, once, with the framing.
    }
    // kiln writes its own Server and Date; the app's would make two.
    if (iequals(name, "server") || iequals(name, "date")) continue;
    lines.append(name).append(": ").append(value).append("\r\n");
  }

  status_ = code;
  reason_ = status_line.size() > 4 ? status_line.substr(4) : std::string();
  headers_ = std::move(lines);
  length_ = length;
  return share(writer_).release();
}

PyObject* wsgi_response::write(PyObject* data) noexcept {
  std::string_view bytes;
  if (!bytes_of(data, bytes)) return nullptr;
  if (status_ == 0) {
    PyErr_SetString(PyExc_RuntimeError, "write() was called before start_response");
    return nullptr;
  }
  work_.working(monotonic_ms());
  if (!bytes.empty() || !head_sent_) {
    if (!send(bytes, false)) {
      PyErr_SetString(PyExc_ConnectionResetError, "the client has gone away");
      return nullptr;
    }
  }
  Py_RETURN_NONE;
}

}  // namespace kiln::python
