"""The contract between the bridge and the command layer.

Command functions that need the interpreter take a ``ctx`` argument: an object that satisfies
:class:`Session` (``tcltorch.bridge.Session`` does; tests may pass a plain Python stand-in).
The bridge may also offer native helpers (C walkers of Tcl lists and tensor buffers) through
:data:`native`; every command works without them, only slower, so the command modules and
``tools/gen_docs.py`` import and run without the compiled extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from tcltorch.handles import HandleTable


@runtime_checkable
class Session(Protocol):
    """What a command may ask of the interpreter it runs in."""

    handles: HandleTable

    def split(self, text: str, option: str = "value") -> list[str]:
        """A Tcl list -> its words; a malformed list is a TclError naming ``option``."""
        ...

    def nested(self, text: str, option: str = "-data") -> tuple[list[Any], list[int], bool]:
        """A rectangular nested Tcl list of numbers -> (flat values, shape, all integers)."""
        ...

    def eval(self, script: str) -> str:
        """Evaluate a Tcl script in the caller's frame; its result, or a TclError."""
        ...

    def call(self, *words: Any) -> str:
        """Call one Tcl command with these words (no substitution); its result."""
        ...

    def result(self) -> str:
        """The interpreter's current result."""
        ...


class Native:
    """Optional C helpers the bridge installs when it loads (see tcltorch.bridge)."""

    # tensor_list(address, kind, shape): a nested Tcl list from a contiguous CPU buffer
    tensor_list: Callable[[int, int, list[int]], Any] | None = None
    # element kinds tensor_list reads, by dtype name
    list_kinds: ClassVar[dict[str, int]] = {}


native = Native()
