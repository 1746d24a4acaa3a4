"""kiln's Flask example: an API and the single-page app in examples/spa, as a team ships them.

Like the reference deployment's app, it answers /api/... and serves the built SPA itself: any
other path is a file of the build, or index.html for the app's router. Run on kiln with kiln's
static files in front (examples/flask/README.md), Flask only ever sees /api/...; alone, it
works all the same.

The books live in memory, one copy per worker process; a real app keeps them in a database.
"""
import os
import threading

from flask import Flask, abort, jsonify, request, send_from_directory

# The built SPA: SPA_DIST, or examples/spa/dist beside this folder.
dist = os.environ.get("SPA_DIST") or os.path.join(os.path.dirname(__file__), "..", "spa", "dist")
app = Flask(__name__, static_folder=os.path.abspath(dist), static_url_path=None)

books = {
    1: {"title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin"},
    2: {"title": "Invisible Cities", "author": "Italo Calvino"},
    3: {"title": "The Periodic Table", "author": "Primo Levi"},
}
books_lock = threading.Lock()  # kiln runs requests on several threads.


def as_json(book_id, book):
    return {"id": book_id, "title": book["title"], "author": book["author"]}


@app.get("/api/data")
def data():
    return {"message": "Data from the backend"}


@app.get("/api/books")
def list_books():
    with books_lock:
        return jsonify([as_json(i, b) for i, b in sorted(books.items())])


@app.get("/api/books/<int:book_id>")
def get_book(book_id):
    with books_lock:
        if book_id not in books:
            abort(404, description="no such book")
        return as_json(book_id, books[book_id])


@app.post("/api/books")
def add_book():
    body = request.get_json(silent=True) or {}
    title, author = body.get("title"), body.get("author")
    if not isinstance(title, str) or not title or not isinstance(author, str) or not author:
        return {"error": "the body needs non-empty strings \"title\" and \"author\""}, 400
    with books_lock:
        book_id = max(books, default=0) + 1
        books[book_id] = {"title": title, "author": author}
        return as_json(book_id, books[book_id]), 201


@app.errorhandler(404)
def not_found(error):
    if request.path.startswith("/api/"):
        return {"error": error.description}, 404
    return error


@app.get("/", defaults={"path": ""})
@app.get("/<path:path>")
def spa(path):
    # A built asset when one exists; otherwise the app's shell, whose router shows the page.
    if path.startswith("api/"):
        abort(404, description="no such API")
    candidate = os.path.join(app.static_folder, path)
    if path and os.path.isfile(candidate):
        return send_from_directory(app.static_folder, path)
    return send_from_directory(app.static_folder, "index.html")
