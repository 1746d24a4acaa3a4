#pragma once

#include <stdexcept>
#include <string>

#include "python/py_ref.hpp"
#include "settings.hpp"

// CPython in kiln's processes. A worker starts the interpreter after fork, unless the master
// started it before (preload_app), and then every fork goes through CPython's fork hooks.
namespace kiln::python {

// The app could not be loaded: an import failed, a name is missing, a factory raised. what() is
// the message and the Python traceback. Workers exit with app_load_failed for it.
class app_load_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The exit code of a worker whose app could not be loaded (gunicorn's): the master stops kiln
// instead of starting it again and again.
inline constexpr int app_load_failed = 4;

// True once this process has a running interpreter.
bool interpreter_started() noexcept;

// Starts the interpreter the way kiln needs it: no signal handlers of Python's own (the event
// loop owns the signals), the standard library of the Python kiln was built for, the virtual
// environment's packages, chdir first on sys.path and pythonpath after it. The calling thread
// holds the GIL afterwards. Throws app_load_error when Python cannot start or is not the one
// kiln was built for.
void start_interpreter(const settings& config);

// Imports the app named by config.wsgi_app (in config.chdir) and keeps it; throws
// app_load_error with the traceback. The GIL must be held.
void load_app(const settings& config);
// The loaded app (a borrowed reference), or nullptr.
PyObject* loaded_app() noexcept;

// Around fork() in a process with an interpreter: the GIL must be held, as it is by the master
// after preloading. A no-op without an interpreter.
void before_fork() noexcept;
void after_fork_in_parent() noexcept;
void after_fork_in_child() noexcept;

// Sets an environment variable for the app (raw_env): in the process, and in os.environ when
// the interpreter is running already (it read the environment when it started). The GIL must be
// held then.
void set_environment_variable(const std::string& name, const std::string& value) noexcept;

// The main thread lets go of the GIL for the app's threads, and takes it back at the end.
void release_gil() noexcept;
void reacquire_gil() noexcept;

// At a worker's end, with the GIL held: runs the app's atexit functions and flushes Python's
// output, without tearing the interpreter down (threads of the app may still be running).
void run_exit_functions() noexcept;

// The Python exception being raised, with its traceback, as text; clears it. The GIL must be
// held.
std::string formatted_exception();

}  // namespace kiln::python
