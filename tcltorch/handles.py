"""The per-interpreter handle table: kind-prefixed names for torch objects."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

import torch

from tcltorch.errors import TclError, shorten

# Module classes named as the C++ extension of this command family names them.
_MODULE_KINDS = {
    "LayerNorm": "layernorm",
    "BatchNorm1d": "batchnorm1d",
    "BatchNorm2d": "batchnorm2d",
}


def kind_of(obj: Any) -> str:
    """The handle prefix for an object: tensor, optimizer, or the module's kind."""
    if isinstance(obj, torch.Tensor):
        return "tensor"
    registered = KINDS.get(type(obj))
    if registered is not None:
        return registered
    if isinstance(obj, torch.optim.Optimizer):
        return "optimizer"
    if isinstance(obj, torch.nn.Module):
        name = type(obj).__name__
        return _MODULE_KINDS.get(name, name.lower())
    if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
        return "scheduler"
    for cls, kind in KINDS.items():
        if isinstance(obj, cls):
            return kind
    return "object"


# Object classes a family names itself (grad scalers, DDP wrappers, work handles ...): class -> prefix.
# An exact class match here wins over the generic rules above.
KINDS: dict[type, str] = {}


# Objects released by torch::free or a scope's end that must be closed then (writers): class -> closer.
CLOSERS: dict[type, Any] = {}


def register_kind(cls: type, kind: str, on_free: Any = None) -> None:
    """Give objects of ``cls`` handles named ``kindN`` (and make ``Handle(kind)`` accept them);
    ``on_free(obj)``, when given, runs when the handle is freed (to close a file)."""
    KINDS[cls] = kind
    if on_free is not None:
        CLOSERS[cls] = on_free


def _release(obj: Any) -> None:
    closer = CLOSERS.get(type(obj)) if CLOSERS else None
    if closer is not None:
        closer(obj)


def describe(obj: Any) -> str:
    """'a tensor', 'a linear module', 'an optimizer' — for wrong-kind messages."""
    kind = kind_of(obj)
    if isinstance(obj, torch.nn.Module):
        text = f"{kind} module"
    else:
        text = kind
    return ("an " if text[0] in "aeiou" else "a ") + text


_HANDLE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a name that is one Tcl list element as it is (no space, brace, quote, bracket, backslash, $ or ;)
_PLAIN_WORD = re.compile(r'[^\s{}\[\]"\\$;]+')

# One counter per kind for the whole process, shared by every interpreter's table:
# tensor7 names one tensor in one interpreter, and no other interpreter ever
# hands out tensor7 (a name copied across interpreters cannot mean another object).
# next() on itertools.count is atomic under the GIL.
_COUNTERS: dict[str, Iterable[int]] = {}


_Tensor = torch.Tensor
_TENSOR_COUNTER = _COUNTERS.setdefault("tensor", itertools.count(1))
# the handle kinds that one class stands for (HandleTable._is; the bridge's direct calls check
# these with isinstance in C): the others are checked by kind_of
KIND_CLASSES: dict[str, type] = {
    "tensor": torch.Tensor,
    "module": torch.nn.Module,
    "optimizer": torch.optim.Optimizer,
}
YOUNG_LIMIT = 4096  # handles in HandleTable's young generation before it is promoted


def _next_number(kind: str) -> int:
    counter = _COUNTERS.get(kind)
    if counter is None:
        counter = _COUNTERS.setdefault(kind, itertools.count(1))
    return next(counter)  # type: ignore[call-overload]


def known_kind(kind: str, live: Iterable[Any] = ()) -> bool:
    """Whether ``kind`` names a handle kind: tensor, module, optimizer, scheduler,
    object, a torch.nn module kind (linear, sequential, ...) or the kind of a live object."""
    if kind in ("tensor", "module", "optimizer", "scheduler", "object"):
        return True
    if kind in _module_kinds():
        return True
    return any(kind_of(obj) == kind for obj in live)


_KINDS: set[str] = set()


def _module_kinds() -> set[str]:
    if not _KINDS:
        for value in vars(torch.nn).values():
            if isinstance(value, type) and issubclass(value, torch.nn.Module):
                _KINDS.add(_MODULE_KINDS.get(value.__name__, value.__name__.lower()))
    return _KINDS


