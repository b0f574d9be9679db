"""Docs pages from docstrings: a command function's docstring is its page's summary (first
paragraph), description (markdown, may add ``## Return Value`` ...) and, after a line
``Examples:``, one indented block of Tcl that becomes the spec's ``examples``
(tools/gen_docs.py renders them; the docs test runs them and checks each ``;# -> value``)."""

from __future__ import annotations

import textwrap

from tcltorch.commands.spec import REGISTRY


def examples_from_docstrings(module: str) -> None:
    """Move the ``Examples:`` block of each docstring of ``module``'s commands into the spec."""
    for cmd in REGISTRY.values():
        if cmd.fn.__module__ != module or "\nExamples:\n" not in cmd.doc:
            continue
        head, block = cmd.doc.split("\nExamples:\n", 1)
        cmd.doc = head.strip()
        cmd.examples = [textwrap.dedent(block).strip("\n")]
        cmd.summary = " ".join(cmd.doc.split("\n\n")[0].split())
