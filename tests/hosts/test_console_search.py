"""The console's search: Tab completion inside names when no name starts with what was typed,
and ``help WORD`` searching (the search_completer in-process, as in tests/hosts/test_console.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("prompt_toolkit")


@pytest.fixture(scope="module")
def search_completer():
    from tcltorch.console import Console, _make_completer, new_interp

    console = Console(new_interp("tcltorch", [], interactive=True))
    return console, _make_completer(console)


def completions(search_completer, text: str) -> list[str]:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    _, comp = search_completer
    return [c.text for c in comp.get_completions(Document(text), CompleteEvent(completion_requested=True))]


def test_completion_inside_names_when_no_prefix_matches(search_completer):
    # nothing starts with torch::transp: the commands that contain it
    found = completions(search_completer, "torch::transp")
    assert {"torch::sparse_transpose", "torch::tensor_transpose", "torch::conv_transpose2d"} <= set(found)
    assert all("transp" in name for name in found) and len(found) == len(set(found))
    assert completions(search_completer, "::torch::permu") == ["::torch::tensor_permute"]
    # the ensemble form completes subcommands the same way
    assert completions(search_completer, "torch permu") == ["tensor_permute"]
    # an alias only where it alone matches (tensorPermute contains "Permute", tensor_permute does not)
    assert completions(search_completer, "torch::Permu") == ["torch::tensorPermute"]
    # a bare fragment: torch:: commands first, then Tcl's own commands containing it
    found = completions(search_completer, "grad_nor")
    assert found == ["torch::clip_grad_norm"]
    assert "torch::tensor_transpose" in completions(search_completer, "transpose")
    assert "lsearch" in completions(search_completer, "search")
    # a prefix match wins: no inside matches are mixed in
    assert completions(search_completer, "torch::tensor_perm") == ["torch::tensor_permute"]
    # one letter, or something that is no name, offers nothing
    assert completions(search_completer, "torch::y") == []
    assert completions(search_completer, "torch::zz") == []
    assert completions(search_completer, "torch::a*b") == []


def test_console_help_searches(search_completer):
    console, _ = search_completer
    out = console.interp.eval("torch::help clip")
    lines = out.splitlines()
    assert lines[0].endswith('commands match "clip"; torch::help COMMAND for one:')
    assert lines[1].startswith("    torch::clip_grad_norm - ")
    assert lines[2].startswith("    torch::clip_grad_value - ")
    # the console's help proc passes its words on: a search, a family, the family list
    console.interp.eval("set ::helpout {}; rename ::puts ::_real_puts; proc ::puts {s} { set ::helpout $s }")
    try:
        console.interp.eval("help torch.nn.GRU")
        assert (
            console.interp.getvar("helpout")
            .splitlines()[1]
            .startswith("    torch::gru [wraps torch.nn.GRU] - ")
        )
        console.interp.eval("help -family clipping")
        assert console.interp.getvar("helpout").startswith("train/clipping (2 commands)")
        console.interp.eval("help")
        assert "torch::help WORD (or -search WORD) to search" in console.interp.getvar("helpout")
    finally:
        console.interp.eval("rename ::puts {}; rename ::_real_puts ::puts")
