#include "python/hooks.hpp"

#include <map>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "gunicorn.hpp"
#include "python/interpreter.hpp"
#include "response_head.hpp"

namespace kiln::python {
namespace {

// The objects hooks get, as small as the common uses need.
constexpr const char* objects_source = R"(
import os, traceback

class Log:
    """kiln's error log, with the methods hooks call on gunicorn's logger."""
    def __init__(self, emit):
        self._emit = emit
    def _say(self, level, msg, args):
        self._emit(level, str(msg) % args if args else str(msg))
    def debug(self, msg, *args, **kwargs): self._say(10, msg, args)
    def info(self, msg, *args, **kwargs): self._say(20, msg, args)
    def warning(self, msg, *args, **kwargs): self._say(30, msg, args)
    warn = warning
    def error(self, msg, *args, **kwargs): self._say(40, msg, args)
    def critical(self, msg, *args, **kwargs): self._say(50, msg, args)
    def exception(self, msg, *args, **kwargs):
        self._say(40, msg, args)
        self._emit(40, traceback.format_exc().rstrip())
    def log(self, level, msg, *args, **kwargs): self._say(level, msg, args)

class Config:
    """The settings, by gunicorn's names (and kiln's)."""
    def __init__(self, values):
        self.__dict__.update(values)

class Server:
    def __init__(self, log, cfg, workers):
        self.log, self.cfg, self.pid, self.num_workers = log, cfg, os.getpid(), workers
    def __repr__(self):
        return f"<kiln master {self.pid}>"

class Worker:
    def __init__(self, log, cfg, age, ppid):
        self.log, self.cfg, self.age, self.ppid = log, cfg, age, ppid
        self.pid, self.alive, self.booted = None, True, False
    def __repr__(self):
        return f"<kiln worker {self.pid}>"

class Request:
    def __init__(self, method, uri, path, query, version, headers, remote_addr):
        self.method, self.uri, self.path, self.query = method, uri, path, query
        self.version, self.headers, self.remote_addr = version, headers, remote_addr

class Response:
    def __init__(self, status, headers, sent):
        self.status, self.status_code = status, int(status.split(" ", 1)[0])
        self.headers, self.sent = headers, sent
)";

struct hook_state {
  py_ref globals;  // The config module's.
  py_ref objects;  // objects_source's namespace.
  py_ref log;
  py_ref cfg;
  py_ref server;
  py_ref this_worker;                    // In a worker.
  std::map<unsigned, py_ref> by_number;  // In the master: the workers' objects.
};
hook_state* state = nullptr;

PyObject* emit(PyObject*, PyObject* args) {
  int level = 20;
  const char* text = nullptr;
  if (!PyArg_ParseTuple(args, "is", &level, &text)) return nullptr;
  auto spd = level >= 50   ? spdlog::level::critical
             : level >= 40 ? spdlog::level::err
             : level >= 30 ? spdlog::level::warn
             : level >= 20 ? spdlog::level::info
                           : spdlog::level::debug;
  spdlog::log(spd, "{}", text);
  Py_RETURN_NONE;
}

PyMethodDef emit_method = {"emit", emit, METH_VARARGS, "Writes a line to kiln's error log."};

PyObject* hook(std::string_view name) {
  if (state == nullptr || !state->globals) return nullptr;
  std::string key(name);
  PyObject* found = PyDict_GetItemString(state->globals.get(), key.c_str());
  return found != nullptr && PyCallable_Check(found) ? found : nullptr;
}

py_ref make(const char* type, PyObject* arguments) {
  PyObject* factory = PyDict_GetItemString(state->objects.get(), type);
  return factory != nullptr && arguments != nullptr ? own(PyObject_CallObject(factory, arguments))
                                                    : nullptr;
}

// Calls the hook with the arguments (a new tuple); logs what it raises.
bool call(std::string_view name, py_ref arguments) {
  PyObject* function = hook(name);
  if (function == nullptr) return true;
  py_ref result = arguments ? own(PyObject_CallObject(function, arguments.get())) : nullptr;
  if (!result) {
    spdlog::error("Exception in the {} hook:\n{}", name, formatted_exception());
    return false;
  }
  return true;
}

void set_number(PyObject* object, const char* attribute, long long value) {
  py_ref number = own(PyLong_FromLongLong(value));
  if (!number || PyObject_SetAttrString(object, attribute, number.get()) != 0) PyErr_Clear();
}

}  // namespace

