"""CPU-bound batch work in worker processes, warehouse writes in the caller (issue 17, item 3).

Extraction and claim analysis are CPU-bound and, in one process, use one core. Here a stage hands
each batch it has taken (leased) to a pool of worker processes, which compute the results
without touching the warehouse, and writes every batch itself, in the order it took them, one
transaction per batch, under the same lease guards as before. So:

- the lease rule is the one the stages already use (:func:`pipeline.stages.runs.leased_batches`):
  a batch is taken by the caller, so no two workers, runs or tasks ever work on the same rows;
- a worker that dies takes no half-written batch with it (it writes nothing), and its batch,
  like every batch not written yet, is given back by the caller (``abandon``);
- results are identical to one process's, row for row and down to the surrogate ids of entities
  and claims: the batches are the same and are written in the same order.

Each worker builds its stage's state once (``factory(*args)``: an extraction process, a spaCy
model) when it starts, and keeps it for every batch. Size 1 computes in the calling process,
which is what Airflow tasks do (their parallelism is the DAG's mapped workers).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.util import Finalize
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

B = TypeVar("B")
P = TypeVar("P")
R = TypeVar("R")
P_contra = TypeVar("P_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

# Batches handed to the pool ahead of the one being written, per worker: one in work and one
# waiting keeps every worker busy while the caller writes, and bounds what a crash gives back.
AHEAD_PER_WORKER = 2


class BatchCompute(Protocol[P_contra, R_co]):
    """A stage's per-process state: computes one batch's results from its payload."""

    def __call__(self, payload: P_contra, /) -> R_co: ...

    def close(self) -> None: ...


def pool_size(settings: Settings) -> int:
    """Processes for a stage's batches: the ``processes`` setting, else one per core; 1 in a
    daemonic process (a Celery prefork child), which may not start a process pool."""
    size = settings.processes or os.cpu_count() or 1
    if size > 1 and multiprocessing.current_process().daemon:
        log.info("daemonic process: batches run in this process, not in a pool of %d", size)
        return 1
    return max(1, size)


# The state of this worker process, built once by _init (a process serves one stage).
_STATE: BatchCompute[Any, Any] | None = None


def _init(factory: Callable[..., BatchCompute[Any, Any]], args: tuple[Any, ...]) -> None:
    global _STATE
    _STATE = factory(*args)
    # A pool worker ends with os._exit, which runs no atexit handler: close the state (an
    # extraction child, say) through multiprocessing's own finalizers instead.
    Finalize(_STATE, _STATE.close, exitpriority=10)


def _compute(payload: Any) -> Any:
    assert _STATE is not None, "worker state not initialised"
    return _STATE(payload)


def ordered_map(
    batches: Iterable[B],
    prepare: Callable[[B], P],
    factory: Callable[..., BatchCompute[P, R]],
    args: tuple[Any, ...],
    *,
    size: int,
    abandon: Callable[[B], None],
) -> Generator[tuple[B, P, R], None, None]:
    """Yield (batch, payload, result) for every batch, in the order ``batches`` gives them.

    ``prepare`` (in the caller: reading the batch's rows) makes a batch's payload; the result
    is ``factory(*args)(payload)``, computed in one of ``size`` worker processes (in this
    process when ``size`` is 1). Batches are drawn from ``batches`` (i.e. taken) only as workers
    can start on them. Every batch drawn but not yielded, because a worker failed or the caller
    stopped early (an exception while writing), is passed to ``abandon`` (to give its lease
    back); a worker's exception is raised here.
    """
    if size <= 1:
        state: BatchCompute[P, R] | None = None  # built at the first batch: none, no model
        try:
            for batch in batches:
                try:
                    payload = prepare(batch)
                    if state is None:
                        state = factory(*args)
                    result = state(payload)
                except BaseException:
                    abandon(batch)
                    raise
                yield batch, payload, result
        finally:
            if state is not None:
                state.close()
        return
    # spawn, not fork: the caller holds database connections and threads (the HTTP client's),
    # which a forked child would share in whatever state they were.
    context = multiprocessing.get_context("spawn")
    pending: deque[tuple[B, P, Future[R]]] = deque()
    source = iter(batches)
    with ProcessPoolExecutor(
        size, mp_context=context, initializer=_init, initargs=(factory, args)
    ) as pool:
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < size * AHEAD_PER_WORKER:
                    try:
                        batch = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        payload = prepare(batch)
                        # submit raises too once a worker has died (BrokenProcessPool).
                        future = pool.submit(_compute, payload)
                    except BaseException:
                        abandon(batch)
                        raise
                    pending.append((batch, payload, future))
                if not pending:
                    return
                batch, payload, future = pending[0]
                result = future.result()
                pending.popleft()
                yield batch, payload, result
        finally:
            for batch, _, future in pending:
                future.cancel()
                abandon(batch)
