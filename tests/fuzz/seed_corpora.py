#!/usr/bin/python3
"""Seeds the fuzz corpora (tests/fuzz/corpus/NAME/) from what the tests already know: every
request fixture, the paths, ranges and dates of the static file tests, and the configuration
files. Run it again after adding fixtures; libFuzzer's finds are added to the same folders."""
import hashlib
import pathlib
import struct
import tomllib

here = pathlib.Path(__file__).resolve().parent
root = here.parent.parent


def decode_raw(text):
    """A fixture's raw text as bytes, as tests/support/fixtures.cpp decodes it."""
    text = text.replace("\n", "")
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = text[i + 1]
        if e == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
            continue
        out += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}[e]
        i += 2
    return bytes(out)


def write(target, data):
    folder = here / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


for fixture in sorted((root / "tests/fixtures/requests").glob("*/*.toml")):
    raw = decode_raw(tomllib.loads(fixture.read_text())["raw"])
    # Control bytes: default limits, whole reads of up to 64 bytes; and small limits.
    write("request_path", bytes([0, 0, 0, 1]) + raw)
    write("request_path", bytes([63, 40, 40, 7]) + raw)

for path in ["/", "/index.html", "/assets/app.3f9a1c2b.js", "/a%20b/c.txt", "/../etc/passwd",
             "/%2e%2e/secret", "/.env", "/.well-known/security.txt", "/a/./b//c/", "/a%00b",
             "/a\\b", "/dir/", "/%2F%2f", "/index-BxG3a9kF.css", "/%zz", "/a/.hidden/b"]:
    write("static_path", path.encode())

size = struct.pack("<Q", 10000)
for value in ["bytes=0-499", "bytes=500-", "bytes=-500", "bytes=0-0,5-9", "BYTES = 1-2",
              "bytes=9999-", "bytes=10000-", "bytes=-0", "Sun, 06 Nov 1994 08:49:37 GMT",
              "Mon, 29 Feb 2016 23:59:60 GMT", "  Thu, 01 Jan 1970 00:00:00 GMT ",
              "W/\"abc\", \"def\"", "*", "br;q=0, gzip;q=0.5, *;q=0", "gzip, deflate, br"]:
    write("http_fields", size + value.encode())

for toml_file in sorted((root / "config").glob("*.toml")):
    text = toml_file.read_text()
    write("configuration", text.encode() + b"\n--\nPORT=8000\nHTTP_SERVE_TIMEOUT_SECONDS=30\n--\n")
write("configuration", b'workers = "${WEB_CONCURRENCY:-2}"\nbind = ["${HOST:?x}:1"]\n--\n'
      b"HOST=127.0.0.1\nKILN_KEEPALIVE=5\n--\n--workers\nauto\n-b\nunix:/tmp/k.sock")
write("configuration", b"timeout = nan\n--\nKILN_KEEP_ALIVE=3\n--\n--no-reuse-port")
