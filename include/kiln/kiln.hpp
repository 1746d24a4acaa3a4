#pragma once

// Everything an application needs: kiln::app, kiln::request, kiln::response, kiln::run.
#include <kiln/app.hpp>
#include <kiln/request.hpp>
#include <kiln/response.hpp>
