#pragma once

#include <string>
#include <string_view>

#include <kiln/request.hpp>

namespace kiln {

// What a request path says about the file it names.
enum class path_verdict {
  file,         // A file path relative to the root was produced.
  bad_request,  // The path is malformed or tries to leave the root: 400.
  not_found,    // The path can never name a servable file (a dotfile, say): 404.
};

// Decodes a request path ("/assets/app%201.js") into a path relative to the static root
// ("assets/app 1.js"). A path ending in '/' names that directory's index.html. Paths that could
// leave the root ("..", encoded or not), NUL bytes and backslashes are refused.
path_verdict to_relative_path(std::string_view encoded_path, std::string& relative);

// True for a file name that carries a content hash ("app.3f9a1c2b.js", "index-BxG3a9kF.css"):
// its contents never change, so browsers may cache it for good.
bool is_content_hashed(std::string_view file_name) noexcept;

// True for a request a browser makes when it navigates to a page of a single-page app: GET or
// HEAD, accepting text/html, a last path segment without an extension, and not under the API
// prefix. Such a request gets index.html when no file matches.
bool is_page_navigation(const request& req, std::string_view api_prefix) noexcept;

}  // namespace kiln
