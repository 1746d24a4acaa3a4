#include "python/errands.hpp"

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

void dump(const std::map<unsigned long, std::string>& names) {
  py_ref globals = own(PyDict_New());
  py_ref ran = globals ? own(PyRun_String(dump_source, Py_file_input, globals.get(), globals.get()))
                       : nullptr;
  py_ref known = own(PyDict_New());
  for (const auto& [ident, name] : names) {
    py_ref key = own(PyLong_FromUnsignedLong(ident));
    py_ref value = own(PyUnicode_FromString(name.c_str()));
    if (known && key && value) PyDict_SetItem(known.get(), key.get(), value.get());
  }
  PyObject* function = ran ? PyDict_GetItemString(globals.get(), "dump") : nullptr;
  py_ref lines = function != nullptr && known
                     ? own(PyObject_CallFunctionObjArgs(function, known.get(), nullptr))
                     : nullptr;
  if (!lines) {
    spdlog::error("Cannot show the app's stacks: {}", formatted_exception());
    return;
  }
  spdlog::error("The app's threads (pid {}):", getpid());
  for (Py_ssize_t i = 0; i < PyList_Size(lines.get()); ++i) {
    const char* line = PyUnicode_AsUTF8(PyList_GET_ITEM(lines.get(), i));
    if (line != nullptr) spdlog::error("  {}", line);
  }
  PyErr_Clear();
}

}  // namespace

errands::errands() : thread_([this] { main(); }) {}

errands::~errands() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  // Work stuck waiting for the GIL cannot be joined: the process ends around it.
  thread_.detach();
}

void errands::run(std::function<void()> work) noexcept {
  try {
    std::lock_guard lock(mutex_);
    work_.push_back(std::move(work));
  } catch (...) {
    return;  // Out of memory: a hook not called, a stack not shown.
  }
  wanted_.notify_one();
}

void errands::dump_stacks(std::map<unsigned long, std::string> names) noexcept {
  run([names = std::move(names)] { dump(names); });
}

bool errands::finish(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, limit, [&] { return work_.empty() && !busy_; });
}

void errands::main() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "kiln-errands");
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      wanted_.wait(lock, [&] { return !work_.empty() || stopping_; });
      if (stopping_) return;
      work = std::move(work_.front());
      work_.pop_front();
      busy_ = true;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    work();
    PyGILState_Release(gil);
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    done_.notify_all();
  }
}

}  // namespace kiln::python
