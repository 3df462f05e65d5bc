"""The ``~`` filter's matcher: same answers as ``re.search`` on the supported subset, linear time,
and a clear refusal of what it does not support."""

from __future__ import annotations

import random
import re
import time

import pytest

from airflow_provider_aep.emulator.safe_regex import MAX_PATTERN, RegexError, compile_pattern

SUPPORTED = [
    "abc",
    "^abc$",
    "a.c",
    "a*b",
    "(a|b)+c",
    r"^[a-z]+_\d{2,3}$",
    "colou?r",
    "(ab){2}",
    "x{0}y",
    "[^0-9]+$",
    "^$",
    "a{2,}",
    "(a+)+$",
    "a|",
    "(|a)b",
    "[]a]",
    "[a-]",
    r"\.",
    "a{1,3}?b",
    "^(?:foo|bar)baz",
    r"[\d_]+",
    "$a",
    "x*$",
    r"\w+\s\W",
    "[A-Z]{1,2}[0-9]",
]


@pytest.mark.parametrize("pattern", SUPPORTED)
def test_answers_like_re_search(pattern: str) -> None:
    rng = random.Random(pattern)
    compiled, reference = compile_pattern(pattern), re.compile(pattern)
    for _ in range(300):
        text = "".join(rng.choice("ab_c1.2\nxyzA ") for _ in range(rng.randint(0, 14)))
        assert compiled.search(text) == (reference.search(text) is not None), (pattern, text)


@pytest.mark.parametrize(
    "pattern",
    ["(?=a)", "(?i)a", r"\1", r"\b", "a**", "a+*", "(a", "a)", "[a", "*a", "a{99}", "a" * (MAX_PATTERN + 1)],
)
def test_refuses_what_it_does_not_support(pattern: str) -> None:
    with pytest.raises(RegexError):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+$", "(.*a){20}$", "^(a?){25}a{25}$"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    text = "a" * 20_000 + "!"
    t0 = time.process_time()
    compile_pattern(pattern).search(text)
    assert time.process_time() - t0 < 2.0  # measured ~0.05 s; re.search takes minutes to years
