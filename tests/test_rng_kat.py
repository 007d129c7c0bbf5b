"""Philox4x32-10 against Random123's known answers, and the counter layout."""

import numpy as np
import pytest

import madsim as ms
from kat import PHILOX4X32_10


@pytest.mark.parametrize("ctr,key,expected", PHILOX4X32_10)
def test_philox_known_answers(ctr, key, expected):
    out = ms.rng.philox4x32_10(np.array(ctr, dtype=np.uint32), np.array(key, dtype=np.uint32))
    assert [int(w) for w in out] == list(expected)


def test_stream_blocks_follow_the_counter_layout():
    seed, replica, generation, tag, site = 0x0123456789ABCDEF, 77, 123456, 2, 5
    got = ms.rng.blocks(seed, replica, generation, tag, site, begin=10, count=3)
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint32)
    ctr = np.array([[b, generation, tag | (site << 8), replica] for b in (10, 11, 12)], dtype=np.uint32)
    np.testing.assert_array_equal(got, ms.rng.philox4x32_10(ctr, key))


def test_streams_differ_in_every_field():
    base = dict(seed=1, replica=0, generation=1, tag="samples", site=0)
    ref = ms.rng.blocks(**base)
    for field, value in [("seed", 2), ("replica", 1), ("generation", 2), ("tag", "scatter"), ("site", 1)]:
        other = ms.rng.blocks(**{**base, field: value})
        assert not np.array_equal(ref, other), field
