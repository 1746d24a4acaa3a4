#include "python/wsgi_objects.hpp"

#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

namespace kiln::python {
namespace {

PyTypeObject* input_type = nullptr;
PyTypeObject* errors_type = nullptr;
PyTypeObject* wrapper_type = nullptr;

// A size argument as read() and readline() take it: absent, None or negative mean "all".
bool size_argument(PyObject* const* args, Py_ssize_t count, Py_ssize_t& size) {
  size = -1;
  if (count > 1) {
    PyErr_SetString(PyExc_TypeError, "takes at most one argument, a size");
    return false;
  }
  if (count == 0 || args[0] == Py_None) return true;
  size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
  return !(size == -1 && PyErr_Occurred());
}

// wsgi.input: the body's bytes and a position in them.
struct input_object {
  PyObject_HEAD PyObject* body;  // bytes
  Py_ssize_t position;
};

std::string_view remaining(input_object* self) {
  const char* data = PyBytes_AS_STRING(self->body);
  Py_ssize_t size = PyBytes_GET_SIZE(self->body);
  return {data + self->position, static_cast<std::size_t>(size - self->position)};
}

PyObject* take(input_object* self, std::size_t count) {
  std::string_view rest = remaining(self);
  count = std::min(count, rest.size());
  // The whole body at once, the common case, is the bytes object itself, not a copy.
  if (self->position == 0 && count == rest.size()) {
    self->position = PyBytes_GET_SIZE(self->body);
    Py_INCREF(self->body);
    return self->body;
  }
  self->position += static_cast<Py_ssize_t>(count);
  return PyBytes_FromStringAndSize(rest.data(), static_cast<Py_ssize_t>(count));
}

PyObject* input_read(PyObject* object, PyObject* const* args, Py_ssize_t count) {
  Py_ssize_t size = -1;
  if (!size_argument(args, count, size)) return nullptr;
  auto* self = reinterpret_cast<input_object*>(object);
  return take(self, size < 0 ? remaining(self).size() : static_cast<std::size_t>(size));
}

PyObject* read_line(input_object* self, Py_ssize_t size) {
  std::string_view rest = remaining(self);
  std::size_t limit =
      size < 0 ? rest.size() : std::min(rest.size(), static_cast<std::size_t>(size));
  auto newline = rest.substr(0, limit).find('\n');
  return take(self, newline == std::string_view::npos ? limit : newline + 1);
}

PyObject* input_readline(PyObject* object, PyObject* const* args, Py_ssize_t count) {
  Py_ssize_t size = -1;
  if (!size_argument(args, count, size)) return nullptr;
  return read_line(reinterpret_cast<input_object*>(object), size);
}

PyObject* input_readlines(PyObject* object, PyObject* const* args, Py_ssize_t count) {
  Py_ssize_t hint = -1;
  if (!size_argument(args, count, hint)) return nullptr;
  auto* self = reinterpret_cast<input_object*>(object);
  py_ref lines = own(PyList_New(0));
  if (!lines) return nullptr;
  Py_ssize_t total = 0;
  while (!remaining(self).empty() && (hint <= 0 || total < hint)) {
    py_ref line = own(read_line(self, -1));
    if (!line || PyList_Append(lines.get(), line.get()) != 0) return nullptr;
    total += PyBytes_GET_SIZE(line.get());
  }
  return lines.release();
}

PyObject* input_next(PyObject* object) {
  auto* self = reinterpret_cast<input_object*>(object);
  if (remaining(self).empty()) return nullptr;  // StopIteration.
  return read_line(self, -1);
}

void input_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  Py_XDECREF(reinterpret_cast<input_object*>(object)->body);
  type->tp_free(object);
  Py_DECREF(type);
}

PyMethodDef input_methods[] = {
    {"read", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_read)), METH_FASTCALL,
     "read(size=-1): up to size bytes of the body, or the rest"},
    {"readline", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readline)),
     METH_FASTCALL, "readline(size=-1): the next line, with its newline"},
    {"readlines", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(input_readlines)),
     METH_FASTCALL, "readlines(hint=-1): the remaining lines"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot input_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(input_dealloc)},
    {Py_tp_methods, input_methods},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(input_next)},
    {Py_tp_doc, const_cast<char*>("wsgi.input: the request's body, read whole by kiln")},
    {0, nullptr},
};

