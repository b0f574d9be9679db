"""Command.wraps (the PyTorch function a command wraps: from its doc text, or wraps= on the spec)
and torch::help's search index (tcltorch.commands.runtime.help.search)."""

from __future__ import annotations

from tcltorch.commands import load_all
from tcltorch.commands import spec as S
from tcltorch.commands.runtime.help import search


def _cmd(doc: str, **kw) -> S.Command:
    return S.Command("x_probe", lambda: None, [S.Opt("a", S.Int(), help="see F.softmax")], doc=doc, **kw)


def test_wraps_from_the_doc_text_full_names_in_order():
    cmd = _cmd("A layer (nn.GRU), as torch.nn.GRU; see Tensor.permute and torch.fft.fft.")
    assert cmd.wraps == (
        "torch.nn.GRU",
        "torch.Tensor.permute",
        "torch.fft.fft",
        "torch.nn.functional.softmax",
    )
    # paths and words that merely contain the letters are no references
    assert _cmd("files under /tmp/nn.pt or my_torch.x").wraps == ("torch.nn.functional.softmax",)


def test_wraps_declared_on_the_spec_win():
    assert _cmd("As torch.add.", wraps="torch.transpose").wraps == ("torch.transpose",)
    assert _cmd("", wraps=("nn.LSTM", "F.relu")).wraps == ("torch.nn.LSTM", "torch.nn.functional.relu")
    registry = load_all()
    assert registry["tensor_transpose"].wraps == ("torch.transpose",)
    assert registry["gru"].wraps[0] == "torch.nn.GRU"


def test_search_ranks_and_says_what_matched():
    load_all()
    hits = search("clip")
    assert [m.cmd.name for m in hits[:2]] == ["clip_grad_norm", "clip_grad_value"]
    adam = next(m for m in hits if m.cmd.name == "optimizer_adam")
    assert adam.why == "options -clipNorm -clipValue -globalClipNorm" and adam.every_word
    assert search("torch.nn.GRU")[0].why == "wraps torch.nn.GRU"
    assert search("handles")[0].cmd.name == "handles"
    assert search("learning rate")[0].cmd.name == "get_lr"  # "learning rate" is how the commands say lr
    assert search("zzqq") == []
