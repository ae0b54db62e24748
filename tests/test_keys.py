"""Strict reading of model-level keys."""

from __future__ import annotations

from block_config._converter import MAX_INT
from block_config._errors import Problem
from block_config._keys import ConfigReader, check_int, is_count


def test_is_count_refuses_bools_floats_and_out_of_range() -> None:
    assert is_count(1)
    assert is_count(0, minimum=0)
    assert not is_count(0)
    assert not is_count(True)
    assert not is_count(8.0)
    assert not is_count(MAX_INT + 1)


def test_check_int_words_its_problems() -> None:
    problems: list[Problem] = []
    assert not check_int("8", ("a",), problems)
    assert not check_int(-1, ("b", 0), problems, minimum=0)
    assert check_int(5, ("c",), problems)
    assert [str(p) for p in problems] == [
        "$.a: expected int, got str '8'",
        f"$.b[0]: expected int from 0 to {MAX_INT}, got -1",
    ]


def test_the_reader_collects_every_problem() -> None:
    reader = ConfigReader(
        {"i": 3, "n": None, "s": "x", "b": "yes", "l": [0, "1"], "bad_s": 1, "bad_l": {}}
    )
    assert reader.integer("i") == 3
    assert reader.integer("n", default=7) == 7
    assert reader.integer("absent", default=4) == 4
    assert reader.integer("absent", required=True) is None
    assert reader.integer("n", required=True) is None
    assert reader.boolean("absent") is False
    assert reader.boolean("absent", default=True) is True
    assert reader.boolean("b") is False
    assert reader.string("s") == "x"
    assert reader.string("n") is None
    assert reader.string("bad_s") is None
    assert reader.int_list("absent") is None
    assert reader.int_list("l") is None
    assert reader.int_list("bad_l") is None
    assert [str(p) for p in reader.problems] == [
        "$.absent: missing required key",
        "$.n: expected int, got null",
        "$.b: expected bool, got str 'yes'",
        "$.bad_s: expected str or null, got int 1",
        "$.l[1]: expected int, got str '1'",
        "$.bad_l: expected a list of int, got dict",
    ]


def test_a_clean_int_list_is_returned() -> None:
    assert ConfigReader({"l": [0, 3]}).int_list("l") == [0, 3]
