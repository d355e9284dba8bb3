"""pipeline.batch_pool: every batch taken is either yielded or given back, whatever breaks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from pipeline.batch_pool import ordered_map


class _DiesOnZero:
    """Per-process state whose worker dies (as under kill -9) on payload 0."""

    def __call__(self, payload: int) -> int:
        if payload == 0:
            os._exit(9)
        return payload * 10

    def close(self) -> None:
        pass


def test_a_batch_taken_after_a_worker_died_is_given_back_not_lost() -> None:
    # The pool breaks while the caller is still taking batches: the next submit raises
    # BrokenProcessPool. That batch was taken (leased) but is in no worker's hands; it must be
    # given back like the ones waiting, or its lease would hold it for an hour.
    taken: list[int] = []
    abandoned: list[int] = []

    def batches() -> Iterator[int]:
        for i in range(6):
            taken.append(i)
            yield i

    def prepare(batch: int) -> int:
        if batch == 1:
            time.sleep(3)  # long enough for worker 0's death to break the pool
        return batch

    results = ordered_map(
        batches(), prepare, _DiesOnZero, (), size=2, abandon=abandoned.append
    )
    with pytest.raises(BrokenProcessPool):
        list(results)
    assert taken, "no batch was taken"
    assert sorted(abandoned) == taken


def test_batches_come_back_in_the_order_taken() -> None:
    results = ordered_map(
        iter(range(1, 9)), lambda b: b, _DiesOnZero, (), size=2, abandon=pytest.fail
    )
    assert [(b, r) for b, _, r in results] == [(b, b * 10) for b in range(1, 9)]
