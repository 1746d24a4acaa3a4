#include "python/config_module.hpp"

#include <fmt/format.h>

#include "python/hooks.hpp"
#include "python/interpreter.hpp"
#include "python/py_ref.hpp"

namespace kiln::python {
namespace {

// Runs the file as gunicorn does (a module of its own), and describes its globals. A global's
// line is where the file last binds it; an exception is reported at the file's own line.
constexpr const char* runner_source = R"(
import ast, importlib.util, os, sys, traceback, types

def lines_of(source, path):
    lines = {}
    for node in ast.parse(source, path).body:
        names = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        for name in names:
            lines[name] = node.lineno
    return lines

def describe(value):
    if isinstance(value, bool):
        return "value", "true" if value else "false", []
    if value is None:
        return "value", "", []
    if isinstance(value, (int, float, str)):
        return "value", str(value), []
    if isinstance(value, dict):
        return "list", "", [f"{k}: {v}" for k, v in value.items()]
    if isinstance(value, (list, tuple)) and all(isinstance(i, (str, int, float)) for i in value):
        return "list", "", [str(i) for i in value]
    if callable(value) and not isinstance(value, (type, types.ModuleType)):
        return "callable", "", []
    return "other", "", []

def run(path):
    with open(path, encoding="utf-8") as file:
        source = file.read()
    try:
        lines = lines_of(source, path)
    except SyntaxError as error:
        return None, f"{path}:{error.lineno}: SyntaxError: {error.msg}"
    spec = importlib.util.spec_from_file_location("__config__", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        line = 0
        for frame, number in traceback.walk_tb(error.__traceback__):
            if os.path.abspath(frame.f_code.co_filename) == os.path.abspath(path):
                line = number
        return None, f"{path}:{line}: {type(error).__name__}: {error}"
    found = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        what, text, items = describe(value)
        found.append((name, lines.get(name, 0), what, text, items))
    return (module, found), None
)";

}  // namespace

std::vector<config_global> run_config_module(const std::string& path, const settings& boot) {
  try {
    start_interpreter(boot);
  } catch (const app_load_error& error) {
    throw config_module_error(fmt::format("{}: {}", path, error.what()));
  }
  py_ref globals = own(PyDict_New());
  py_ref ran = globals
                   ? own(PyRun_String(runner_source, Py_file_input, globals.get(), globals.get()))
                   : nullptr;
  PyObject* run = ran ? PyDict_GetItemString(globals.get(), "run") : nullptr;
  py_ref outcome = run != nullptr ? own(PyObject_CallFunction(run, "s", path.c_str())) : nullptr;
  PyObject* result = nullptr;
  PyObject* failure = nullptr;
  if (!outcome || !PyArg_ParseTuple(outcome.get(), "OO", &result, &failure)) {
    throw config_module_error(fmt::format("{}: {}", path, formatted_exception()));
  }
  if (failure != Py_None) {
    const char* text = PyUnicode_AsUTF8(failure);
    throw config_module_error(text != nullptr ? text : path + ": cannot be run");
  }
  PyObject* module = PyTuple_GetItem(result, 0);
  PyObject* found = PyTuple_GetItem(result, 1);
  keep_hooks(PyModule_GetDict(module));
  std::vector<config_global> globals_found;
  Py_ssize_t count = PyList_Size(found);
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* name = nullptr;
    int line = 0;
    PyObject* what = nullptr;
    PyObject* text = nullptr;
    PyObject* items = nullptr;
    if (!PyArg_ParseTuple(PyList_GetItem(found, i), "OiOOO", &name, &line, &what, &text, &items)) {
      throw config_module_error(fmt::format("{}: {}", path, formatted_exception()));
    }
    config_global global;
    global.name = PyUnicode_AsUTF8(name);
    global.line = line;
    std::string_view kind = PyUnicode_AsUTF8(what);
    global.what = kind == "value"      ? config_global::kind::value
                  : kind == "list"     ? config_global::kind::list
                  : kind == "callable" ? config_global::kind::callable
                                       : config_global::kind::other;
    global.text = PyUnicode_AsUTF8(text);
    for (Py_ssize_t j = 0; j < PyList_Size(items); ++j) {
      global.items.emplace_back(PyUnicode_AsUTF8(PyList_GetItem(items, j)));
    }
    globals_found.push_back(std::move(global));
  }
  return globals_found;
}

}  // namespace kiln::python
