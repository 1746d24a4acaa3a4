#pragma once

#include <string_view>

#include "python/py_ref.hpp"

// The objects PEP 3333 puts into the environ, as C types: wsgi.input over the request's body
// (which the loop has read whole), wsgi.errors into kiln's error log, and wsgi.file_wrapper,
// whose files kiln sends with sendfile. Every function here needs the GIL.
namespace kiln::python {

// Makes the types; once, after the interpreter started. False with a Python exception set.
bool init_wsgi_objects() noexcept;

// A wsgi.input holding a copy of body: read(), read(n), readline(), readlines(), iteration.
py_ref make_input(std::string_view body) noexcept;

// The wsgi.errors of a worker: what is written goes to the error log, a line at a time, at the
// error level (or info).
py_ref make_errors(bool error_level = true) noexcept;

// capture_output: sys.stdout and sys.stderr go to the error log, a line at a time, at the info
// and error levels. Once a process; false with a Python exception set.
bool capture_output() noexcept;

// wsgi.file_wrapper: the type, called as file_wrapper(file, block_size=8192).
PyObject* file_wrapper_type() noexcept;
// The file an app's file_wrapper wraps (borrowed), or nullptr when object is no file_wrapper.
PyObject* wrapped_file(PyObject* object) noexcept;

}  // namespace kiln::python
