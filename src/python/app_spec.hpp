#pragma once

#include <string>
#include <string_view>

namespace kiln::python {

// Where the WSGI app is, written as gunicorn writes it: "module" (its callable "application"),
// "module:name", or "module:factory()" / "module:factory(args)", whose result is the app.
struct app_spec {
  std::string module;     // "myproject.wsgi"
  std::string name;       // "application", "app", "create_app"
  std::string arguments;  // What is between the parentheses of a factory call.
  bool call = false;      // "name(...)": call it to get the app.
};

// Reads an app spec; throws std::invalid_argument saying what is wrong. The arguments of a
// factory are checked when the app is loaded, by Python (literals only, as in gunicorn).
app_spec parse_app_spec(std::string_view text);

}  // namespace kiln::python
