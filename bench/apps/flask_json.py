"""A small Flask JSON endpoint, the shape of most of the teams' APIs."""
from flask import Flask

app = Flask(__name__)
application = app


@app.get("/api/data")
def data():
    return {"message": "Data from the backend", "items": [1, 2, 3]}