PyType_Spec input_spec = {"kiln.Input", sizeof(input_object), 0, Py_TPFLAGS_DEFAULT, input_slots};

// wsgi.errors, and sys.stdout and sys.stderr with capture_output: text that goes to the error
// log, at a level of its own. Partial lines wait for their end (or flush()).
struct errors_object {
  PyObject_HEAD std::string* pending;
  spdlog::level::level_enum level;
};

void log_lines(errors_object* self, bool all) {
  std::string& pending = *self->pending;
  std::size_t start = 0;
  for (auto newline = pending.find('\n'); newline != std::string::npos;
       newline = pending.find('\n', start)) {
    spdlog::log(self->level, "{}", std::string_view(pending).substr(start, newline - start));
    start = newline + 1;
  }
  pending.erase(0, start);
  if (all && !pending.empty()) {
    spdlog::log(self->level, "{}", pending);
    pending.clear();
  }
}

bool append_text(errors_object* self, PyObject* text) {
  if (!PyUnicode_Check(text)) {
    PyErr_Format(PyExc_TypeError, "wsgi.errors takes str, not %.100s", Py_TYPE(text)->tp_name);
    return false;
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  if (data == nullptr) return false;
  self->pending->append(data, static_cast<std::size_t>(size));
  return true;
}

PyObject* errors_write(PyObject* object, PyObject* text) {
  auto* self = reinterpret_cast<errors_object*>(object);
  if (!append_text(self, text)) return nullptr;
  log_lines(self, false);
  Py_RETURN_NONE;
}

PyObject* errors_writelines(PyObject* object, PyObject* lines) {
  auto* self = reinterpret_cast<errors_object*>(object);
  py_ref iterator = own(PyObject_GetIter(lines));
  if (!iterator) return nullptr;
  while (py_ref line = own(PyIter_Next(iterator.get()))) {
    if (!append_text(self, line.get())) return nullptr;
  }
  if (PyErr_Occurred()) return nullptr;
  log_lines(self, false);
  Py_RETURN_NONE;
}

PyObject* errors_flush(PyObject* object, PyObject*) {
  log_lines(reinterpret_cast<errors_object*>(object), true);
  Py_RETURN_NONE;
}

void errors_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  delete reinterpret_cast<errors_object*>(object)->pending;
  type->tp_free(object);
  Py_DECREF(type);
}

PyObject* errors_isatty(PyObject*, PyObject*) {
  Py_RETURN_FALSE;
}

PyMethodDef errors_methods[] = {
    {"isatty", errors_isatty, METH_NOARGS, "isatty(): False"},
    {"write", errors_write, METH_O, "write(text): to the error log"},
    {"writelines", errors_writelines, METH_O, "writelines(lines): to the error log"},
    {"flush", errors_flush, METH_NOARGS, "flush(): logs a partial line"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot errors_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(errors_dealloc)},
    {Py_tp_methods, errors_methods},
    {Py_tp_doc, const_cast<char*>("wsgi.errors: kiln's error log")},
    {0, nullptr},
};

PyType_Spec errors_spec = {"kiln.Errors", sizeof(errors_object), 0, Py_TPFLAGS_DEFAULT,
                           errors_slots};

// wsgi.file_wrapper: a file, iterated in blocks when it must be, sent whole by sendfile when
// kiln can get its descriptor.
struct wrapper_object {
  PyObject_HEAD PyObject* file;
  Py_ssize_t block_size;
};

