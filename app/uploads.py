"""Reading uploaded images as they stream in, within size limits: multipart parts, or one raw body.

Starlette's form parser spools every file, however large, to a temporary file before a route sees it.
Here each part is counted while it arrives, so an oversized file or one file too many is refused at
once and memory never holds more than ``max_total_bytes`` of files. The parser is ``multipart``'s
push parser: it finds boundaries and header lines with ``bytes.find``, where python-multipart (Starlette's)
steps through each part's headers a byte at a time in Python, 2.6 times the instructions per digit upload.

An image may also be the whole body, sent with its own content type (``Content-Type: image/png``), as
TorchServe and KServe's v1 protocol take it: no multipart to parse, the same per-file limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from app.request_headers import header

MAX_BOUNDARY_LENGTH = 70  # RFC 2046, section 5.1.1
# Content types of an image sent as the whole body; Pillow reads the format from the bytes themselves.
RAW_IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp")
_RAW_IMAGE_ALIASES = {"image/jpg": "image/jpeg", "image/x-ms-bmp": "image/bmp", "image/x-png": "image/png"}
RAW_BODY_NAME = "body"  # how errors name an image sent as the body


@dataclass
class UploadedFile:
    filename: str
    data: bytearray = field(default_factory=bytearray)


def is_raw_image(content_type: str) -> bool:
    """Whether a body of this content type is one image file (``image/...``), rather than multipart."""
    return content_type[:6].lower() == "image/"


async def read_images(
    request: Request, *, field_name: str, max_files: int, max_file_bytes: int, max_total_bytes: int
) -> list[UploadedFile]:
    """The uploaded image files: an image body (``image/png``, ...) or the file parts of a multipart body."""
    content_type = header(request, b"content-type") or ""
    if is_raw_image(content_type):
        return [await read_image_body(request, content_type, max_file_bytes=max_file_bytes)]
    return await read_files(
        request,
        content_type,
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
    too_large = _file_too_large(RAW_BODY_NAME, max_file_bytes)
    length = header(request, b"content-length") or ""
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
    request: Request,
    content_type: str,
    *,
    field_name: str,
    max_files: int,
    max_file_bytes: int,
    max_total_bytes: int,
) -> list[UploadedFile]:
    """Every file part of a multipart body of ``content_type``, in order; anything else is a ClientError."""
    media_type, options = parse_options_header(content_type)
    if media_type != "multipart/form-data":
        raise UnsupportedMediaTypeError(
            f"expected a multipart/form-data body with image parts named {field_name!r}, or one image as "
            f"the body ({', '.join(RAW_IMAGE_TYPES)}); got {media_type or 'no content type'}"
        )
    boundary = options.get("boundary")
    if not boundary:
        raise MalformedRequestError("multipart/form-data body without a boundary parameter")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise MalformedRequestError(
            f"multipart boundary is {len(boundary)} characters; RFC 2046 allows 1 to {MAX_BOUNDARY_LENGTH}"
        )
    files: list[UploadedFile] = []
    total_bytes = 0
    try:
        # Part headers read as latin-1, which takes any byte; names are then read as UTF-8 (below).
        parser = PushMultipartParser(boundary, header_charset="latin-1")
        async for chunk in request.stream():
            if not chunk:  # the stream's last chunk is empty, which the parser would take as its end
                continue
            for event in parser.parse(chunk):
                if event is None:  # the end of a part
                    continue
                if isinstance(event, MultipartSegment):
                    files.append(_file_part(event, field_name, len(files), max_files))
                    continue
                part = files[-1]
                part.data += event
                total_bytes += len(event)
                if total_bytes > max_total_bytes:
                    raise PayloadTooLargeError(
                        f"the files in this request together exceed the limit of {max_total_bytes} bytes"
                    )
                if len(part.data) > max_file_bytes:
                    raise _file_too_large(part.filename, max_file_bytes)
    except MultipartError as exc:  # the parser's errors for a broken body
        raise MalformedRequestError(f"malformed multipart body: {exc}") from None
    try:
        parser.close()
    except MultipartError:
        raise MalformedRequestError("malformed multipart body: it ends before its closing boundary") from None
    if not files:
        raise MalformedRequestError(f"no file uploaded: send one or more image parts named {field_name!r}")
    return files


def _file_part(part: MultipartSegment, field_name: str, count: int, max_files: int) -> UploadedFile:
    """A new file for ``part``: refused when the part is not a file named ``field_name``, or when ``count``
    files have already filled the request's ``max_files``."""
    name = _utf8(part.name)
    if name != field_name:
        raise MalformedRequestError(
            f"unexpected form field {name!r}; send each image as a file part named {field_name!r}"
        )
    if part.filename is None:  # a plain form value, as `curl -F file=<path` (not @path) sends
        raise MalformedRequestError(
            f"form field {name!r} is a value, not a file: it has no filename in its Content-Disposition; "
            f"upload the image as a file (curl: -F {name}=@digit.png)"
        )
    if count == max_files:
        raise PayloadTooLargeError(f"too many files: at most {max_files} images per request")
    return UploadedFile(filename=_utf8(part.filename))


def _file_too_large(filename: str, max_file_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"file {filename!r} is larger than the upload limit of {max_file_bytes} bytes"
    )


def _utf8(header_text: str) -> str:
    """A part header's text read as latin-1, decoded as the UTF-8 that clients send today."""
    return header_text.encode("latin-1").decode("utf-8", "replace")
