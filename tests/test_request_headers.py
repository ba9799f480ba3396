from starlette.requests import Request

from app.request_headers import header


def request(*headers: tuple[bytes, bytes]) -> Request:
    return Request({"type": "http", "headers": list(headers)})


def test_header_reads_the_first_value_as_starlette_does():
    sent = request((b"content-type", b"image/png"), (b"content-type", b"text/plain"))
    assert header(sent, b"content-type") == sent.headers.get("content-type") == "image/png"


def test_header_absent_is_none():
    assert header(request((b"host", b"example")), b"content-type") is None


def test_header_reads_latin_1():
    assert header(request((b"x-name", "café".encode("latin-1"))), b"x-name") == "café"