PyObject* wrapper_new(PyTypeObject* type, PyObject* args, PyObject* keywords) {
  static const char* names[] = {"filelike", "block_size", nullptr};
  PyObject* file = nullptr;
  Py_ssize_t block_size = 8192;
  if (!PyArg_ParseTupleAndKeywords(args, keywords, "O|n:file_wrapper", const_cast<char**>(names),
                                   &file, &block_size)) {
    return nullptr;
  }
  auto* self = reinterpret_cast<wrapper_object*>(type->tp_alloc(type, 0));
  if (self == nullptr) return nullptr;
  Py_INCREF(file);
  self->file = file;
  self->block_size = block_size > 0 ? block_size : 8192;
  return reinterpret_cast<PyObject*>(self);
}

PyObject* wrapper_next(PyObject* object) {
  auto* self = reinterpret_cast<wrapper_object*>(object);
  py_ref block = own(PyObject_CallMethod(self->file, "read", "n", self->block_size));
  if (!block) return nullptr;
  if (PyObject_Length(block.get()) == 0) return nullptr;  // StopIteration (or the error).
  return block.release();
}

PyObject* wrapper_close(PyObject* object, PyObject*) {
  auto* self = reinterpret_cast<wrapper_object*>(object);
  if (PyObject_HasAttrString(self->file, "close")) {
    py_ref closed = own(PyObject_CallMethod(self->file, "close", nullptr));
    if (!closed) return nullptr;
  }
  Py_RETURN_NONE;
}

void wrapper_dealloc(PyObject* object) {
  PyTypeObject* type = Py_TYPE(object);
  Py_XDECREF(reinterpret_cast<wrapper_object*>(object)->file);
  type->tp_free(object);
  Py_DECREF(type);
}

PyMethodDef wrapper_methods[] = {
    {"close", wrapper_close, METH_NOARGS, "close(): closes the file"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot wrapper_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(wrapper_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(wrapper_dealloc)},
    {Py_tp_methods, wrapper_methods},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(wrapper_next)},
    {Py_tp_doc, const_cast<char*>("wsgi.file_wrapper(filelike, block_size=8192)")},
    {0, nullptr},
};

PyType_Spec wrapper_spec = {"kiln.FileWrapper", sizeof(wrapper_object), 0, Py_TPFLAGS_DEFAULT,
                            wrapper_slots};

}  // namespace

bool init_wsgi_objects() noexcept {
  if (input_type != nullptr) return true;
  input_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&input_spec));
  errors_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&errors_spec));
  wrapper_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&wrapper_spec));
  return input_type != nullptr && errors_type != nullptr && wrapper_type != nullptr;
}

py_ref make_input(std::string_view body) noexcept {
  py_ref bytes = own(PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size())));
  if (!bytes) return nullptr;
  auto* self = PyObject_New(input_object, input_type);
  if (self == nullptr) return nullptr;
  self->body = bytes.release();
  self->position = 0;
  return own(reinterpret_cast<PyObject*>(self));
}

py_ref make_errors(bool error_level) noexcept {
  auto* self = PyObject_New(errors_object, errors_type);
  if (self == nullptr) return nullptr;
  self->level = error_level ? spdlog::level::err : spdlog::level::info;
  self->pending = new std::string();
  return own(reinterpret_cast<PyObject*>(self));
}

PyObject* file_wrapper_type() noexcept {
  return reinterpret_cast<PyObject*>(wrapper_type);
}

PyObject* wrapped_file(PyObject* object) noexcept {
  if (wrapper_type == nullptr || Py_TYPE(object) != wrapper_type) return nullptr;
  return reinterpret_cast<wrapper_object*>(object)->file;
}

bool capture_output() noexcept {
  static bool captured = false;
  if (captured) return true;
  if (!init_wsgi_objects()) return false;
  py_ref out = make_errors(false);
  py_ref err = make_errors(true);
  if (!out || !err || PySys_SetObject("stdout", out.get()) != 0 ||
      PySys_SetObject("stderr", err.get()) != 0) {
    return false;
  }
  captured = true;
  return true;
}

}  // namespace kiln::python
