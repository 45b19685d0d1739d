"""The challenges' `name,openset` CSV and `filenames`/`fileitems` npz: round trips, both cell styles, bad rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotation.evaluation.openset_csv import (
    MAX_CELL_CHARS,
    OpensetParseError,
    format_openset,
    parse_openset,
    read_openset_csv,
    read_openset_file,
    read_openset_npz,
    write_openset_csv,
    write_openset_npz,
)

ROWS = {
    "sample_00000001": ["happy", "relieved"],
    "sample_00000002": [],
    "sample_00000003": ["don't know", 'say "no"', "a, b", "愉快"],
    "sample_00000004": ["Anxious"],
}


@pytest.mark.parametrize(("cell", "words"), [
    ("['happy', 'relieved']", ["happy", "relieved"]),
    ('["happy", "relieved"]', ["happy", "relieved"]),
    ("happy, relieved", ["happy", "relieved"]),
    ("[happy, relieved]", ["happy", "relieved"]),
    ("'happy', 'relieved'", ["happy", "relieved"]),
    ("  happy  ", ["happy"]),
    ("['happy', '  ', '']", ["happy"]),
    ("", []),
    ("[]", []),
    (None, []),
])
def test_parse_openset_accepts_list_literals_and_plain_words(cell, words):
    assert parse_openset(cell) == words


@pytest.mark.parametrize("cell", ["['happy'", "[1, 'a']", "[['happy']]", "['a' 'b' + 1]", "'a', 1",
                                  "[__import__('os').system('true')]", "['x'] + ['y']", "x" * (MAX_CELL_CHARS + 1),
                                  "[" * 50 + "'a'" + "]" * 50])
def test_parse_openset_refuses_anything_but_a_list_of_strings(cell):
    with pytest.raises(OpensetParseError):
        parse_openset(cell)


def test_code_is_never_run_only_read_as_words():
    # Not a list: plain comma-separated text, kept as inert words (they map to nothing and are dropped).
    assert parse_openset("__import__('os')") == ["__import__('os')"]
    # Unquoted list items are words too, as in the official reader.
    assert parse_openset("[1, 2]") == ["1", "2"]


def test_format_openset_reads_back_exactly():
    for words in ROWS.values():
        assert parse_openset(format_openset(words)) == words
    assert format_openset(["happy", "relieved"]) == "['happy', 'relieved']"


def test_csv_round_trip(tmp_path: Path):
    path = tmp_path / "gt.csv"
    write_openset_csv(path, ROWS)
    table = read_openset_csv(path)
    assert table.errors == []
    assert table.rows == ROWS and list(table.rows) == list(ROWS)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["name,openset",
                                                                 "sample_00000001,\"['happy', 'relieved']\""]


def test_csv_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(tmp_path: Path):
    path = tmp_path / "pred.csv"
    path.write_text(
        "name,openset,extra\n"          # line 1: header (extra columns are allowed)
        "a,\"['happy', 'sad']\",x\n"    # line 2: good
        "b,\"['happy'\",\n"             # line 3: unclosed list
        ",\"['happy']\",\n"             # line 4: no name
        "a,\"['angry']\",\n"            # line 5: duplicate of line 2
        "c,happy,sad,oops\n"            # line 6: more cells than columns
        "\n"                            # line 7: blank, skipped
        "d,\"[1, 'a']\",\n"            # line 8: not all strings
        "e,calm\n",                     # line 9: good, plain word
        encoding="utf-8")
    table = read_openset_csv(path)
    assert table.rows == {"a": ["happy", "sad"], "e": ["calm"]}
    assert [error.where for error in table.errors] == ["line 3", "line 4", "line 5", "line 6", "line 8"]
    assert "duplicate name 'a'" in str(table.errors[2])
    assert str(table.errors[0]).startswith("line 3: b: ")


def test_csv_without_the_columns_is_refused(tmp_path: Path):
    path = tmp_path / "wrong.csv"
    path.write_text("id,labels\n1,happy\n", encoding="utf-8")
    with pytest.raises(OpensetParseError, match="missing column"):
        read_openset_csv(path)


def test_npz_round_trip_without_pickles(tmp_path: Path):
    path = tmp_path / "pred.npz"
    write_openset_npz(path, ROWS)
    with np.load(path, allow_pickle=False) as npz:
        assert npz["filenames"].dtype.kind == "U" and npz["fileitems"].dtype.kind == "U"
    table = read_openset_npz(path)
    assert table.errors == [] and table.rows == ROWS
    assert read_openset_file(path).rows == ROWS


def test_npz_in_the_challenges_own_form_is_read(tmp_path: Path):
    # The official pipeline saves the LLM's answer strings as they come, e.g. "happy, relieved".
    path = tmp_path / "official.npz"
    np.savez_compressed(path, filenames=["a", "b", "c"], fileitems=["happy, relieved", "['sad']", "['broken"])
    table = read_openset_npz(path)
    assert table.rows == {"a": ["happy", "relieved"], "b": ["sad"]}
    assert [str(error) for error in table.errors] == ["item 2: c: a list must end with ]"]


def test_npz_with_pickled_objects_or_bad_shapes_is_refused(tmp_path: Path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, filenames=np.array(["a"], dtype=object), fileitems=np.array([["happy"]], dtype=object))
    with pytest.raises(OpensetParseError, match="pickle"):
        read_openset_npz(pickled)
    uneven = tmp_path / "uneven.npz"
    np.savez(uneven, filenames=np.array(["a", "b"]), fileitems=np.array(["happy"]))
    with pytest.raises(OpensetParseError, match="equal length"):
        read_openset_npz(uneven)
    missing = tmp_path / "missing.npz"
    np.savez(missing, names=np.array(["a"]))
    with pytest.raises(OpensetParseError, match="fileitems"):
        read_openset_npz(missing)
    numbers = tmp_path / "numbers.npz"
    np.savez(numbers, filenames=np.array([1, 2]), fileitems=np.array([3, 4]))
    with pytest.raises(OpensetParseError, match="text"):
        read_openset_npz(numbers)
