#include <kiln/app.hpp>

// The stock kiln: an application with no routes, serving static files and health endpoints.
int main(int argc, char** argv) {
  kiln::app no_routes;
  return kiln::run(no_routes, argc, argv);
}
