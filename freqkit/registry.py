"""Name -> object registries, in the style of ``timm.create_model``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A case-sensitive mapping from names to objects (usually factories).

    Parameters
    ----------
    kind : str
        What is registered ("model", "dataset", "attack"); used in error messages.

    Examples
    --------
    >>> models = Registry("model")
    >>> @models.register("tiny")
    ... def tiny():
    ...     return "a tiny model"
    >>> models.get("tiny")()
    'a tiny model'
    >>> models.names()
    ['tiny']
    >>> models.get("huge")
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'huge'; registered models: tiny
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a duplicate name is an error."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """Return the object registered as ``name``, or raise ``ValueError`` listing the names."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
