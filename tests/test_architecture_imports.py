"""The import structure of tcltorch, read from the source with ast (nothing is imported):
no import cycles among tcltorch's modules (imports at module level and inside functions
alike; those under ``if TYPE_CHECKING:`` run never and do not count), no module imports
``tcltorch.__main__``, and the engine (tcltorch/optim, signal.py, vision.py, nn/) is plain
PyTorch: it imports neither the command layer, the bridge, the Python host nor tkinter."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tcltorch"

ENGINE = (
    "tcltorch.optim",
    "tcltorch.signal",
    "tcltorch.vision",
    "tcltorch.nn",
    "tcltorch.serialization",
    "tcltorch.checkpoint",
    "tcltorch.train_state",
    "tcltorch.visualize",
    "tcltorch.interop",
    "tcltorch.distributed",
    "tcltorch.dcp",
    "tcltorch.positional",
    "tcltorch.summary",
)
ENGINE_FORBIDDEN = (
    "tcltorch.commands",
    "tcltorch.bridge",
    "tcltorch._tclapi",
    "tcltorch.interp",
    "tcltorch.console",
    "tcltorch.errors",
    "tkinter",
)
BRIDGE = (
    "tcltorch.bridge",
    "tcltorch._tclapi",
    "tcltorch.libtcltorch",
    "tcltorch.interp",
    "tcltorch.console",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """tcltorch's modules by name: its .py files, and its compiled extensions (leaves)."""
    found = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    for ext in sorted(PACKAGE.rglob("*.so")):
        found.setdefault(module_name(ext.with_name(ext.name.split(".")[0] + ".py")), ext)
    return found


def _module_level_names(path: Path) -> set[str]:
    """Names a package's __init__ binds at module level (``__version__ = ...``): importing
    one runs only the __init__'s module-level code, not the imports inside its functions."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, functions: bool = True):
    """Every import statement, at any depth (only outside functions unless ``functions``),
    except inside ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if not functions and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from X import ...`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


MODULE_LEVEL = " (module level)"  # the node for a package __init__'s module-level code only


def imports_of(name: str, path: Path, known: dict[str, Path], functions: bool = True) -> set[str]:
    """The modules ``name`` imports: tcltorch modules by their names, others as written; a
    constant of a package's __init__ (``from tcltorch import __version__``) is an import
    of that __init__'s module-level code (``tcltorch (module level)``)."""
    found: set[str] = set()
    if path.suffix != ".py":
        return found
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path)), functions):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = _base(name, path, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in known:
                found.add(sub)
            elif (
                base in known
                and known[base].name == "__init__.py"
                and alias.name in _module_level_names(known[base])
            ):
                found.add(base + MODULE_LEVEL)
            else:
                found.add(base)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {
        name: {m for m in imports_of(name, path, known) if m in known or m.endswith(MODULE_LEVEL)}
        for name, path in known.items()
    }
    for name, path in known.items():
        if path.name == "__init__.py":
            edges[name + MODULE_LEVEL] = {
                m for m in imports_of(name, path, known, functions=False) if m in known
            }
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import),
    each as one cycle through it: [a, b, ..., a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(_cycle_through(sorted(component), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _cycle_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One cycle from the component's first module back to it (breadth-first)."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def cycle_edges(cycle: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(cycle))


def describe(found: list[list[str]]) -> str:
    return "; ".join(" -> ".join(c) for c in found)


def test_the_walker_sees_function_level_imports_and_cycles():
    edges = graph()
    assert "tcltorch.paths" in edges["tcltorch.tcl_install"]
    assert "tcltorch.console.interactive" in edges["tcltorch.console.repl"]  # inside interact()
    assert "tcltorch.interp" in edges["tcltorch.console.session"]  # inside new_interp()
    assert "tcltorch (module level)" in edges["tcltorch.tcl_install"]  # __version__ only
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\ndef f():\n    import b\n"
    assert {n.names[0].name for n in _import_nodes(ast.parse(source))} == {"TYPE_CHECKING", "b"}
    assert {n.names[0].name for n in _import_nodes(ast.parse(source), functions=False)} == {"TYPE_CHECKING"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles():
    found = list(cycles(graph()))
    assert not found, f"import cycles among tcltorch modules: {describe(found)}"


def test_no_command_module_imports_the_bridge():
    # the commands talk to their interpreter through commands/contract.py's Session protocol,
    # so they (and tools/gen_docs.py) import without the compiled extension
    bad = [
        f"{name} imports {dep}"
        for name, deps in graph().items()
        if name.startswith("tcltorch.commands")
        for dep in deps
        if any(dep == b or dep.startswith(b + ".") for b in BRIDGE)
    ]
    assert not bad, "command modules must not import the bridge: " + "; ".join(bad)


def test_nothing_imports_main():
    importers = [name for name, deps in graph().items() if "tcltorch.__main__" in deps]
    assert not importers, f"modules importing tcltorch.__main__: {importers}"


def test_the_engine_is_plain_pytorch():
    known = modules()
    bad = []
    for name, path in known.items():
        if not any(name == e or name.startswith(e + ".") for e in ENGINE):
            continue
        for dep in imports_of(name, path, known):
            if any(dep == f or dep.startswith(f + ".") for f in ENGINE_FORBIDDEN):
                bad.append(f"{name} imports {dep}")
    assert not bad, "the engine must not depend on the Tcl side: " + "; ".join(bad)
