"""Command.next_words: what may follow the words of a torch:: command typed so far (the
console's completion is built on it), by the same rules as the parser."""

from __future__ import annotations

from tcltorch.commands.spec import Bool, Choice, Command, DType, Handle, Int, Opt, Script


def make(*options: Opt) -> Command:
    return Command("demo", lambda **kw: None, options)


DEMO = make(
    Opt("input", Handle("tensor")),
    Opt("dim", Int(), default=None),
    Opt("mode", Choice("mean", "sum", "none"), default="mean", positional=False),
    Opt("keepdim", Bool(), default=False, positional=False),
    Opt("dtype", DType(), default=None, positional=False),
)


def flags(nxt) -> list[str]:
    return [o.flag for o in nxt.flags]


def test_positional_slots_in_order():
    nxt = DEMO.next_words([])
    assert nxt.slot.name == "input" and nxt.positional_name == "input"
    assert not nxt.after_flag and not nxt.expects_value
    assert flags(nxt) == ["-input", "-dim", "-mode", "-keepdim", "-dtype"]
    nxt = DEMO.next_words(["tensor1"])
    assert nxt.positional_name == "dim"
    assert flags(nxt) == ["-dim", "-mode", "-keepdim", "-dtype"]  # -input was given by position
    nxt = DEMO.next_words(["tensor1", "0"])
    assert nxt.slot is None and nxt.positional_name is None  # only a -flag fits now
    assert flags(nxt) == ["-mode", "-keepdim", "-dtype"]


def test_a_flag_waiting_for_its_value():
    nxt = DEMO.next_words(["tensor1", "-mode"])
    assert nxt.after_flag and nxt.expects_value and nxt.slot.name == "mode"
    assert nxt.choices == ("mean", "sum", "none")
    assert nxt.flags == [] and nxt.positional_name is None
    nxt = DEMO.next_words(["-input", "tensor1", "-keep"])  # an abbreviation names its option
    assert nxt.slot.name == "keepdim" and nxt.choices == ("true", "false")
    nxt = DEMO.next_words(["tensor1", "-nosuch"])
    assert nxt.after_flag and nxt.slot is None and nxt.choices == ()


def test_named_form_tracks_the_options_given():
    nxt = DEMO.next_words(["-input", "tensor1", "-mode", "sum"])
    assert not nxt.after_flag and nxt.slot is None
    assert flags(nxt) == ["-dim", "-keepdim", "-dtype"]
    nxt = DEMO.next_words(["-dty"])
    assert nxt.slot.name == "dtype" and nxt.choices == ()  # dtypes are not a Choice


def test_rest_slot_and_script_tail():
    rest = make(Opt("tensors", Handle("tensor"), rest=True), Opt("dim", Int(), default=0, positional=False))
    assert rest.next_words([]).positional_name == "tensors"
    assert rest.next_words(["tensor1", "tensor2"]).positional_name == "tensors"  # it takes more
    assert rest.next_words(["tensor1", "-dim"]).slot.name == "dim"
    assert flags(rest.next_words(["tensor1"])) == ["-dim"]
    tail = make(Opt("enabled", Bool(), default=True, positional=False), Opt("body", Script(), last=True))
    nxt = tail.next_words([])
    assert isinstance(nxt.slot.type, Script) and flags(nxt) == ["-enabled"]
    assert tail.next_words(["-enabled", "0"]).slot is None


def test_real_command_specs():
    from tcltorch.commands import load_all

    registry = load_all()
    zeros = registry["zeros"]
    assert "-dtype" in flags(zeros.next_words(["{2 2}"]))
    assert zeros.next_words(["{2 2}", "-dtype"]).slot.name == "dtype"
    for cmd in registry.values():  # never raises, whatever the words
        for words in ([], ["x"], ["-"], ["x", "-zz"], ["-inf", "1"]):
            cmd.next_words(words)