void keep_hooks(PyObject* globals) {
  if (state == nullptr) state = new hook_state();
  state->globals = share(globals);
  if (!state->objects) {
    state->objects = own(PyDict_New());
    PyDict_SetItemString(state->objects.get(), "__builtins__", PyEval_GetBuiltins());
    py_ref ran = own(
        PyRun_String(objects_source, Py_file_input, state->objects.get(), state->objects.get()));
    py_ref emitter = own(PyCFunction_New(&emit_method, nullptr));
    py_ref arguments = own(Py_BuildValue("(O)", emitter.get()));
    if (ran) state->log = make("Log", arguments.get());
    if (!state->log) spdlog::error("Cannot make the hooks' log: {}", formatted_exception());
  }
}

bool has_hooks() noexcept {
  return state != nullptr && state->globals;
}

bool on_starting(const settings& config, std::size_t workers) {
  if (!has_hooks()) return true;
  // cfg: the settings hooks read most, by gunicorn's names.
  py_ref values = own(Py_BuildValue(
      "{s:n,s:n,s:n,s:d,s:d,s:d,s:s,s:O,s:s}", "workers", static_cast<Py_ssize_t>(workers),
      "threads", static_cast<Py_ssize_t>(config.threads), "worker_connections",
      static_cast<Py_ssize_t>(config.worker_connections), "timeout",
      static_cast<double>(config.timeout.count()) / 1000, "graceful_timeout",
      static_cast<double>(config.graceful_timeout.count()) / 1000, "keepalive",
      static_cast<double>(config.keepalive.count()) / 1000, "worker_class",
      config.worker_class.c_str(), "preload_app", config.preload_app ? Py_True : Py_False,
      "wsgi_app", config.wsgi_app.c_str()));
  py_ref arguments = own(Py_BuildValue("(O)", values ? values.get() : Py_None));
  state->cfg = make("Config", arguments.get());
  py_ref server_arguments =
      own(Py_BuildValue("(OOn)", state->log.get(), state->cfg ? state->cfg.get() : Py_None,
                        static_cast<Py_ssize_t>(workers)));
  state->server = make("Server", server_arguments.get());
  if (!state->server) {
    spdlog::error("Cannot make the hooks' server: {}", formatted_exception());
    return false;
  }
  return call("on_starting", own(Py_BuildValue("(O)", state->server.get())));
}

bool when_ready(std::size_t workers) {
  if (!has_hooks() || !state->server) return true;
  set_number(state->server.get(), "num_workers", static_cast<long long>(workers));
  return call("when_ready", own(Py_BuildValue("(O)", state->server.get())));
}

void on_reload() {
  if (has_hooks() && state->server)
    call("on_reload", own(Py_BuildValue("(O)", state->server.get())));
}

void pre_exec() {
  if (has_hooks() && state->server)
    call("pre_exec", own(Py_BuildValue("(O)", state->server.get())));
}

void on_exit() {
  if (has_hooks() && state->server) call("on_exit", own(Py_BuildValue("(O)", state->server.get())));
}

void nworkers_changed(std::size_t now, std::size_t before) {
  if (!has_hooks() || !state->server) return;
  set_number(state->server.get(), "num_workers", static_cast<long long>(now));
  call("nworkers_changed",
       own(Py_BuildValue("(Onn)", state->server.get(), static_cast<Py_ssize_t>(now),
                         static_cast<Py_ssize_t>(before))));
}

void pre_fork(unsigned number) {
  if (!has_hooks() || !state->server) return;
  py_ref arguments =
      own(Py_BuildValue("(OOIi)", state->log.get(), state->cfg ? state->cfg.get() : Py_None, number,
                        static_cast<int>(getpid())));
  py_ref worker = make("Worker", arguments.get());
  if (!worker) {
    spdlog::error("Cannot make the hooks' worker: {}", formatted_exception());
    return;
  }
  state->by_number[number] = share(worker.get());
  call("pre_fork", own(Py_BuildValue("(OO)", state->server.get(), worker.get())));
}

void child_exit(unsigned number, pid_t pid) {
  if (!has_hooks() || !state->server) return;
  auto found = state->by_number.find(number);
  if (found == state->by_number.end()) return;
  py_ref worker = std::move(found->second);
  state->by_number.erase(found);
  set_number(worker.get(), "pid", pid);
  PyObject_SetAttrString(worker.get(), "alive", Py_False);
  call("child_exit", own(Py_BuildValue("(OO)", state->server.get(), worker.get())));
}

