"""training.tabular: CSV files as spreadsheets write them, and one clear message per problem."""

import pytest
import torch

from training.common import UsageError
from training.tabular import read_table

FEATURES = ("x1", "x2")


def read(path, features=FEATURES, label="y", **options):
    return read_table(path, features, label, **options)


def write_bytes(tmp_path, data, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"x1,x2,y\n1,2,0\n3,4,1\n", ","),
        (b"\xef\xbb\xbfx1,x2,y\r\n1,2,0\r\n3,4,1\r\n", ","),
        (b"x1;x2;y\n1;2;0\n3;4;1\n", ";"),
        (b"x1\tx2\ty\n1\t2\t0\n3\t4\t1\n", "\t"),
        (b'"x1","x2","y"\n"1","2","0"\n"3","4","1"\n', ","),
        (b"\xef\xbb\xbfx1;x2;y\r\n1,0;2;0\r\n3;4,0;1\r\n", ";"),
    ],
    ids=["comma", "excel-utf8-bom-crlf", "semicolon", "tab", "quoted", "semicolon-decimal-comma"],
)
def test_read_table_dialects_give_the_same_rows(tmp_path, data, delimiter):
    table = read(write_bytes(tmp_path, data))
    assert table.delimiter == delimiter
    assert table.features.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert table.labels.tolist() == [0.0, 1.0]


def test_read_table_quoted_field_with_separator_and_thousands(tmp_path):
    path = write_bytes(tmp_path, b'city,income,age,y\n"Paris, FR",52000,31,1\n"Oslo",41000,45,0\n')
    table = read(path, ("income", "age"))
    assert table.features.tolist() == [[52000.0, 31.0], [41000.0, 45.0]]
    assert table.ignored_columns == ("city",)


def test_read_table_delimiter_option_overrides_sniffing(tmp_path):
    path = write_bytes(tmp_path, b"x1|x2|y\n1|2|0\n3|4|1\n")
    assert read(path, delimiter="|").features.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_read_table_picks_columns_by_name_in_the_order_asked(tmp_path):
    path = write_bytes(tmp_path, b"age,approved,income\n31,yes,52000\n45,no,41000\n")
    table = read(path, ("income", "age"), "approved", positive="yes")
    assert table.features.tolist() == [[52000.0, 31.0], [41000.0, 45.0]]
    assert table.labels.tolist() == [1.0, 0.0]
    assert table.ignored_columns == ()


def test_read_table_skips_blank_lines(tmp_path):
    path = write_bytes(tmp_path, b"x1,x2,y\n1,2,0\n\n3,4,1\n\n")
    assert len(read(path).labels) == 2


@pytest.mark.parametrize(
    ("data", "options", "problem"),
    [
        (b"", {}, "{path} is empty (expected a header line and data rows)"),
        (b"x1,x2,y\n", {}, "{path} has a header but no data rows"),
        (
            b"x1;x3;y\n1;2;0\n",
            {},
            "{path}: missing column x2; the header (semicolon-separated) has x1, x3, y. "
            "Pick columns with --features and --label",
        ),
        (
            b"x1|x2|y\n1|2|0\n",
            {},
            "{path}: cannot tell the field separator (tried comma, semicolon and tab); "
            "pass --delimiter, e.g. --delimiter ';'",
        ),
        (
            b"x1;x2;y\n1;2;0\n",
            {"delimiter": ","},
            "{path}: missing columns x1, x2, y; the header (comma-separated) has x1;x2;y. "
            "Pick columns with --features and --label, or the separator with --delimiter",
        ),
        (b"x1,x2,y\n1,2,0\n1,abc,1\n", {}, "{path} line 3: x2 value 'abc' is not a number"),
        (b"x1,x2,y\nnan,2,0\n", {}, "{path} line 2: x1 value 'nan' is not a finite number"),
        (b"x1,x2,y\n1,-inf,0\n", {}, "{path} line 2: x2 value '-inf' is not a finite number"),
        (b"x1,x2,y\n1,,0\n", {}, "{path} line 2: x2 is missing"),
        (b"x1,x2,y\n1,2\n2,3,1\n", {}, "{path} line 2: 2 fields, but the header has 3"),
        (
            b"x1,x2,y\n1,2,2\n",
            {},
            "{path} line 2: y must be 0 or 1, got '2'; for other labels name the positive class with "
            "--positive (values: '2')",
        ),
        (
            b"x1,x2,y\n1,2,no\n2,3,yes\n",
            {},
            "{path} line 2: y must be 0 or 1, got 'no'; for other labels name the positive class with "
            "--positive (values: 'no', 'yes')",
        ),
        (
            b"x1,x2,y\n1,2,no\n2,3,yes\n",
            {"positive": "Yes"},
            "{path}: --positive 'Yes' is not a value of y (found 'no', 'yes')",
        ),
        (
            b"x1,x2,y\n1,2,a\n2,3,b\n3,4,c\n",
            {"positive": "a"},
            "{path}: y has 3 distinct values ('a', 'b', 'c'); a binary classifier needs exactly two",
        ),
        (
            b"x1,x2,y\n1,2,1\n2,3,1\n",
            {},
            "{path}: every row has y = '1'; a classifier needs rows of both classes",
        ),
        (b"x1,x1,y\n1,2,0\n", {}, "{path}: the header names x1 more than once"),
        (
            b"x1,x2,y\n\xff\xfe1,2,0\n",
            {},
            "{path}: not UTF-8 text (byte 8); save it as CSV UTF-8 (Excel: File > Save As)",
        ),
        (b'x1,x2,y\n"1,2,0\n', {}, "{path}: cannot be read as CSV (unexpected end of data)"),
    ],
    ids=[
        "empty",
        "header-only",
        "missing-column",
        "unknown-separator",
        "wrong-delimiter",
        "non-numeric",
        "nan",
        "inf",
        "empty-field",
        "short-row",
        "bad-label",
        "text-labels-without-positive",
        "positive-not-found",
        "three-classes",
        "one-class",
        "duplicate-column",
        "not-utf8",
        "unclosed-quote",
    ],
)
def test_read_table_problem_gives_one_clear_message(tmp_path, data, options, problem):
    path = write_bytes(tmp_path, data)
    with pytest.raises(UsageError) as exc:
        read(path, **options)
    assert str(exc.value) == problem.format(path=path)


def test_read_table_label_in_features_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"^--label x2 is also in --features$"):
        read(write_bytes(tmp_path, b"x1,x2,y\n1,2,0\n"), label="x2")


def test_read_table_missing_file_and_directory(tmp_path):
    with pytest.raises(UsageError, match=r"absent\.csv: file not found$"):
        read(tmp_path / "absent.csv")
    with pytest.raises(UsageError, match=r"is a directory, not a CSV file$"):
        read(tmp_path)


def test_read_table_features_are_float64(tmp_path):
    table = read(write_bytes(tmp_path, b"x1,x2,y\n123456789.25,2,0\n3,4,1\n"))
    assert table.features.dtype == torch.float64
    assert table.features[0, 0].item() == 123456789.25
