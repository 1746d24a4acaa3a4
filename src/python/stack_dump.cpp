#include "python/stack_dump.hpp"

#include <csignal>
#include <pthread.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "python/interpreter.hpp"

namespace kiln::python {
namespace {

constexpr const char* dump_source = R"(
import sys, threading, traceback

def dump(names):
    lines = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue  # This dump's own thread.
        lines.append(f"Thread {names.get(ident, hex(ident))} (most recent call last):")
        for entry in traceback.format_stack(frame):
            lines.extend(entry.rstrip("\n").split("\n"))
    return lines
)";

}  // namespace

stack_dumper::stack_dumper(const app_threads& threads)
    : threads_(threads), thread_([this] { main(); }) {}

stack_dumper::~stack_dumper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  // A dump stuck waiting for the GIL cannot be joined: the process ends around it.
  thread_.detach();
}

void stack_dumper::request() noexcept {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wanted_.notify_one();
}

void stack_dumper::main() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "kiln-stacks");
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wanted_.wait(lock, [&] { return requested_ || stopping_; });
      if (stopping_) return;
      requested_ = false;
    }
    auto names = threads_.names();
    PyGILState_STATE gil = PyGILState_Ensure();
    py_ref globals = own(PyDict_New());
    py_ref ran = globals
                     ? own(PyRun_String(dump_source, Py_file_input, globals.get(), globals.get()))
                     : nullptr;
    py_ref known = own(PyDict_New());
    for (const auto& [ident, name] : names) {
      py_ref key = own(PyLong_FromUnsignedLong(ident));
      py_ref value = own(PyUnicode_FromString(name.c_str()));
      if (known && key && value) PyDict_SetItem(known.get(), key.get(), value.get());
    }
    PyObject* dump = ran ? PyDict_GetItemString(globals.get(), "dump") : nullptr;
    py_ref lines = dump != nullptr && known
                       ? own(PyObject_CallFunctionObjArgs(dump, known.get(), nullptr))
                       : nullptr;
    if (!lines) {
      spdlog::error("Cannot show the app's stacks: {}", formatted_exception());
    } else {
      spdlog::error("The app's threads (pid {}):", getpid());
      Py_ssize_t count = PyList_Size(lines.get());
      for (Py_ssize_t i = 0; i < count; ++i) {
        const char* line = PyUnicode_AsUTF8(PyList_GET_ITEM(lines.get(), i));
        if (line != nullptr) spdlog::error("  {}", line);
      }
      PyErr_Clear();
    }
    globals.reset();
    known.reset();
    lines.reset();
    ran.reset();
    PyGILState_Release(gil);
  }
}

}  // namespace kiln::python
