"""Reading a user's CSV file as spreadsheets and other tools write it, into features and 0/1 labels.

Excel's "CSV UTF-8" starts with a byte-order mark; European locales separate fields with ';' and write
decimal commas; other tools write tabs, quote fields, or end lines with CRLF. All of these read here, and
anything else stops with one line that names the file, the line and the problem.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from training.common import UsageError, log

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
SNIFF_LINES = 50  # lines read to tell the separator
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


@dataclass(frozen=True)
class Table:
    """Features [N, F] float64 (raw units), labels [N] float64 in {0., 1.}, and how the file was read."""

    features: torch.Tensor
    labels: torch.Tensor
    feature_names: tuple[str, ...]
    label_name: str
    positive: str  # the label value read as class 1
    delimiter: str
    ignored_columns: tuple[str, ...]


def read_table(
    path: Path,
    feature_names: tuple[str, ...],
    label_name: str,
    *,
    positive: str | None = None,
    delimiter: str | None = None,
) -> Table:
    """Read ``path``: the named feature columns and the label column; UsageError names file and line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # utf-8-sig: with or without a BOM
            sample = list(itertools.islice(f, SNIFF_LINES))
            f.seek(0)
            if not "".join(sample).strip():
                raise UsageError(f"{path} is empty (expected a header line and data rows)")
            delimiter = delimiter or sniff_delimiter(path, sample)
            rows = list(csv.reader(f, delimiter=delimiter, strict=True))
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 (Excel: File > Save As)"
        ) from None
    except csv.Error as exc:
        raise UsageError(f"{path}: cannot be read as CSV ({exc})") from None

    header = [name.strip() for name in rows[0]]
    columns = _column_indices(path, header, feature_names, label_name, delimiter)
    data = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not data:
        raise UsageError(f"{path} has a header but no data rows")
    decimal_comma = delimiter != ","
    features = []
    raw_labels = []
    for line, row in data:
        if len(row) != len(header):
            raise UsageError(f"{path} line {line}: {len(row)} fields, but the header has {len(header)}")
        features.append(
            [_parse_number(path, line, name, row[columns[name]], decimal_comma) for name in feature_names]
        )
        label = row[columns[label_name]].strip()
        if not label:
            raise UsageError(f"{path} line {line}: {label_name} is missing")
        raw_labels.append((line, label))

    labels, positive = _binary_labels(path, label_name, raw_labels, positive, decimal_comma)
    ignored = tuple(name for name in header if name not in (*feature_names, label_name))
    return Table(
        features=torch.tensor(features, dtype=torch.float64),
        labels=torch.tensor(labels, dtype=torch.float64),
        feature_names=feature_names,
        label_name=label_name,
        positive=positive,
        delimiter=delimiter,
        ignored_columns=ignored,
    )


def sniff_delimiter(path: Path, lines: list[str]) -> str:
    """The separator that splits the header into the most columns, with most sampled rows alike.

    A row of another width is then reported by the reader with its line number.
    """
    best, best_columns, error = None, 1, None
    for candidate in DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=candidate, strict=True) if row]
        except csv.Error as exc:  # e.g. a quote never closed: whatever the separator
            error = exc
            continue
        if len(lines) == SNIFF_LINES:
            rows = rows[:-1]  # the sample may end inside a quoted field that the next line closes
        columns, data = len(rows[0]), rows[1:]
        alike = sum(len(row) == columns for row in data)
        if columns > best_columns and 2 * alike >= len(data):
            best, best_columns = candidate, columns
    if best is None and error is not None:
        raise UsageError(f"{path}: cannot be read as CSV ({error})")
    if best is None:
        raise UsageError(
            f"{path}: cannot tell the field separator (tried comma, semicolon and tab); "
            "pass --delimiter, e.g. --delimiter ';'"
        )
    return best


def warn_ignored(table: Table) -> None:
    """One line naming the columns a run does not use: it still trains."""
    if table.ignored_columns:
        log(
            f"warning: ignoring column{'s' if len(table.ignored_columns) > 1 else ''} "
            f"{', '.join(table.ignored_columns)} (not in --features or --label)"
        )


def _column_indices(
    path: Path, header: list[str], feature_names: tuple[str, ...], label_name: str, delimiter: str
) -> dict[str, int]:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise UsageError(f"{path}: the header names {', '.join(duplicates)} more than once")
    if label_name in feature_names:
        raise UsageError(f"--label {label_name} is also in --features")
    missing = [name for name in (*feature_names, label_name) if name not in header]
    if missing:
        raise UsageError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"the header ({DELIMITERS.get(delimiter, repr(delimiter))}-separated) has "
            f"{', '.join(header)}. Pick columns with --features and --label"
            + ("" if len(header) > 1 else ", or the separator with --delimiter")
        )
    return {name: header.index(name) for name in (*feature_names, label_name)}


def _parse_number(path: Path, line: int, column: str, text: str, decimal_comma: bool) -> float:
    text = text.strip()
    if not text:
        raise UsageError(f"{path} line {line}: {column} is missing")
    if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")  # "1,5" in a ';' or tab file: a decimal comma
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{path} line {line}: {column} value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{path} line {line}: {column} value {text!r} is not a finite number")
    return value


def _binary_labels(
    path: Path,
    label_name: str,
    raw: list[tuple[int, str]],
    positive: str | None,
    decimal_comma: bool,
) -> tuple[list[float], str]:
    """Label texts -> 0./1.: ``positive`` is class 1 and exactly one other value class 0; else 0 and 1."""
    values = sorted({text for _, text in raw})
    if positive is not None:
        if positive not in values:
            raise UsageError(
                f"{path}: --positive {positive!r} is not a value of {label_name} (found {_some(values)})"
            )
        if len(values) > 2:
            raise UsageError(
                f"{path}: {label_name} has {len(values)} distinct values ({_some(values)}); "
                "a binary classifier needs exactly two"
            )
        labels = [float(text == positive) for _, text in raw]
    else:
        labels = []
        for line, text in raw:
            try:
                label = _parse_number(path, line, label_name, text, decimal_comma)
            except UsageError:
                label = None
            if label not in (0.0, 1.0):
                raise UsageError(
                    f"{path} line {line}: {label_name} must be 0 or 1, got {text!r}; "
                    f"for other labels name the positive class with --positive (values: {_some(values)})"
                )
            labels.append(label)
        positive = "1"
    if len(set(labels)) < 2:
        only = raw[0][1]
        raise UsageError(
            f"{path}: every row has {label_name} = {only!r}; a classifier needs rows of both classes"
        )
    return labels, positive


def _some(values: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
