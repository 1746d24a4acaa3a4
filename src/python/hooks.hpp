#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "owned_request.hpp"
#include "python/py_ref.hpp"
#include "settings.hpp"

// gunicorn's server hooks, from a Python config file, called at the moments gunicorn calls
// them, with small server and worker objects like gunicorn's: pid, age, num_workers, cfg, and a
// log whose debug/info/warning/error/critical/exception go to kiln's error log. Every function
// here needs the GIL, and does nothing when no config file defined the hook. A hook that raises
// is logged with its traceback; the functions say whether it ran without raising.
namespace kiln::python {

// The config module's hooks, kept (its globals dict, borrowed).
void keep_hooks(PyObject* globals);
bool has_hooks() noexcept;

// The master's: the server object is made once and tracks num_workers.
bool on_starting(const settings& config, std::size_t workers);
bool when_ready(std::size_t workers);
void on_reload();
void pre_exec();
void on_exit();
void nworkers_changed(std::size_t now, std::size_t before);
// A worker's object is made in pre_fork and kept by its number until child_exit.
void pre_fork(unsigned number);
void child_exit(unsigned number, pid_t pid);

// In a worker: post_fork right after the fork, post_worker_init once the app is loaded;
// worker_int on INT or QUIT, worker_abort on ABRT, worker_exit as it ends.
void post_fork(unsigned number);
void post_worker_init();
void worker_int();
void worker_abort();
void worker_exit();

// Around each request, on the app's thread.
bool has_request_hooks() noexcept;
void pre_request(const owned_request& request);
void post_request(const owned_request& request, PyObject* environ, int status,
                  std::string_view reason, std::string_view headers, std::uint64_t sent);

}  // namespace kiln::python
