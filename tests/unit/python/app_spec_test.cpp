#include "python/app_spec.hpp"

#include <stdexcept>

#include <catch2/catch.hpp>

namespace kiln::python::test {

TEST_CASE("an app spec is read as gunicorn reads it", "[app_spec]") {
  auto plain = parse_app_spec("app");
  CHECK(plain.module == "app");
  CHECK(plain.name == "application");
  CHECK_FALSE(plain.call);

  auto named = parse_app_spec("myproject.wsgi:app");
  CHECK(named.module == "myproject.wsgi");
  CHECK(named.name == "app");

  auto factory = parse_app_spec("pkg.app:create_app()");
  CHECK(factory.name == "create_app");
  CHECK(factory.call);
  CHECK(factory.arguments.empty());

  auto with_arguments = parse_app_spec("app:create_app('production', debug=False)");
  CHECK(with_arguments.call);
  CHECK(with_arguments.arguments == "'production', debug=False");
}

TEST_CASE("a malformed app spec says what is wrong", "[app_spec]") {
  auto error_of = [](std::string_view text) -> std::string {
    try {
      parse_app_spec(text);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "no error";
  };
  CHECK(error_of("") == "\"\" does not start with a module name (MODULE or MODULE:NAME)");
  CHECK(error_of("my-app") ==
        "\"my-app\" does not start with a module name (MODULE or MODULE:NAME)");
  CHECK(error_of("pkg..mod") ==
        "\"pkg..mod\" does not start with a module name (MODULE or MODULE:NAME)");
  CHECK(error_of("1app:x") ==
        "\"1app:x\" does not start with a module name (MODULE or MODULE:NAME)");
  CHECK(error_of("app:") == "\"\" is not a name in the module (MODULE:NAME or MODULE:FACTORY())");
  CHECK(error_of("app:a.b") ==
        "\"a.b\" is not a name in the module (MODULE:NAME or MODULE:FACTORY())");
  CHECK(error_of("app:make(") == "\"make(\" is not a call: it must end with ')'");
  CHECK(error_of("app:(1)") ==
        "\"\" is not a name in the module (MODULE:NAME or MODULE:FACTORY())");
}

}  // namespace kiln::python::test
