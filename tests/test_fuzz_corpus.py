"""The fuzz targets in ``make test``: every file of the seed corpus and every past finding
(``fuzz/corpus/TARGET/regression-*``) replayed, and a bounded property test per reader that
damages the seeds at random (hypothesis). The coverage-guided fuzzer itself is ``make fuzz``.
"""

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
from targets import TARGETS, run_one  # noqa: E402

pytest.importorskip("PIL")

CORPUS = sorted((t, p) for t in TARGETS for p in (FUZZ / "corpus" / t).glob("*"))


def test_every_target_has_seeds():
    assert {t for t, _ in CORPUS} == set(TARGETS)


@pytest.mark.parametrize("target,path", CORPUS, ids=[f"{t}/{p.name}" for t, p in CORPUS])
def test_the_corpus_is_handled(target, path):
    error = run_one(target, path.read_bytes())
    assert error is None, f"{type(error).__name__}: {error}"


@st.composite
def _damaged(draw, seeds):
    blob = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "zero"]))
        at = draw(st.integers(0, max(len(blob) - 1, 0)))
        if how == "flip" and blob:
            blob[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del blob[at : at + draw(st.integers(1, 512))]
        elif how == "insert":
            blob[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif how == "repeat":
            blob[at:at] = blob[at : at + 64] * draw(st.integers(1, 20))
        elif how == "zero" and blob:
            blob[at : at + 8] = bytes(len(blob[at : at + 8]))
    return bytes(blob)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_damaged_seeds_are_handled(target):
    seeds = [p.read_bytes() for t, p in CORPUS if t == target]

    @settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
    @given(data=_damaged(seeds))
    def check(data):
        error = run_one(target, data)
        assert error is None, f"{type(error).__name__}: {error}"

    check()
