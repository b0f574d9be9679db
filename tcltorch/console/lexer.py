"""A small Tcl scanner for completion: it finds the command being typed at the end of
the input (its complete words and the partial word at the cursor), through ``[...]``
substitutions, ``{...}`` bodies, quotes and comments.  A heuristic: a brace may hold a
script or a list, so braces are scanned like brackets."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Frame:
    """One level of nesting while scanning: the top level, a [command] or a {brace}."""

    kind: str  # "top", "bracket" or "brace"
    parent_words: list[str] = field(default_factory=list)  # the enclosing command's words
    words: list[str] = field(default_factory=list)
    word_start: int | None = None
    in_quote: bool = False
    in_comment: bool = False

    def start_word(self, i: int) -> None:
        if self.word_start is None:
            self.word_start = i


@dataclass
class CursorContext:
    """The command being typed: its complete words and the partial word at the cursor.
    ``kind`` is where it is: "top", "bracket", "brace" or "comment"."""

    kind: str
    words: list[str]
    current: str
    parent_words: list[str]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.stack = [_Frame("top")]

    def run(self) -> CursorContext:
        i = 0
        while i < len(self.text):
            i = self._step(i)
        f = self.stack[-1]
        if f.in_comment:
            return CursorContext("comment", [], "", [])
        current = "" if f.word_start is None else self.text[f.word_start :]
        return CursorContext(f.kind, f.words, current, f.parent_words)

    def _step(self, i: int) -> int:
        """Scan the character at ``i``; returns the index of the next one to scan."""
        f, ch = self.stack[-1], self.text[i]
        if f.in_comment:
            return self._comment(f, ch, i)
        if ch == "\\":  # a backslash takes the next character with it
            f.start_word(i)
            return i + 2
        if self._nesting(f, ch, i):
            return i + 1
        if f.in_quote:
            f.in_quote = ch != '"'
        else:
            self._plain(f, ch, i)
        return i + 1

    def _comment(self, f: _Frame, ch: str, i: int) -> int:
        if ch == "\\":
            return i + 2
        if ch == "\n":
            f.in_comment = False
        elif ch == "}" and f.kind == "brace":
            self.stack.pop()
        return i + 1

    def _nesting(self, f: _Frame, ch: str, i: int) -> bool:
        """Open or close a brace or bracket at ``i``; whether ``ch`` did."""
        if f.kind == "brace" and ch == "}":
            self.stack.pop()
        elif ch == "{" and (f.kind == "brace" or f.word_start is None):
            f.start_word(i)
            self.stack.append(_Frame("brace", parent_words=list(f.words)))
        elif ch == "[":
            f.start_word(i)
            self.stack.append(_Frame("bracket", parent_words=list(f.words)))
        elif ch == "]" and f.kind == "bracket" and not f.in_quote:
            self.stack.pop()
        else:
            return False
        return True

    def _plain(self, f: _Frame, ch: str, i: int) -> None:
        """A character outside quotes that opens or closes nothing."""
        if ch == '"' and f.word_start is None:
            f.word_start = i
            f.in_quote = True
        elif ch in " \t":
            if f.word_start is not None:
                f.words.append(self.text[f.word_start : i])
                f.word_start = None
        elif ch in "\n;":
            f.words, f.word_start = [], None
        elif ch == "#" and f.word_start is None and not f.words:
            f.in_comment = True
        else:
            f.start_word(i)


def scan(text: str) -> CursorContext:
    """Find the innermost command at the end of ``text``."""
    return _Scanner(text).run()
