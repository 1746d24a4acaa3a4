#include "mime_types.hpp"

#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("mime_type_for: the types a built single-page app needs", "[mime_types]") {
  CHECK(mime_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(mime_type_for("page.htm") == "text/html; charset=utf-8");
  CHECK(mime_type_for("app.js") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for("module.mjs") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for("style.css") == "text/css; charset=utf-8");
  CHECK(mime_type_for("data.json") == "application/json");
  CHECK(mime_type_for("app.js.map") == "application/json");
  CHECK(mime_type_for("site.webmanifest") == "application/manifest+json");
  CHECK(mime_type_for("module.wasm") == "application/wasm");
  CHECK(mime_type_for("logo.svg") == "image/svg+xml");
  CHECK(mime_type_for("logo.png") == "image/png");
  CHECK(mime_type_for("photo.jpg") == "image/jpeg");
  CHECK(mime_type_for("photo.jpeg") == "image/jpeg");
  CHECK(mime_type_for("anim.gif") == "image/gif");
  CHECK(mime_type_for("photo.webp") == "image/webp");
  CHECK(mime_type_for("photo.avif") == "image/avif");
  CHECK(mime_type_for("favicon.ico") == "image/x-icon");
  CHECK(mime_type_for("font.woff") == "font/woff");
  CHECK(mime_type_for("font.woff2") == "font/woff2");
  CHECK(mime_type_for("font.ttf") == "font/ttf");
  CHECK(mime_type_for("font.otf") == "font/otf");
  CHECK(mime_type_for("robots.txt") == "text/plain; charset=utf-8");
  CHECK(mime_type_for("sitemap.xml") == "application/xml");
  CHECK(mime_type_for("doc.pdf") == "application/pdf");
  CHECK(mime_type_for("clip.mp4") == "video/mp4");
  CHECK(mime_type_for("clip.webm") == "video/webm");
  CHECK(mime_type_for("sound.mp3") == "audio/mpeg");
  CHECK(mime_type_for("archive.zip") == "application/zip");
  // The last extension decides: a precompressed sibling asked for directly is gzip data.
  CHECK(mime_type_for("app.js.gz") == "application/gzip");
  CHECK(mime_type_for("archive.tar.gz") == "application/gzip");
}

TEST_CASE("mime_type_for: extensions without regard to case", "[mime_types]") {
  CHECK(mime_type_for("INDEX.HTML") == "text/html; charset=utf-8");
  CHECK(mime_type_for("Photo.JPG") == "image/jpeg");
  CHECK(mime_type_for("app.Js") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for("font.WOFF2") == "font/woff2");
  CHECK(mime_type_for("site.WebManifest") == "application/manifest+json");
}

TEST_CASE("mime_type_for: unknown and missing extensions are octet-stream", "[mime_types]") {
  for (const char* name : {
           "",
           "README",
           "file.",
           "file..",
           "archive.rar",
           "binary.exe",
           "app.jsx",
           "app.j",
           "app.js~",
           "app.js ",
           "image.png.bak",
           ".",
           "a.thisextensionislongerthansixteen",
           "a.webmanifestwebmanifest",
       }) {
    INFO('"' << name << '"');
    CHECK(mime_type_for(name) == "application/octet-stream");
  }
  CHECK(mime_type_for(std::string("a.js\0", 5)) == "application/octet-stream");
}

TEST_CASE("mime_type_for: only the last path segment counts", "[mime_types]") {
  CHECK(mime_type_for("assets/app.js") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for("v1.2/app.css") == "text/css; charset=utf-8");
  CHECK(mime_type_for("v1.2/README") == "application/octet-stream");
  CHECK(mime_type_for("site.html/page") == "application/octet-stream");
  CHECK(mime_type_for("a.b.c/d.e.f/logo.PNG") == "image/png");
  CHECK(mime_type_for("dir.js/") == "application/octet-stream");
  CHECK(mime_type_for("/abs/path/index.html") == "text/html; charset=utf-8");
  CHECK(mime_type_for(".well-known/security.txt") == "text/plain; charset=utf-8");
}

}  // namespace kiln::test
