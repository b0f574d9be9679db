"""The ``tcltorch`` command: tclsh with the ``torch::`` commands loaded.

``tcltorch FILE.tcl ?arg ...?`` runs a script, ``tcltorch -c SCRIPT`` evaluates one
string, ``tcltorch < FILE`` reads commands from a pipe or file the way ``tclsh < FILE``
does, and plain ``tcltorch`` on a terminal is an interactive console: tclsh's prompts
and rules (``tcl_prompt1``/``tcl_prompt2``, ``info complete``, ``~/.tcltorchrc``) with
a line editor on top (prompt_toolkit: persistent history, Ctrl-R, Tab completion of
commands, ``-options``, handles and ``$variables``; Ctrl-C interrupts a running command).

The modules:

* :mod:`~tcltorch.console.repl` -- the command line (``main``), the script runner, ``-c``,
  piped stdin;
* :mod:`~tcltorch.console.session` -- :class:`Console`: one interpreter set up like
  tclsh's, evaluation with Ctrl-C armed, prompts, output errors;
* :mod:`~tcltorch.console.interactive` -- the REPL loop on a terminal;
* :mod:`~tcltorch.console.completion` -- Tab completion, over the specs' ``next_words``;
* :mod:`~tcltorch.console.lexer` -- the Tcl scanner that finds the word under the cursor.
"""

from __future__ import annotations

from tcltorch.console.completion import make_completer
from tcltorch.console.lexer import CursorContext, scan
from tcltorch.console.repl import USAGE, interact, main, run_command, run_file, run_stdin
from tcltorch.console.session import Console, error_message, error_text, new_interp

_make_completer = make_completer  # the name older callers use

__all__ = [
    "USAGE",
    "Console",
    "CursorContext",
    "error_message",
    "error_text",
    "interact",
    "main",
    "make_completer",
    "new_interp",
    "run_command",
    "run_file",
    "run_stdin",
    "scan",
]
