from __future__ import annotations

from pathlib import Path

import pytest

from models import repository


@pytest.mark.parametrize("name", ["mnist", "logistic", "income-2026", "A_b-9", "x" * 64])
def test_is_model_name_accepts_slugs(name: str) -> None:
    assert repository.is_model_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "-x", "a/b", "a b", "é", "a.b", "x" * 65])
def test_is_model_name_refuses_other_names(name: str) -> None:
    assert not repository.is_model_name(name)


@pytest.mark.parametrize(("filename", "version"), [("1.pt", 1), ("12.pt", 12), ("999999999.pt", 999999999)])
def test_parse_version_reads_checkpoint_names(filename: str, version: int) -> None:
    assert repository.parse_version(filename) == version


@pytest.mark.parametrize(
    "filename", ["0.pt", "01.pt", "v1.pt", "1.pt.tmp", "1.metrics.json", "1.PT", "-1.pt", "1000000000.pt"]
)
def test_parse_version_refuses_other_files(filename: str) -> None:
    assert repository.parse_version(filename) is None


def test_checkpoint_path_lays_out_name_and_version(tmp_path: Path) -> None:
    assert repository.checkpoint_path(tmp_path, "mnist", 3) == tmp_path / "mnist" / "3.pt"


def test_checkpoint_path_refuses_a_bad_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'\.\./x' is not a model name"):
        repository.checkpoint_path(tmp_path, "../x", 1)


def test_companion_paths_sit_beside_the_checkpoint() -> None:
    assert repository.metrics_path("repo/mnist/3.pt") == Path("repo/mnist/3.metrics.json")
    assert repository.report_path("repo/mnist/3.pt") == Path("repo/mnist/3.report.png")


def test_versions_orders_numerically_and_skips_other_files(tmp_path: Path) -> None:
    for filename in ["10.pt", "2.pt", "2.metrics.json", ".2.pt.tmp", "notes.txt"]:
        (tmp_path / filename).touch()
    assert list(repository.versions(tmp_path)) == [2, 10]


def test_versions_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert repository.versions(tmp_path / "absent") == {}


def test_next_version_follows_the_highest(tmp_path: Path) -> None:
    assert repository.next_version(tmp_path) == 1
    (tmp_path / "7.pt").touch()
    assert repository.next_version(tmp_path) == 8


def test_new_version_creates_the_folder_and_names_the_next_checkpoint(tmp_path: Path) -> None:
    with repository.new_version(tmp_path, "income") as first:
        first.write_bytes(b"x")
    with repository.new_version(tmp_path, "income") as second:
        pass
    assert (first, second) == (tmp_path / "income" / "1.pt", tmp_path / "income" / "2.pt")
