"""Reading uploaded images as they stream in, within size limits: multipart parts, or one raw body.

Starlette's form parser spools every file, however large, to a temporary file before a route sees it.
Here each part is counted while it arrives, so an oversized file or one file too many is refused at
once and memory never holds more than ``max_total_bytes`` of files.

An image may also be the whole body, sent with its own content type (``Content-Type: image/png``), as
TorchServe and KServe's v1 protocol take it: no multipart to parse, the same per-file limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import ClientError, MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

MAX_BOUNDARY_LENGTH = 70  # RFC 2046, section 5.1.1
# Content types of an image sent as the whole body; Pillow reads the format from the bytes themselves.
RAW_IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp")
_RAW_IMAGE_ALIASES = {"image/jpg": "image/jpeg", "image/x-ms-bmp": "image/bmp", "image/x-png": "image/png"}
RAW_BODY_NAME = "body"  # how errors name an image sent as the body


@dataclass
class UploadedFile:
    filename: str
    data: bytearray = field(default_factory=bytearray)


class _PartCollector:
    """Callbacks for python-multipart's parser; raises as soon as a limit is crossed."""

    def __init__(self, field_name: str, max_files: int, max_file_bytes: int, max_total_bytes: int) -> None:
        self.field_name, self.max_files, self.max_file_bytes = field_name, max_files, max_file_bytes
        self.max_total_bytes, self.total_bytes = max_total_bytes, 0
        self.files: list[UploadedFile] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_name = self._header_value = b""
        self._current: UploadedFile | None = None
        self.complete = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_end": self._on_end,
        }

    def _on_part_begin(self) -> None:
        self._headers, self._current = {}, None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != self.field_name:
            raise MalformedRequestError(
                f"unexpected form field {name!r}; send each image as a file part named {self.field_name!r}"
            )
        if b"filename" not in options:  # a plain form value, as `curl -F file=<path` (not @path) sends
            raise MalformedRequestError(
                f"form field {name!r} is a value, not a file: it has no filename in its Content-Disposition; "
                f"upload the image as a file (curl: -F {name}=@digit.png)"
            )
        if len(self.files) == self.max_files:
            raise PayloadTooLargeError(f"too many files: at most {self.max_files} images per request")
        self._current = UploadedFile(filename=options[b"filename"].decode("utf-8", "replace"))
        self.files.append(self._current)

    def _on_end(self) -> None:
        self.complete = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None:
            return
        part.data += data[start:end]
        self.total_bytes += end - start
        if self.total_bytes > self.max_total_bytes:
            raise PayloadTooLargeError(
                f"the files in this request together exceed the limit of {self.max_total_bytes} bytes"
            )
        if len(part.data) > self.max_file_bytes:
            raise PayloadTooLargeError(
                f"file {part.filename!r} is larger than the upload limit of {self.max_file_bytes} bytes"
            )


def is_raw_image(content_type: str) -> bool:
    """Whether a body of this content type is one image file (``image/...``), rather than multipart."""
    return content_type[:6].lower() == "image/"


async def read_images(
    request: Request, *, field_name: str, max_files: int, max_file_bytes: int, max_total_bytes: int
) -> list[UploadedFile]:
    """The uploaded image files: an image body (``image/png``, ...) or the file parts of a multipart body."""
    content_type = request.headers.get("content-type", "")
    if is_raw_image(content_type):
        return [await read_image_body(request, content_type, max_file_bytes=max_file_bytes)]
    return await read_files(
        request,
        field_name=field_name,
        max_files=max_files,
        max_file_bytes=max_file_bytes,
        max_total_bytes=max_total_bytes,
    )


async def read_image_body(request: Request, content_type: str, *, max_file_bytes: int) -> UploadedFile:
    """The body as one image file, refused at once when it declares or reaches more than the file limit."""
    media = content_type.partition(";")[0].strip().lower()
    media = _RAW_IMAGE_ALIASES.get(media, media)
    if media not in RAW_IMAGE_TYPES:
        raise UnsupportedMediaTypeError(
            f"image type {media} is not supported; send one of {', '.join(RAW_IMAGE_TYPES)}"
        )
    too_large = PayloadTooLargeError(
        f"file {RAW_BODY_NAME!r} is larger than the upload limit of {max_file_bytes} bytes"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_file_bytes:
        raise too_large
    image = UploadedFile(filename=RAW_BODY_NAME)
    try:
        async for chunk in request.stream():
            image.data += chunk
            if len(image.data) > max_file_bytes:
                raise too_large
    except ClientDisconnect:
        raise MalformedRequestError("the request body ended before it was complete") from None
    return image


async def read_files(
    request: Request, *, field_name: str, max_files: int, max_file_bytes: int, max_total_bytes: int
) -> list[UploadedFile]:
    """Every file part of a multipart body, in order; refuses anything else with a ClientError."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        got = content_type.decode("latin-1") or "no content type"
        raise UnsupportedMediaTypeError(
            f"expected a multipart/form-data body with image parts named {field_name!r}, or one image as "
            f"the body ({', '.join(RAW_IMAGE_TYPES)}); got {got}"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedRequestError("multipart/form-data body without a boundary parameter")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise MalformedRequestError(
            f"multipart boundary is {len(boundary)} characters; RFC 2046 allows 1 to {MAX_BOUNDARY_LENGTH}"
        )
    collector = _PartCollector(field_name, max_files, max_file_bytes, max_total_bytes)
    try:
        # Built inside the handler: python-multipart refuses some boundaries when the parser is made.
        parser = MultipartParser(boundary, collector.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except ClientError:
        raise
    except Exception as exc:  # python-multipart's errors for a broken body
        raise MalformedRequestError(f"malformed multipart body: {exc}") from None
    if not collector.complete:
        raise MalformedRequestError("malformed multipart body: it ends before its closing boundary")
    if not collector.files:
        raise MalformedRequestError(f"no file uploaded: send one or more image parts named {field_name!r}")
    return collector.files
