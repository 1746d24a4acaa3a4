#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <memory>

namespace kiln::python {

// A strong reference to a Python object, released (with the GIL held) when it goes.
struct py_decref {
  void operator()(PyObject* object) const noexcept { Py_XDECREF(object); }
};
using py_ref = std::unique_ptr<PyObject, py_decref>;

// Takes over a new reference (from a call that returns one; nullptr stays empty).
inline py_ref own(PyObject* object) noexcept {
  return py_ref(object);
}
// Adds a reference to a borrowed object.
inline py_ref share(PyObject* object) noexcept {
  Py_XINCREF(object);
  return py_ref(object);
}

}  // namespace kiln::python
