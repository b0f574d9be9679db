"""The bridge: registers the ``torch::`` commands on a Tcl interpreter and runs them.

Both hosts come through here: :func:`boot_tclsh` (called by libtcltorch when a
tclsh does ``package require tcltorch``) and :func:`install` (the Python host,
on a tkinter interpreter's address).  The C half is ``tcltorch._tclapi``.
The bridge knows nothing about torch beyond handing results to the handle table.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import keyword
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

from tcltorch import _tclapi
from tcltorch.errors import TCL_ERROR, TCL_OK, TclError, TclPassthrough, translate
from tcltorch.handles import KIND_CLASSES, HandleTable, _Tensor

lib = _tclapi.lib

_sessions: dict[int, Session] = {}
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")  # a word "-x..." is an option
_SCRIPT_CACHE = 256
_CAPSULE = type(__import__("datetime").datetime_CAPI)  # a Tcl value built in C (tensor_list)
_PLAIN = frozenset({str, int, float, bool, bytes, type(None), _CAPSULE})
E_SIZE = -1  # a C entry point's answer when a value is too long for Tcl
MAX_SIZE_MESSAGE = "max size for a Tcl value (2147483647 bytes) exceeded"
# Python exceptions a command raises because of what the user gave it (torch's
# checks): errorInfo keeps the Tcl location first, without a Python traceback.
_USER_ERRORS = (RuntimeError, ValueError, IndexError, ArithmeticError, OSError, MemoryError)


def too_big() -> OverflowError:
    return OverflowError(MAX_SIZE_MESSAGE)


@contextlib.contextmanager
def max_value_size(size: int) -> Iterator[None]:
    """Lower the largest value that may cross into Tcl (tests of the 2 GiB limit)."""
    old = lib.tt_set_max_size(size)
    try:
        yield
    finally:
        lib.tt_set_max_size(old)


def want_traceback() -> bool:
    """TCLTORCH_TRACEBACK=1: every Python error keeps its full traceback in errorInfo."""
    return os.environ.get("TCLTORCH_TRACEBACK", "") not in ("", "0")


def split(text: str, option: str = "value") -> list[str]:
    """Split a Tcl list into its words (Tcl's own parser)."""
    out: list[str] = []
    rc = lib.tt_split(id(text), id(out))
    if rc:
        if rc == E_SIZE:
            raise TclError(f"invalid {option}: {MAX_SIZE_MESSAGE}", ["TCL", "MEMORY"])
        raise TclError(f'invalid {option} "{_short(text)}": {out[0]}', ["TORCH", "VALUE", option])
    return out


def _read_nested(reader: Any, text: str, option: str) -> tuple[Any, list[int], bool]:
    """Run a C walker of nested number lists; its failure -> the Tcl error naming ``option``."""
    out: list[Any] = []
    rc = reader(id(text), id(out))
    if rc:
        if rc == E_SIZE:
            raise TclError(f"invalid {option}: {MAX_SIZE_MESSAGE}", ["TCL", "MEMORY"])
        problem = out[0].replace("\x00", "\\0").replace(" at index {}", "")
        raise TclError(f"invalid {option}: {problem}", ["TORCH", "VALUE", option])
    return out[0], out[1], out[2]


def nested(text: str, option: str = "-data") -> tuple[list[Any], list[int], bool]:
    """A rectangular nested Tcl list of numbers -> (flat values, shape, all ints)."""
    return _read_nested(lib.tt_nested, text, option)


def nested_buffer(text: str, option: str = "-data") -> tuple[bytearray, list[int], bool]:
    """Like :func:`nested`, but the numbers come back in one buffer: int64 values when
    all are integers, else float64 (the C walker reads the command's Tcl list itself)."""
    return _read_nested(lib.tt_nested_buffer, text, option)


# element kinds of tt_tensor_list (bulk.c)
LIST_KINDS = {
    "float64": 0,
    "float32": 1,
    "int64": 2,
    "int32": 3,
    "int16": 4,
    "int8": 5,
    "uint8": 6,
    "bool": 7,
}


def tensor_list(address: int, kind: int, shape: list[int]) -> Any:
    """A nested Tcl list (an opaque value a command may return) from a contiguous CPU
    buffer of ``kind`` elements; the caller keeps the buffer alive."""
    out: list[Any] = []
    rc = lib.tt_tensor_list(address, kind, len(shape), _tclapi.ffi.new("long long[]", shape or [0]), id(out))
    if rc:
        raise too_big()
    return out[0]


def _offer_native() -> None:
    """Give the command layer the C helpers of this module (see tcltorch.commands.contract)."""
    from tcltorch.commands.contract import native

    native.tensor_list = tensor_list
    native.list_kinds = LIST_KINDS


_offer_native()


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


class Session:
    """Everything tcltorch keeps for one Tcl interpreter: its handle table, the
    thread that owns it, and the last Python exception a command raised."""

    def __init__(self, addr: int) -> None:
        self.addr = addr
        self.handles = HandleTable()
        self.thread = threading.get_ident()
        # (exception, message, errorcode, words) of the last Python failure in a command
        # (words: the command's name as invoked and its arguments), so the Python host can
        # raise it with Tcl's message when that very error ends the script (not when Tcl
        # caught it and a later error, alike in message and code, ended it).
        self.last_error: tuple[BaseException, str, list[str], tuple[str, ...]] | None = None
        self._callables: list[Any] = []
        self._scripts: dict[str, int] = {}  # script text -> Tcl_Obj (keeps its bytecode)
        # the C builtins bound to this interpreter (called with the GIL held; see tclapi.c)
        natives: list[Any] = []
        if lib.tt_builtins(addr, id(natives)) != 0:
            raise TclError("tcltorch: cannot make the bridge's builtins", ["TORCH", "INIT"])
        (
            self._eval_word,
            self._eval_obj,
            self._call,
            self.result,
            join_keys,
            make_put,
            make_release,
            make_lookup,
        ) = natives
        self.handles.join_names = join_keys
        self.handles.put_tensor = make_put(self.handles.put_state())
        self.handles.release_c = make_release(self.handles.release_state())
        self.handles.lookup_c = make_lookup(self.handles.lookup_state())

    # -- used by command functions --------------------------------------------
    split = staticmethod(split)
    nested = staticmethod(nested)
    nested_buffer = staticmethod(nested_buffer)

    def eval(self, script: str) -> str:
        """Evaluate a script in the current frame (the calling command's caller).
        A non-OK completion propagates through the command unchanged."""
        # a word of the running command is evaluated as its own Tcl_Obj (Tcl keeps its
        # compiled form); other scripts through a cache of Tcl_Objs
        result = self._eval_word(script)
        if result is None:
            result = self._eval_obj(self._script_obj(script))
        if result.__class__ is int:
            raise TclPassthrough(result)
        return result

    def _script_obj(self, script: str) -> int:
        obj = self._scripts.get(script)
        if obj is None:
            if len(self._scripts) >= _SCRIPT_CACHE:
                lib.tt_obj_free(self._scripts.pop(next(iter(self._scripts))))
            obj = lib.tt_obj_new(id(script))
            if not obj:
                raise too_big()
            self._scripts[script] = obj
        return obj

    def release_scripts(self) -> None:
        for obj in self._scripts.values():
            lib.tt_obj_free(obj)
        self._scripts.clear()

    def call(self, *words: Any) -> str:
        """Invoke a Tcl command with Python values as its words."""
        result = self._call(words)
        if result.__class__ is int:
            if result == E_SIZE:
                raise too_big()
            raise TclPassthrough(result)
        return result

    # result() -> str: the interpreter's result (a builtin bound in __init__)

    def export(self, value: Any) -> Any:
        """A command's Python result -> a Tcl value; torch objects become handles."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is _Tensor:  # the common result: a new tensor handle
            return self.handles.put(value)
        if kind is list or kind is tuple:
            for item in value:
                if type(item) not in _PLAIN:
                    return [self.export(v) for v in value]
            return value
        if isinstance(value, (str, int, float, bytes)):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, (list, tuple)):
            return [self.export(v) for v in value]
        if isinstance(value, dict):
            return {k: self.export(v) for k, v in value.items()}
        return self.handles.put(value)

    # -- used by the bridge ---------------------------------------------------
    def error(
        self,
        exc: BaseException,
        invoked: str | None = None,
        kwargs: dict[str, Any] | None = None,
        words: tuple[str, ...] = (),
    ) -> tuple[int, Any, Any, Any]:
        """A failure -> (code, message, errorcode, errorinfo) for the C side.

        For an error the user caused (torch refusing a shape, a dtype, ...) the
        message says what to do in Tcl terms, PyTorch's own text after it, and
        errorInfo starts with the Tcl location (no Python traceback); internal
        errors, Python callbacks and TCLTORCH_TRACEBACK=1 keep the full trace."""
        if isinstance(exc, TclPassthrough):
            return (exc.code, None, None, None)
        if isinstance(exc, TclError):
            message, errorcode, info = exc.message, exc.errorcode, None
        elif isinstance(exc, RecursionError):  # Python's nesting limit, reached through Tcl
            message, errorcode, info = (
                "too many nested evaluations (infinite loop?)",
                ["TCL", "LIMIT", "STACK"],
                None,
            )
        elif isinstance(exc, KeyboardInterrupt):
            # unwind through every catch: Ctrl-C stops the whole evaluation
            lib.tt_cancel(self.addr)
            message, errorcode, info = "interrupted", ["TORCH", "INTERRUPT"], None
        else:
            text = str(exc).strip().split("\n")[0] or type(exc).__name__
            errorcode = ["TORCH", type(exc).__name__]
            hint = translate(exc, text, invoked, kwargs, self.handles) if invoked else None
            message = f"{hint} (PyTorch: {text})" if hint else text
            if invoked is not None and isinstance(exc, _USER_ERRORS) and not want_traceback():
                info = None
            else:
                info = "\n(Python)\n" + "".join(traceback.format_exception(exc)).rstrip("\n")
        self.last_error = (exc, message, errorcode, words)
        return (TCL_ERROR, message, errorcode, info)

    def register(self, name: str, fn: Any) -> None:
        """Make a Python callable a Tcl command; its arguments arrive as str and its
        result (torch objects become handles) is the command's result."""
        export, error = self.export, self.error

        def run(*args: str):
            try:
                return (TCL_OK, export(fn(*args)))
            except BaseException as exc:  # noqa: BLE001 (a Tcl error, never a crash)
                return error(exc, None, None, (name, *args))

        self._callables.append(run)
        lib.tt_create_command(self.addr, name.encode(), id(run))

    def check_thread(self) -> None:
        if threading.get_ident() != self.thread:
            raise TclError(
                "tcltorch: this interpreter belongs to another thread; call it only from the thread that made it",
                ["TORCH", "THREAD"],
            )


def _make_callable(session: Session, cmd: Any, invoked: str):
    """The Python side of one command: ``run(args)`` (the words' tuple) -> (TCL_OK, value) or
    Session.error's tuple.  Where the spec's generated positional fast path applies, the
    first call compiles a runner for the command (:func:`_compile_runner`) and puts it in
    ``run.holder``, the list whose first item the C side calls."""
    parse, fn, export, error = cmd.parse, cmd.fn, session.export, session.error
    if hasattr(cmd, "fast_path_applies") and cmd.fast_path_applies():
        holder: list[Any] = []

        def first_call(args: tuple[str, ...]):
            try:
                runner = _compile_runner(session, cmd, invoked)
                plans = _direct_plans(session, cmd, invoked)
            except BaseException as exc:  # noqa: BLE001 (every failure becomes a Tcl error, never a crash)
                return error(exc, invoked, None, (invoked, *args))
            holder[0] = runner
            if plans is not None and len(holder) == 1:
                holder.append(plans)
            return runner(args)

        holder.append(first_call)
        first_call.holder = holder  # type: ignore[attr-defined]
        return first_call

    def run(args: tuple[str, ...]):
        kwargs = None
        try:
            kwargs = parse(session, args, invoked)
            return (TCL_OK, export(fn(**kwargs)))
        except BaseException as exc:  # noqa: BLE001 (every failure becomes a Tcl error, never a crash)
            return error(exc, invoked, kwargs, (invoked, *args))

    run.holder = [run]  # type: ignore[attr-defined]
    calls = getattr(cmd, "direct_calls", None)
    if calls is not None:  # a command whose own parse has a short path for all-handle words
        table: list[Any] = []
        for arity, *call in calls():
            table += [None] * (arity + 1 - len(table))
            table[arity] = _plan(session, invoked, *call)
        run.holder.append(tuple(table))  # type: ignore[attr-defined]
    return run


def _plan(
    session: Session,
    invoked: str,
    fn: Any,
    order: list[str],
    names: list[str],
    values: dict[str, Any],
    kinds: bytes,
    classes: tuple[Any, ...],
    excluded: tuple[Any, ...],
) -> tuple[Any, ...]:
    """One plan of a direct call (tclapi.c, tt_direct): ``fn`` called with its parameters
    ``order`` positionally, word j giving ``names[j]`` and ``values`` the others; each word's
    kind a byte of ``kinds`` ('t' a plain tensor, 'o' any live handle, 'i' an instance of
    ``classes[j]`` whose class is not a key of ``excluded[j]`` (a dict or None), 'w' the word
    itself).  A failure goes to the runner's error path with the keyword arguments fn was given."""
    lookup, error = session.handles.lookup, session.error

    def failed(exc: BaseException, given: tuple[str, ...]):
        kw = {name: w if c == ord("w") else lookup(w) for name, w, c in zip(names, given, kinds)}
        kw.update(values)
        return error(exc, invoked, kw, (invoked, *given))

    handles = session.handles
    young, old = handles.lookup_state()  # (what the C lookup reads too)
    return (
        fn,
        tuple(None if name in names else values[name] for name in order),
        tuple(order.index(name) for name in names),
        kinds,
        failed,
        young,
        old,
        handles.put_tensor,
        session.export,
        _Tensor,
        classes,
        excluded,
    )


def _word_code(kind: str | None, cls: type | None, vtype: Any) -> str:
    """A slot's kind for a direct call (tt_direct): "t" a plain tensor's handle, "o" any handle,
    "i" a handle of an instance of ``cls``, "w" the word itself (its convert gives the word: a
    script, a plain string); "" when only the slot's convert can say."""
    from tcltorch.commands.spec import ValueType

    if kind in ("tensor", "object"):
        return "t" if kind == "tensor" else "o"
    if cls is not None:
        return "i"
    return "w" if type(vtype).convert is ValueType.convert else ""


def _handle_class(vtype: Any) -> type | None:
    """The class a ``Handle(kind)`` slot's convert checks with isinstance (HandleTable._is), for
    the kinds that are one class; None for the others (a module kind: ``sequential`` ...)."""
    from tcltorch.commands.spec import Handle

    return KIND_CLASSES.get(vtype.kind) if type(vtype) is Handle and vtype.kind else None


def _direct_plans(session: Session, cmd: Any, invoked: str) -> tuple[Any, ...] | None:
    """The direct plans of a command with a compiled runner, by number of words: the call the
    runner makes when every word is a live handle it takes as it is (a plain tensor, any object,
    an instance of a Handle slot's class) or a word it passes on (a script): ``fn`` with the
    words' objects, the other options' defaults and ``ctx``, positionally.  None when no call
    qualifies (a factory default, a rest slot, a function that takes keywords)."""
    slots, kinds = cmd._slots, cmd._slot_handles
    if _rest_slot(cmd) is not None or cmd._factories:
        return None
    table: list[Any] = [None] * (len(slots) + 1)
    classes = [_handle_class(o.type) for o in cmd.positional]
    codes = [_word_code(kind, cls, o.type) for kind, cls, o in zip(kinds, classes, cmd.positional)]
    for arity in range(max(1, cmd._min_positional), len(slots) + 1):
        if not all(codes[:arity]):  # a word the runner converts
            break
        names = [slots[i][0] for i in range(arity)]
        values = {name: value for name, value in cmd._defaults.items() if name not in names}
        if cmd.context:
            values["ctx"] = session
        order = _positional_order(cmd.fn, names + list(values))
        if order is not None:
            code = "".join(codes[:arity]).encode()
            table[arity] = _plan(
                session, invoked, cmd.fn, order, names, values, code, tuple(classes[:arity]), (None,) * arity
            )
    while table and table[-1] is None:
        table.pop()
    return tuple(table) if table else None


def _compile_runner(session: Session, cmd: Any, invoked: str):
    """Straight-line code for one command on one interpreter (a hot path: every call of a
    command without a parse hook goes through it).  For the common call, only positional
    words, it converts each word by its slot's type, calls the command function with
    keywords and exports the result, in one Python frame: a word naming a live tensor is
    looked up in the handle table's dict (``handle_first`` of the slot's type says when that
    is what the type's convert would do), and a new tensor result goes straight to
    ``HandleTable.put``.  Any other call runs the spec's parser.  Failures go to
    Session.error with the keyword arguments the function was given (rebuilt from the
    converted words only when something failed)."""
    namespace: dict[str, Any] = {
        "L": _LETTERS,
        "OK": TCL_OK,
        "Tensor": _Tensor,
        "ctx": session,
        "get": session.handles.lookup_function(),
        "put": session.handles.put_tensor,
        "export": session.export,
        "error": session.error,
        "parse": cmd.parse,
        "fn": cmd.fn,
        "invoked": invoked,
    }
    slots, kinds = cmd._slots, cmd._slot_handles
    lines = ["def run(args):", "    n = len(args)", "    done = 0", "    kw = None", "    try:"]
    rebuild = ["    except BaseException as exc:  # every failure becomes a Tcl error"]
    rest = _rest_slot(cmd)
    if rest is not None:  # `name ?name ...?`: all words positional, at least one for the rest slot
        k = len(slots) - 1
        lines.append(f"        if n > {k}:")
        lines.append("            for w in args:")
        lines.append('                if w[:1] == "-" and w[1:2] in L:')
        lines.append("                    break")
        lines.append("            else:")
        body = "                "
        items = []
        for i, (py_name, convert, flag) in enumerate(slots):
            namespace[f"c{i}"] = convert
            if i < k:
                lines.append(f"{body}v{i} = c{i}(args[{i}], {flag!r}, ctx)")
            else:
                lines.append(f"{body}v{i} = [c{i}(w, {flag!r}, ctx) for w in args[{k}:]]")
            items.append((py_name, f"v{i}"))
        _finish_case(
            cmd, namespace, lines, rebuild, body, items, {name for name, _ in items}, len(slots) + 1000
        )
    for arity in range(cmd._min_positional, len(slots) + 1):
        words = [f"w{i}" for i in range(arity)]
        items: list[tuple[str, str]] = []
        lines.append(f"        if n == {arity}:")
        body = "            "
        if arity:
            lines.append(f"{body}{', '.join(words)}{',' if arity == 1 else ''} = args")
            test = " or ".join(f'({w}[:1] == "-" and {w}[1:2] in L)' for w in words)
            lines.append(f"{body}if not ({test}):")
            body += "    "
        given = set()
        for i, (py_name, convert, flag) in enumerate(slots[:arity]):
            namespace[f"c{i}"] = convert
            call = f"c{i}(w{i}, {flag!r}, ctx)"
            if kinds[i] == "tensor":
                lines.append(f"{body}v{i} = get(w{i})")
                lines.append(f"{body}if v{i}.__class__ is not Tensor:")
                lines.append(f"{body}    v{i} = {call}")
            elif kinds[i] == "object":
                lines.append(f"{body}v{i} = get(w{i})")
                lines.append(f"{body}if v{i} is None:")
                lines.append(f"{body}    v{i} = {call}")
            else:
                lines.append(f"{body}v{i} = {call}")
            items.append((py_name, f"v{i}"))
            given.add(py_name)
        _finish_case(cmd, namespace, lines, rebuild, body, items, given, arity + 1)
    lines.append("        kw = parse(ctx, args, invoked)")
    lines.append("        return (OK, export(fn(**kw)))")
    lines += rebuild
    lines.append("        return error(exc, invoked, kw, (invoked, *args))")
    exec("\n".join(lines), namespace)  # noqa: S102 - code generated from the spec above
    return namespace["run"]


def _rest_slot(cmd: Any) -> Any:
    """The command's last positional slot when it takes all remaining words (``free``), and
    the runner may fill it: no option is required that only a ``-flag`` can give."""
    positional = cmd.positional
    if not positional or not positional[-1].rest or any(o.rest for o in positional[:-1]):
        return None
    if any(o.required and not o.positional for o in cmd._head):
        return None
    return positional[-1]


def _positional_order(fn: Any, names: list[str]) -> list[str] | None:
    """The order of ``fn``'s parameters when a call may give exactly ``names`` by position: its
    own parameters (not a wrapper's), all positional-or-keyword, the same set of names."""
    try:
        params = inspect.signature(fn, follow_wrapped=False).parameters.values()
    except (TypeError, ValueError):
        return None
    order = [p.name for p in params]
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    return order if sorted(order) == sorted(names) and len(set(names)) == len(names) else None


def _finish_case(
    cmd: Any,
    namespace: dict[str, Any],
    lines: list[str],
    rebuild: list[str],
    body: str,
    items: list[tuple[str, str]],
    given: set[str],
    case: int,
) -> None:
    """The end of one case of a runner: the other options' defaults, the call, the export;
    and, for the failure path, the keyword arguments the call was given."""
    for j, (py_name, value) in enumerate(cmd._defaults.items()):
        if py_name not in given:
            namespace[f"d{j}"] = value
            items.append((py_name, f"d{j}"))
    for j, (py_name, factory) in enumerate(cmd._factories):
        if py_name not in given:
            namespace[f"f{j}"] = factory
            lines.append(f"{body}x{j} = f{j}()")
            items.append((py_name, f"x{j}"))
    if cmd.context:
        items.append(("ctx", "ctx"))
    lines.append(f"{body}done = {case}")
    order = _positional_order(cmd.fn, [name for name, _ in items])
    if order is not None:  # (a positional call costs less than keywords)
        values = dict(items)
        call = "fn(" + ", ".join(values[name] for name in order) + ")"
    elif all(name.isidentifier() and not keyword.iskeyword(name) for name, _ in items):
        call = "fn(" + ", ".join(f"{name}={value}" for name, value in items) + ")"
    else:
        call = "fn(**{" + ", ".join(f"{name!r}: {value}" for name, value in items) + "})"
    lines.append(f"{body}r = {call}")
    # a new tensor's handle name alone (the C side takes a str as the OK result)
    lines.append(f"{body}return put(r) if r.__class__ is Tensor else (OK, export(r))")
    rebuild.append(f"        if done == {case}:")
    rebuild.append("            kw = {" + ", ".join(f"{name!r}: {value}" for name, value in items) + "}")


_NAMESPACE_SETUP = """
namespace eval ::torch {
    namespace export {[a-z]*}
    namespace ensemble create
}
package provide tcltorch %s
"""
# After `namespace delete ::torch`: forget the package, and let the next
# `package require tcltorch` call the hidden command that installs it again
# (Tcl's load does nothing for a library this interpreter already loaded).
_REINSTALL = "tcltorch_reinstall"
HOST_COMMAND = "tcltorch_host"  # hidden: Interp.eval and Interp.call through tkinter (tclapi.c)
_ON_NAMESPACE_DELETED = """
package forget tcltorch
package ifneeded tcltorch %s {interp invokehidden {} tcltorch_reinstall}
"""


def install(addr: int) -> Session:
    """Register every command on the interpreter at ``addr`` (once) and return its session."""
    session = _sessions.get(addr)
    if session is not None:
        if lib.tt_has_assoc(addr, b"tcltorch"):
            return session
        # a new interpreter where a deleted one was, whose deletion was not reported: forget it
        _sessions.pop(addr, None)
        session.handles.clear()
    if lib.tt_init_stubs(addr) != 0:
        raise TclError("tcltorch: the Tcl interpreter is not Tcl 8.6 or newer", ["TORCH", "INIT"])

    session = Session(addr)
    # Each Tcl level that passes through a command adds a few Python frames: let Tcl's own
    # nesting limit ("too many nested evaluations") stop runaway recursion, not Python's.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 8000))
    _sessions[addr] = session

    def forget() -> None:
        _sessions.pop(addr, None)
        session.handles.clear()
        session.release_scripts()

    session._callables.append(forget)
    lib.tt_on_delete(addr, b"tcltorch", id(forget))

    def reinstall(*args: str) -> str:
        _install_commands(session)
        return ""

    session.register(_REINSTALL, reinstall)
    _eval_global(session, f"interp hide {{}} {_REINSTALL}")
    lib.tt_create_host(addr, HOST_COMMAND.encode())  # the Python host's way in (interp.py)
    _eval_global(session, f"interp hide {{}} {HOST_COMMAND}")
    _install_commands(session)
    return session


def _eval_global(session: Session, script: str) -> None:
    if lib.tt_eval(session.addr, id(script), 1) != TCL_OK:
        raise TclError(
            "tcltorch: cannot set up the ::torch namespace: " + session.result(), ["TORCH", "INIT"]
        )
    lib.tt_reset_result(session.addr)


def _install_commands(session: Session) -> None:
    """Create ::torch (watched for deletion), its commands and the package."""
    from tcltorch import __version__
    from tcltorch.commands import load_all

    addr = session.addr

    def namespace_deleted() -> None:
        script = _ON_NAMESPACE_DELETED % __version__
        lib.tt_eval(addr, id(script), 1)

    session._callables.append(namespace_deleted)
    lib.tt_watch_namespace(addr, b"::torch", id(namespace_deleted))
    # Loading the specs makes tens of thousands of objects that all live on: with torch's
    # 200,000 objects in the heap, the collections they trigger were 0.1 s of start-up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for cmd in load_all().values():
            for name in cmd.names:
                run = _make_callable(session, cmd, name)
                session._callables.append(run.holder)
                lib.tt_create_runner(addr, f"::torch::{name}".encode(), id(run.holder))
    finally:
        if collecting:
            gc.enable()
    _eval_global(session, _NAMESPACE_SETUP % __version__)


def boot_tclsh(addr: int) -> None:
    """Entry point from libtcltorch's Tcltorch_Init inside a tclsh."""
    install(addr)
