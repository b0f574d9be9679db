"""Errors of the file engines (tcltorch.serialization, tcltorch.checkpoint) as Tcl reports them.

An operating-system error reads as Tcl's own ``open`` would say it, ``couldn't write "NAME":
no space left on device`` with errorcode ``POSIX ENOSPC {no space left on device}``; any other
refusal is ``invalid -file "NAME": PROBLEM`` with errorcode ``TORCH VALUE -file`` (the whole
file name, never shortened)."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from tcltorch.errors import TclError
from tcltorch.serialization import FileAccessError, SerializationError

FILE_OPTION = "-file"


def bad_file(file: str, problem: str) -> TclError:
    """``invalid -file "NAME": problem``, errorcode ``TORCH VALUE -file``."""
    return TclError(f'invalid {FILE_OPTION} "{file}": {problem}', ["TORCH", "VALUE", FILE_OPTION])


def tcl_error(exc: SerializationError) -> TclError:
    """The Tcl error for an engine's refusal."""
    if isinstance(exc, FileAccessError):
        name = errno.errorcode.get(exc.errno, "EIO")
        return TclError(f'couldn\'t {exc.verb} "{exc.file}": {exc.reason}', ["POSIX", name, exc.reason])
    return bad_file(exc.file, exc.problem)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Run engine code; a SerializationError leaves as the Tcl error for it."""
    try:
        yield
    except SerializationError as exc:
        raise tcl_error(exc) from None
