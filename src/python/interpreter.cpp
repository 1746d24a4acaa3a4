#include "python/interpreter.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "python/app_spec.hpp"
#include "python/build_info.hpp"

namespace kiln::python {
namespace {

// The process's interpreter state: one interpreter, one app.
bool started = false;
PyThreadState* main_thread_state = nullptr;
PyObject* app = nullptr;

// Runs Python source in a fresh namespace and returns the named function it defines.
py_ref define(const char* source, const char* name) {
  py_ref globals = own(PyDict_New());
  if (!globals) return nullptr;
  PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins());
  py_ref ran = own(PyRun_String(source, Py_file_input, globals.get(), globals.get()));
  if (!ran) return nullptr;
  return share(PyDict_GetItemString(globals.get(), name));
}

// gunicorn's reading of an app name: module, then a name in it or a call of a factory with
// literal arguments. A helper in Python, since it is Python's ast that reads the arguments.
// gunicorn's reading of an app name: module, then a name in it or a call of a factory with
// literal arguments. A helper in Python, since it is Python's ast that reads the arguments. It
// returns (app, None), or (None, the traceback without the loader's and importlib's frames,
// which say nothing about the app).
constexpr const char* load_source = R"(
import ast, importlib, traceback

def find(module_name, expression):
    module = importlib.import_module(module_name)
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise ValueError(f"{expression!r} is not a name or a call in {module_name!r}") from None
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        try:
            args = [ast.literal_eval(arg) for arg in tree.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
        except ValueError:
            raise ValueError(f"the arguments of {expression!r} must be literals") from None
        name = tree.func.id
    elif isinstance(tree, ast.Name):
        name, args, kwargs = tree.id, None, None
    else:
        raise ValueError(f"{expression!r} is not a name or a call in {module_name!r}")
    try:
        found = getattr(module, name)
    except AttributeError:
        raise AttributeError(f"Failed to find attribute {name!r} in {module_name!r}.") from None
    if args is not None:
        found = found(*args, **kwargs)
    if not callable(found):
        raise TypeError(f"{module_name}:{expression} is {type(found).__name__!r}, not a callable "
                        "WSGI app")
    return found

def load(module_name, expression):
    try:
        return find(module_name, expression), None
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and (tb.tb_frame.f_code.co_filename.startswith("<") or
                                  "importlib" in tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        return None, "".join(traceback.format_exception(type(error), error, tb)).rstrip("\n")
)";

// The standard library must be the one of the Python kiln was built for: another's (from
// PYTHONHOME, say) would load extension modules built for another ABI.
constexpr const char* check_source = R"(
import os, sys

def stdlib_version():
    folder = os.path.basename(os.path.dirname(os.__file__))
    return folder[len("python"):] if folder.startswith("python") else ""
)";

[[noreturn]] void fail_to_start(std::string_view what) {
  throw app_load_error(fmt::format(
      "Python {} ({}), which kiln was built for, cannot start: {}. Check PYTHONHOME, "
      "PYTHONPATH and virtualenv, or build kiln with -DPython3_EXECUTABLE for the Python this "
      "machine has",
      major_minor(built_version), built_executable, what));
}

// The virtual environment kiln itself was installed into (by pip: ENV/bin/kiln, beside
// ENV/pyvenv.cfg), whose packages the app then imports without a virtualenv setting; else "".
std::string enclosing_virtualenv() {
  char self[4096];
  ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return {};
  auto bin =
      std::filesystem::path(std::string(self, static_cast<std::size_t>(length))).parent_path();
  auto environment = bin.parent_path();
  std::error_code ignored;
  if (bin.filename() != "bin" || !std::filesystem::exists(environment / "pyvenv.cfg", ignored)) {
    return {};
  }
  return environment.string();
}

}  // namespace

bool interpreter_started() noexcept {
  return started;
}

void start_interpreter(const settings& config) {
  if (started) return;
  PyConfig python;
  PyConfig_InitPythonConfig(&python);
  // kiln's event loop owns the signals; Python must not install handlers of its own, nor
  // ignore SIGPIPE behind kiln's back.
  python.install_signal_handlers = 0;
  python.parse_argv = 0;
  char name[] = "kiln";
  char* argv[] = {name};
  PyStatus status = PyConfig_SetBytesArgv(&python, 1, argv);
  // Python finds its standard library, and a virtual environment's packages, from where its
  // executable is: the one kiln was built for, or the environment's (its pyvenv.cfg names the
  // same Python). Left to itself, an embedded Python would look for "python3" on the PATH.
  std::string environment = config.virtualenv.empty() ? enclosing_virtualenv() : config.virtualenv;
  std::string program =
      environment.empty() ? std::string(built_executable) : environment + "/bin/python3";
  if (!PyStatus_Exception(status)) {
    status = PyConfig_SetBytesString(&python, &python.program_name, program.c_str());
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&python);
  PyConfig_Clear(&python);
  if (PyStatus_Exception(status)) {
    fail_to_start(status.err_msg != nullptr ? status.err_msg : "Py_InitializeFromConfig failed");
  }
  started = true;

  py_ref stdlib_version = define(check_source, "stdlib_version");
  py_ref found = stdlib_version ? own(PyObject_CallNoArgs(stdlib_version.get())) : nullptr;
  const char* version = found ? PyUnicode_AsUTF8(found.get()) : nullptr;
  if (version == nullptr) fail_to_start(formatted_exception());
  if (*version != '\0' && major_minor(version) != major_minor(built_version)) {
    fail_to_start(fmt::format("its standard library is Python {}'s", version));
  }

  // chdir first on sys.path, as gunicorn has it, then pythonpath.
  PyObject* path = PySys_GetObject("path");  // Borrowed.
  std::vector<std::string> front;
  char here[4096];
  front.push_back(!config.chdir.empty() ? config.chdir
                                        : (getcwd(here, sizeof here) != nullptr ? here : "."));
  front.insert(front.end(), config.pythonpath.begin(), config.pythonpath.end());
  for (std::size_t i = 0; i < front.size() && path != nullptr; ++i) {
    py_ref entry = own(PyUnicode_DecodeFSDefault(front[i].c_str()));
    if (!entry || PyList_Insert(path, static_cast<Py_ssize_t>(i), entry.get()) != 0) {
      fail_to_start(formatted_exception());
    }
  }
}

