// An API beside a single-page app, in one binary: an in-memory books resource under /api/books.
// Everything else kiln already does: run it with --static-root examples/spa/dist --spa-fallback.
//
// kiln forks its workers after main() has built the app, so every worker has its own copy of
// this store: a book added through one worker is not seen by the others. That is fine for an
// example; a real application keeps its data in a database.
#include <map>
#include <string>

#include <kiln/kiln.hpp>

namespace {

struct book {
  std::string title;
  std::string author;
};

std::map<long, book> books = {
    {1, {"The Left Hand of Darkness", "Ursula K. Le Guin"}},
    {2, {"Invisible Cities", "Italo Calvino"}},
    {3, {"The Periodic Table", "Primo Levi"}},
};
long next_id = 4;

nlohmann::json to_json(long id, const book& b) {
  return {{"id", id}, {"title", b.title}, {"author", b.author}};
}

// The {id} parameter as a number; an id that is not one names no book.
long book_id(const kiln::request& req) {
  std::string text(req.param("id").value_or(""));
  std::size_t used = 0;
  long id = 0;
  try {
    id = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || books.find(id) == books.end()) {
    throw kiln::http_error(404, "no such book");
  }
  return id;
}

// A string field of a JSON object; 400 when it is missing, not a string, or empty.
std::string required_string(const nlohmann::json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || !body[name].is_string() ||
      body[name].get<std::string>().empty()) {
    throw kiln::http_error(400, std::string("the body needs a non-empty string \"") + name + "\"");
  }
  return body[name].get<std::string>();
}

}  // namespace

int main(int argc, char** argv) {
  kiln::app api;
  api.get("/api/books", [](const kiln::request&) {
    auto list = nlohmann::json::array();
    for (const auto& [id, b] : books)
      list.push_back(to_json(id, b));
    return kiln::response::json(list);
  });
  api.get("/api/books/{id}", [](const kiln::request& req) {
    long id = book_id(req);
    return kiln::response::json(to_json(id, books[id]));
  });
  api.post("/api/books", [](const kiln::request& req) {
    nlohmann::json body = req.json();  // Throws http_error(400) when the body is not JSON.
    book added{required_string(body, "title"), required_string(body, "author")};
    long id = next_id++;
    books[id] = added;
    auto created = kiln::response::json(to_json(id, added), 201);
    created.set_header("Location", "/api/books/" + std::to_string(id));
    return created;
  });
  api.del("/api/books/{id}", [](const kiln::request& req) {
    books.erase(book_id(req));
    return kiln::response::empty();
  });
  return kiln::run(api, argc, argv);
}
