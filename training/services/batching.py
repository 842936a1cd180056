"""Micro-batching of listener requests (pure Python: no Django, works for any ``Policy``).

Callers (Celery worker threads, the embedded thread pool, the benchmark) ``submit`` one request and
wait on a future. Each *lane* — the resource a policy computes on, normally its loaded base model
(``base.batch_lane``) — has one thread that owns it: it takes the first waiting request, keeps
collecting until ``window`` seconds have passed since that request arrived or ``max_batch`` are
waiting, then answers them with one ``policy.act(batch)`` call per group (same policy object, i.e.
same checkpoint/adapter, and same decoding settings). While a batch computes, new requests queue up
and form the next batch at once (their window has already passed), so under load batches fill up
by themselves.

The window is only worth waiting when company is coming: a request that finds nothing else queued,
on a lane whose last batch answered a single request (no concurrent callers lately), goes at once —
a lone client pays no window at all. Once batches hold several requests (concurrent callers, who
come back together), the window applies again.

A batch that raises is retried one request at a time (one bad request, or a batch too large for the
device, does not fail the others); a request that still fails gets the exception on its future.
The lane thread itself never dies of a policy error.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

from training.policies.base import ActRequest, ActResult, batch_lane

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A policy's result for one request, with where the time went."""

    result: ActResult
    wait_seconds: float  # from submit to the start of its batch (window + queue behind other batches)
    compute_seconds: float  # the policy.act call that answered it
    batch_size: int  # how many requests that call answered


@dataclass
class _Item:
    policy: object
    request: ActRequest
    future: Future
    enqueued: float = field(default_factory=time.monotonic)


class _Lane:
    def __init__(self, key: Hashable, batcher: MicroBatcher):
        self.key = key
        self.batcher = batcher
        self.items: deque[_Item] = deque()
        self.cond = threading.Condition()
        self.closed = False
        self.busy = False
        self.last_batch_size = 0  # requests in the batch taken last (0: none yet)
        self.policies: dict[int, str] = {}  # id -> name of every policy seen on this lane
        self.batches = 0
        self.requests = 0
        self.failures = 0
        self.sizes: Counter[int] = Counter()  # size of each policy.act call -> how many
        self.thread = threading.Thread(
            target=self._loop, name=f"{batcher.name}-lane-{len(batcher._lanes)}", daemon=True
        )

    def put(self, item: _Item) -> None:
        with self.cond:
            if self.closed:
                raise RuntimeError("the inference batcher is closed")
            self.policies.setdefault(id(item.policy), getattr(item.policy, "name", type(item.policy).__name__))
            self.items.append(item)
            self.cond.notify()

    def _take(self) -> list[_Item] | None:
        window, max_batch = self.batcher.window, self.batcher.max_batch
        with self.cond:
            while not self.items:
                if self.closed:
                    return None
                self.cond.wait()
            # Wait for company only when some is likely: others already queued, or callers that came
            # together last time. A lone request on a quiet lane is answered at once.
            if len(self.items) > 1 or self.last_batch_size > 1:
                deadline = self.items[0].enqueued + window
                while len(self.items) < max_batch and not self.closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
            batch = [self.items.popleft() for _ in range(min(max_batch, len(self.items)))]
            self.busy = True
            self.last_batch_size = len(batch)
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._run(batch)
            except BaseException as exc:  # never leave a caller waiting, whatever happened
                log.exception("inference lane %s: batch failed outside the policy", self.key)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
            finally:
                with self.cond:
                    self.busy = False
                if self.batcher.after_batch is not None:
                    try:
                        self.batcher.after_batch()
                    except Exception:
                        log.exception("inference lane %s: after_batch hook failed", self.key)

    def _run(self, batch: list[_Item]) -> None:
        # Callers that gave up (cancelled futures) are skipped.
        live = [item for item in batch if item.future.set_running_or_notify_cancel()]
        groups: dict[tuple, list[_Item]] = {}
        for item in live:
            groups.setdefault((id(item.policy), item.request.decoding), []).append(item)
        for items in groups.values():
            self._act(items)

    def _act(self, items: list[_Item]) -> None:
        policy = items[0].policy
        started = time.monotonic()
        try:
            results = policy.act([item.request for item in items])
            if len(results) != len(items):
                raise RuntimeError(f"{policy.name} answered {len(results)} of {len(items)} requests")
        except Exception as exc:
            self.failures += 1
            if len(items) > 1:
                log.warning("inference lane %s: a batch of %d failed (%s); retrying one by one",
                            self.key, len(items), exc)
                for item in items:
                    self._act([item])
                return
            log.warning("inference lane %s: %s failed: %s", self.key, getattr(policy, "name", policy), exc)
            items[0].future.set_exception(exc)
            return
        finished = time.monotonic()
        self.batches += 1
        self.requests += len(items)
        self.sizes[len(items)] += 1
        for item, result in zip(items, results):
            item.future.set_result(Answer(
                result=result, wait_seconds=started - item.enqueued, compute_seconds=finished - started,
                batch_size=len(items),
            ))

    def status(self) -> dict:
        with self.cond:
            return {
                "lane": str(self.key),
                "policies": sorted(self.policies.values()),
                "queued": len(self.items),
                "busy": self.busy,
                "alive": self.thread.is_alive(),
                "batches": self.batches,
                "requests": self.requests,
                "failures": self.failures,
                "mean_batch": round(self.requests / self.batches, 2) if self.batches else None,
                "largest_batch": max(self.sizes) if self.sizes else None,
            }


class MicroBatcher:
    """One thread per lane; ``submit(policy, request)`` returns a future of an ``Answer``.

    ``window``: seconds the first request of a batch waits for company when some is likely (0: take
    only what is already waiting; a lone request on a quiet lane never waits); ``max_batch``: the most requests one ``policy.act`` call gets (1: no
    batching, requests are answered one at a time in arrival order); ``after_batch``: called in
    the lane thread after each batch (e.g. to release a database connection).
    """

    def __init__(
        self, *, window: float = 0.005, max_batch: int = 32, after_batch: Callable[[], None] | None = None,
        name: str = "inference",
    ):
        if not (window >= 0):
            raise ValueError("window must be >= 0 seconds")
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.window = float(window)
        self.max_batch = int(max_batch)
        self.after_batch = after_batch
        self.name = name
        self._lanes: dict[Hashable, _Lane] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, policy, request: ActRequest) -> Future:
        key = batch_lane(policy)
        with self._lock:
            if self._closed:
                raise RuntimeError("the inference batcher is closed")
            lane = self._lanes.get(key)
            if lane is None or not lane.thread.is_alive():
                lane = self._lanes[key] = _Lane(key, self)
                lane.thread.start()
        future: Future = Future()
        lane.put(_Item(policy, request, future))
        return future

    def act(self, policy, request: ActRequest, timeout: float | None = None) -> Answer:
        """Submit and wait; on timeout the request is withdrawn if it has not started."""
        future = self.submit(policy, request)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def status(self) -> dict:
        with self._lock:
            lanes = list(self._lanes.values())
        return {
            "window_ms": round(self.window * 1000, 3),
            "max_batch": self.max_batch,
            "queued": sum(len(lane.items) for lane in lanes),
            "lanes": [lane.status() for lane in lanes],
        }

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop accepting requests; lanes answer what is queued, then their threads end."""
        with self._lock:
            self._closed = True
            lanes = list(self._lanes.values())
        for lane in lanes:
            with lane.cond:
                lane.closed = True
                lane.cond.notify_all()
        for lane in lanes:
            lane.thread.join(timeout)