class HandleTable:
    """Maps names like ``tensor7`` to objects.  One object has one name: putting
    the same object twice returns its existing name (stable parameter handles)."""

    def __init__(self) -> None:
        # name -> object, in two generations: _young holds the handles made since the last
        # promotion (at most YOUNG_LIMIT), _objects the older ones.  A scope makes and frees its
        # handles in the small dict, so its cost does not grow with the live handles (a dict of
        # 10^6 names misses the cache on every insertion: names hash anywhere); anything that
        # needs the whole table promotes first.  Creation order is _objects' then _young's.
        self._objects: dict[str, Any] = {}
        self._young: dict[str, Any] = {}
        self._by_id: dict[int, str] = {}
        self._serial = 0
        # (serial, name) in creation order: a scope's exit pops only what it made, whatever the
        # number of live handles; entries of handles freed one by one are skipped (a name is
        # never given twice in a process, so an entry is live when its name is in the table),
        # and dropped when they outnumber the live ones
        self._order: list[tuple[int, str]] = []
        # whether every name given is a plain Tcl word (names() may then be joined by spaces)
        self._plain_words = True
        # join_names(dict) -> the keys as one Tcl list value, or None: the bridge's C joiner
        self.join_names: Any = None
        # put_tensor(tensor) -> name: put() for a plain torch.Tensor (the bridge gives a C one
        # made from put_state(), which does the same steps)
        self.put_tensor: Any = self.put
        # release(mark, keep set or None) -> count: release_since's steps in C (from the bridge)
        self.release_c: Any = None
        # lookup(name) -> object or None, in C (from the bridge)
        self.lookup_c: Any = None

    def __len__(self) -> int:
        return len(self._objects) + len(self._young)

    def __contains__(self, name: str) -> bool:
        return name in self._young or name in self._objects

    def _promote(self) -> None:
        """Move the young generation into the old one (creation order kept)."""
        if self._young:
            self._objects.update(self._young)
            self._young.clear()

    def put(self, obj: Any, kind: str | None = None) -> str:
        if obj is None:
            raise TypeError("None cannot have a handle (an empty Tcl result stands for it)")
        key = id(obj)
        name = self._by_id.get(key)
        if name is not None:
            return name
        if kind is None and type(obj) is _Tensor:  # the hot path: a command's new tensor
            name = "tensor" + str(next(_TENSOR_COUNTER))
        else:
            kind = kind or kind_of(obj)
            name = f"{kind}{_next_number(kind)}"
            if self._plain_words and not _PLAIN_WORD.fullmatch(name):
                self._plain_words = False
        serial = self._serial = self._serial + 1
        self._young[name] = obj
        self._by_id[key] = name
        self._order.append((serial, name))
        if len(self._young) > YOUNG_LIMIT:
            self._promote()
        return name

    def put_state(self) -> tuple[Any, ...]:
        """What put() reads and updates for a plain tensor, for a C version of it: the table
        (its ``_serial``), the dicts by name and by id, the creation order and the counter."""
        return (self, self._young, self._by_id, self._order, _TENSOR_COUNTER, YOUNG_LIMIT)

    def release_state(self) -> tuple[Any, ...]:
        """What release_since() reads and updates, for a C version of it: the table (its
        ``_serial`` and ``_compact``), the dicts, the creation order, CLOSERS and the closer."""
        return (self, self._young, self._objects, self._by_id, self._order, CLOSERS, _release)

    def lookup_state(self) -> tuple[Any, ...]:
        """What lookup() reads, for a C version of it: the young and the old generation."""
        return (self._young, self._objects)

    def lookup(self, name: str) -> Any:
        """The object named ``name``, or None (no checks, no error: for fast paths)."""
        obj = self._young.get(name)
        return obj if obj is not None else self._objects.get(name)

    def lookup_function(self) -> Any:
        """A function that does what :meth:`lookup` does (the bridge's C one where it gave one),
        valid for the table's lifetime: :meth:`clear` empties the dicts in place."""
        return self.lookup_c if self.lookup_c is not None else self.lookup

    def name_of(self, obj: Any) -> str | None:
        return self._by_id.get(id(obj))

    def get(self, name: str, expected: str | None = None) -> Any:
        """Look a handle up; ``expected`` is 'tensor', 'module', 'optimizer' or a
        module kind such as 'sequential'.  Errors say what was expected."""
        obj = self._young.get(name)
        if obj is None:
            obj = self._objects.get(name)
        if obj is not None and (expected is None or self._is(obj, expected)):
            return obj
        if obj is None:
            noun = expected or "object"
            raise TclError(f'no {noun} named "{shorten(name)}"', ["TORCH", "HANDLE", name])
        article = "an" if expected[0] in "aeiou" else "a"  # type: ignore[index]
        raise TclError(
            f'"{shorten(name)}" is {describe(obj)}, expected {article} {expected}', ["TORCH", "HANDLE", name]
        )

    @staticmethod
    def _is(obj: Any, expected: str) -> bool:
        cls = KIND_CLASSES.get(expected)
        return isinstance(obj, cls) if cls is not None else kind_of(obj) == expected

    def free(self, name: str) -> None:
        obj = self._young.pop(name, None)
        if obj is None:
            obj = self._objects.pop(name, None)
        if obj is None:
            raise TclError(f'no object named "{shorten(name)}"', ["TORCH", "HANDLE", name])
        # the id entry only when it is this name's: an interrupt (Ctrl-C) between two updates
        # of put() must not make the name unfreeable later
        if self._by_id.get(id(obj)) == name:
            del self._by_id[id(obj)]
        self._compact()
        _release(obj)

    def _compact(self) -> None:
        """Drop the creation-order entries of freed handles once they outnumber the live ones."""
        order = self._order
        if len(order) > 2 * len(self) + 64:
            order[:] = [entry for entry in order if entry[1] in self]

    def names(self, kind: str | None = None) -> list[str]:
        """Live handles in creation order, optionally only those of one kind
        ('tensor', 'module', 'optimizer' or a module kind)."""
        self._promote()
        names = list(self._objects)  # insertion order is creation order
        if kind is None:
            return names
        return [n for n in names if self._is(self._objects[n], kind)]

    def names_text(self) -> Any:
        """Every live handle, oldest first, as one Tcl list text (names joined by spaces:
        cheaper than a list of 10^6 words; a Tcl value made by ``join_names`` where the bridge
        gave one), or None when some name is not a plain Tcl word."""
        if not self._plain_words:
            return None
        self._promote()
        if self.join_names is not None:
            text = self.join_names(self._objects)
            if text is not None:
                return text
        return " ".join(self._objects)

    def mark(self) -> int:
        """A point in time: handles created after it are newer than the mark."""
        return self._serial

    def release_since(self, mark: int, keep: Iterable[str] = ()) -> int:
        """Free every handle created after ``mark`` except those in ``keep``.
        Walks only the newer handles (``_order`` is in creation order): the cost is the number
        of handles made since the mark, not the number alive."""
        if mark >= self._serial:  # nothing made since the mark (an empty scope)
            return 0
        if self.release_c is not None:  # the same steps in C
            return self.release_c(mark, set(keep) if keep else None)
        order = self._order
        cut = len(order)
        while cut and order[cut - 1][0] > mark:
            cut -= 1
        newer = order[cut:]
        if keep:
            keep = set(keep)
            kept = [entry for entry in newer if entry[1] in keep and entry[1] in self]
            doomed = [n for _, n in reversed(newer) if n not in keep and n in self]
        else:
            kept = []
            doomed = [n for _, n in reversed(newer) if n in self]
        del order[cut:]
        if kept:
            order += kept
        self._compact()
        by_id, closing, young, old = self._by_id, bool(CLOSERS), self._young, self._objects
        for name in doomed:
            obj = young.pop(name, None)
            if obj is None:
                obj = old.pop(name, None)
            if obj is not None:
                key = id(obj)
                if by_id.get(key) == name:
                    del by_id[key]
                if closing:
                    _release(obj)
        return len(doomed)

    def words_in(self, text: str) -> list[str]:
        """Live handle names appearing in a Tcl value (a result of any nesting)."""
        return [w for w in _HANDLE_WORD.findall(text) if w in self]

    def clear(self) -> None:
        """Forget every handle (the dicts are emptied in place: see :meth:`lookup_function`)."""
        self._objects.clear()
        self._young.clear()
        self._by_id.clear()
        self._order.clear()
        self._serial = 0
        self._plain_words = True