void load_app(const settings& config) {
  if (app != nullptr) return;
  app_spec spec = parse_app_spec(config.wsgi_app);
  std::string expression = spec.name;
  if (spec.call) expression += "(" + spec.arguments + ")";
  py_ref load = define(load_source, "load");
  py_ref loaded =
      load ? own(PyObject_CallFunction(load.get(), "ss", spec.module.c_str(), expression.c_str()))
           : nullptr;
  PyObject* found = nullptr;
  PyObject* failure = nullptr;
  if (!loaded || !PyArg_ParseTuple(loaded.get(), "OO", &found, &failure)) {
    throw app_load_error(
        fmt::format("Failed to load the app {}:\n{}", config.wsgi_app, formatted_exception()));
  }
  if (failure != Py_None) {
    const char* text = PyUnicode_AsUTF8(failure);
    throw app_load_error(fmt::format("Failed to load the app {}:\n{}", config.wsgi_app,
                                     text != nullptr ? text : "(no traceback)"));
  }
  Py_INCREF(found);
  app = found;
}

PyObject* loaded_app() noexcept {
  return app;
}

void set_environment_variable(const std::string& name, const std::string& value) noexcept {
  ::setenv(name.c_str(), value.c_str(), 1);
  if (!started) return;
  py_ref os = own(PyImport_ImportModule("os"));
  py_ref environ = os ? own(PyObject_GetAttrString(os.get(), "environ")) : nullptr;
  py_ref key = own(PyUnicode_DecodeFSDefault(name.c_str()));
  py_ref text = own(PyUnicode_DecodeFSDefault(value.c_str()));
  if (!environ || !key || !text || PyObject_SetItem(environ.get(), key.get(), text.get()) != 0) {
    PyErr_Clear();
  }
}

void before_fork() noexcept {
  if (started) PyOS_BeforeFork();
}

void after_fork_in_parent() noexcept {
  if (started) PyOS_AfterFork_Parent();
}

void after_fork_in_child() noexcept {
  if (started) PyOS_AfterFork_Child();
}

void release_gil() noexcept {
  if (started && main_thread_state == nullptr) main_thread_state = PyEval_SaveThread();
}

void reacquire_gil() noexcept {
  if (main_thread_state != nullptr) PyEval_RestoreThread(std::exchange(main_thread_state, nullptr));
}

void run_exit_functions() noexcept {
  if (!started) return;
  py_ref atexit = own(PyImport_ImportModule("atexit"));
  py_ref ran = atexit ? own(PyObject_CallMethod(atexit.get(), "_run_exitfuncs", nullptr)) : nullptr;
  if (!ran) PyErr_Clear();
  for (const char* stream : {"stdout", "stderr"}) {
    PyObject* file = PySys_GetObject(stream);  // Borrowed.
    py_ref flushed = file != nullptr ? own(PyObject_CallMethod(file, "flush", nullptr)) : nullptr;
    if (!flushed) PyErr_Clear();
  }
}

std::string formatted_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  py_ref value = own(PyErr_GetRaisedException());
  if (!value) return "no exception";
  py_ref type = share(reinterpret_cast<PyObject*>(Py_TYPE(value.get())));
  py_ref traceback = own(PyException_GetTraceback(value.get()));
#else
  PyObject* raw_type = nullptr;
  PyObject* raw_value = nullptr;
  PyObject* raw_traceback = nullptr;
  PyErr_Fetch(&raw_type, &raw_value, &raw_traceback);
  if (raw_type == nullptr) return "no exception";
  PyErr_NormalizeException(&raw_type, &raw_value, &raw_traceback);
  py_ref type = own(raw_type);
  py_ref value = own(raw_value);
  py_ref traceback = own(raw_traceback);
#endif
  py_ref module = own(PyImport_ImportModule("traceback"));
  py_ref lines = module ? own(PyObject_CallMethod(module.get(), "format_exception", "OOO",
                                                  type.get(), value ? value.get() : Py_None,
                                                  traceback ? traceback.get() : Py_None))
                        : nullptr;
  py_ref empty = own(PyUnicode_FromString(""));
  py_ref joined = lines && empty ? own(PyUnicode_Join(empty.get(), lines.get())) : nullptr;
  const char* text = joined ? PyUnicode_AsUTF8(joined.get()) : nullptr;
  if (text == nullptr) {
    PyErr_Clear();
    py_ref described = value ? own(PyObject_Str(value.get())) : nullptr;
    text = described ? PyUnicode_AsUTF8(described.get()) : nullptr;
    std::string result = text != nullptr ? text : "an exception that cannot be shown";
    PyErr_Clear();
    return result;
  }
  std::string result(text);
  while (!result.empty() && result.back() == '\n')
    result.pop_back();
  return result;
}

}  // namespace kiln::python
