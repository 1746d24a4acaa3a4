#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "python/bridge.hpp"
#include "python/py_ref.hpp"

namespace kiln::python {

// One request's trip through a WSGI app, on an app thread with the GIL held: it calls the app
// with the environ and a start_response, and sends what comes back to the loop through the
// bridge, as PEP 3333 asks:
// - start_response checks the status and the headers (a status line that is not one, a header
//   name that is no token, control bytes in a value, hop-by-hop headers are errors) and returns
//   write(); called again it needs exc_info, and re-raises it once the head is out;
// - the head goes out with the first non-empty piece of the body (a list or tuple is one
//   message, head and body together, with its length), a generator's pieces are sent as they
//   come, at most exchange::max_in_flight bytes ahead of the client, and a file_wrapper whose
//   file has a descriptor goes by sendfile;
// - the iterable's close() is called on every path: done, failed, or the client gone;
// - an exception is a 500 (or, once the head is out, a cut connection) and a traceback in the
//   error log with the method and path.
class wsgi_response {
 public:
  wsgi_response(exchange& work, bridge& to) noexcept;
  wsgi_response(const wsgi_response&) = delete;
  wsgi_response& operator=(const wsgi_response&) = delete;

  // Calls app with environ and answers the exchange.
  void run(PyObject* app, PyObject* environ) noexcept;

  // start_response(status, headers, exc_info=None) and write(data), as the app calls them.
  PyObject* start_response(PyObject* status, PyObject* headers, PyObject* exc_info) noexcept;
  PyObject* write(PyObject* data) noexcept;

 private:
  // Answers from the object the app returned; false with a Python exception set.
  bool send_result(PyObject* result);
  bool send_sequence(PyObject* sequence);
  bool send_file(PyObject* file);
  bool send_iterable(PyObject* iterable);
  // Sends body bytes, with the head first if it has not gone yet, once the client has room;
  // false when the client is gone. last ends the response.
  bool send(std::string_view bytes, bool last);
  // Posts a message to the loop; the last is held until run() has called close().
  void post(outbound message);
  void fail_request() noexcept;
  bool body_allowed() const noexcept;

  exchange& work_;
  bridge& bridge_;
  int status_ = 0;  // 0 until start_response.
  std::string reason_;
  std::string headers_;  // "Name: value\r\n" lines, latin-1.
  std::optional<std::uint64_t> length_;
  PyObject* writer_ = nullptr;     // The write callable start_response returns, while run() runs.
  std::optional<outbound> final_;  // The last message, sent once close() has been called.
  std::string reported_headers_;   // The head's lines, for a post_request hook.
  std::uint64_t sent_ = 0;         // Body bytes sent, for a post_request hook.
  bool head_sent_ = false;
  bool head_request_ = false;
};

// Makes the start_response type; once, after the interpreter started. False with a Python
// exception set.
bool init_wsgi_response() noexcept;

// An app thread that ends lets go of the objects it kept from one request to the next; the GIL
// must be held.
void release_thread_objects() noexcept;

}  // namespace kiln::python