void post_fork(unsigned number) {
  if (!has_hooks() || !state->server) return;
  auto found = state->by_number.find(number);
  if (found == state->by_number.end()) return;
  state->this_worker = share(found->second.get());
  state->by_number.clear();  // The other workers are the master's business.
  set_number(state->this_worker.get(), "pid", getpid());
  call("post_fork", own(Py_BuildValue("(OO)", state->server.get(), state->this_worker.get())));
}

void post_worker_init() {
  if (!has_hooks() || !state->this_worker) return;
  PyObject_SetAttrString(state->this_worker.get(), "booted", Py_True);
  call("post_worker_init", own(Py_BuildValue("(O)", state->this_worker.get())));
}

void worker_int() {
  if (has_hooks() && state->this_worker) {
    call("worker_int", own(Py_BuildValue("(O)", state->this_worker.get())));
  }
}

void worker_abort() {
  if (has_hooks() && state->this_worker) {
    call("worker_abort", own(Py_BuildValue("(O)", state->this_worker.get())));
  }
}

void worker_exit() {
  if (!has_hooks() || !state->this_worker || !state->server) return;
  PyObject_SetAttrString(state->this_worker.get(), "alive", Py_False);
  call("worker_exit", own(Py_BuildValue("(OO)", state->server.get(), state->this_worker.get())));
}

bool has_request_hooks() noexcept {
  return has_hooks() && state->this_worker && (hook("pre_request") || hook("post_request"));
}

namespace {

py_ref request_object(const owned_request& request) {
  const auto& req = request.req;
  py_ref headers = own(PyList_New(0));
  for (const auto& field : req.headers) {
    std::string upper(field.name);
    for (char& c : upper)
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    py_ref pair =
        own(Py_BuildValue("(s#s#)", upper.data(), static_cast<Py_ssize_t>(upper.size()),
                          field.value.data(), static_cast<Py_ssize_t>(field.value.size())));
    if (headers && pair) PyList_Append(headers.get(), pair.get());
  }
  std::string_view peer = req.peer;
  std::string_view host = peer.substr(0, peer.rfind(':'));
  py_ref arguments = own(Py_BuildValue(
      "(s#s#s#s#(ii)Os#)", req.method.data(), static_cast<Py_ssize_t>(req.method.size()),
      req.target.data(), static_cast<Py_ssize_t>(req.target.size()), req.path.data(),
      static_cast<Py_ssize_t>(req.path.size()), req.query.data(),
      static_cast<Py_ssize_t>(req.query.size()), static_cast<int>(req.version_major),
      static_cast<int>(req.version_minor), headers ? headers.get() : Py_None, host.data(),
      static_cast<Py_ssize_t>(host.size())));
  return make("Request", arguments.get());
}

}  // namespace

void pre_request(const owned_request& request) {
  if (hook("pre_request") == nullptr) return;
  py_ref req = request_object(request);
  if (!req) {
    spdlog::error("Cannot make the pre_request hook's request: {}", formatted_exception());
    return;
  }
  call("pre_request", own(Py_BuildValue("(OO)", state->this_worker.get(), req.get())));
}

void post_request(const owned_request& request, PyObject* environ, int status,
                  std::string_view reason, std::string_view headers, std::uint64_t sent) {
  if (hook("post_request") == nullptr) return;
  py_ref req = request_object(request);
  py_ref list = own(PyList_New(0));
  while (list && !headers.empty()) {
    auto end = headers.find("\r\n");
    std::string_view line = headers.substr(0, end);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      py_ref pair = own(Py_BuildValue("(s#s#)", line.data(), static_cast<Py_ssize_t>(colon),
                                      value.data(), static_cast<Py_ssize_t>(value.size())));
      if (pair) PyList_Append(list.get(), pair.get());
    }
    if (end == std::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  std::string status_line =
      fmt::format("{} {}", status, reason.empty() ? reason_phrase(status) : reason);
  py_ref response_arguments =
      own(Py_BuildValue("(sOK)", status_line.c_str(), list ? list.get() : Py_None,
                        static_cast<unsigned long long>(sent)));
  py_ref response = make("Response", response_arguments.get());
  if (!req || !response) {
    spdlog::error("Cannot make the post_request hook's objects: {}", formatted_exception());
    return;
  }
  call("post_request", own(Py_BuildValue("(OOOO)", state->this_worker.get(), req.get(),
                                         environ != nullptr ? environ : Py_None, response.get())));
}

}  // namespace kiln::python
