"""The one size-bounded LRU cache of the model backends (decoded images, prepared pixels, image
features). Pure; no torch.

Entries are computed for the keys a call asks for and are never invalidated (tangram images never
change). The bound is on the total *size* of the entries, as ``size_of`` measures it (1 per entry by
default, i.e. a bound on the number of entries; bytes for tensors). Eviction drops the least recently
used entries, but never one the current call returns, so a call that needs more than the bound still
gets all of it (the cache then holds just that call's entries until the next call).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """Thread-safe; ``get_many`` computes what is missing (under the lock: one computation per key)."""

    def __init__(self, max_size: int, size_of: Callable[[V], int] = lambda value: 1):
        self.max_size = max_size
        self._size_of = size_of
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self.size = 0  # total size of the entries held
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Iterable[V]]) -> list[V]:
        """The values of ``keys`` in order (repeats allowed). ``compute(missing)`` gives the values of
        the keys not held, in order; whatever it raises propagates and nothing of that call is kept."""
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._items]
            self.misses += len(missing)
            self.hits += len(keys) - len(missing)
            if missing:
                values = list(compute(missing))
                if len(values) != len(missing):
                    raise RuntimeError(f"computed {len(values)} values for {len(missing)} keys")
                for key, value in zip(missing, values):
                    self._items[key] = value
                    self._sizes[key] = self._size_of(value)
                    self.size += self._sizes[key]
            found = [self._items[k] for k in keys]
            for k in keys:
                self._items.move_to_end(k)
            in_use = len(set(keys))
            while self.size > self.max_size and len(self._items) > in_use:
                key, _ = self._items.popitem(last=False)
                self.size -= self._sizes.pop(key)
            return found

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        """The keys held, least recently used first (a snapshot)."""
        with self._lock:
            return iter(list(self._items))


__all__ = ["LRUCache"]
