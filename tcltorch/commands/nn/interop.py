"""Models in and out: TorchScript, torch.export (.pt2), ONNX and ONNX Runtime, state dicts by name.

The commands parse and resolve; the work is done by :mod:`tcltorch.interop` (plain PyTorch and
ONNX).  Loaded TorchScript modules (``scriptmodule3``) and exported programs
(``exportedmodule1``) are modules like any other: ``torch::layer_forward``,
``torch::layer_parameters``, the optimizers, ``torch::model_eval``, ``torch::layer_to`` and
``torch::save_state_dict`` take them.  An ONNX Runtime session (``onnxsession2``) is run by
``torch::layer_forward`` too: tensors in (in order, or by name with ``-feeds``), tensors out
(all, or those named by ``-outputs``)."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch import interop as engine
from tcltorch.commands.nn import layers
from tcltorch.commands.spec import Bool, Custom, Device, Handle, Int, Opt, Str, command, is_option_word
from tcltorch.commands.train._files import translated
from tcltorch.commands.vocabulary import TensorList
from tcltorch.errors import TclError, invalid_value
from tcltorch.handles import register_kind
from tcltorch.serialization import atomic_save

FAMILY = "nn/interop"


register_kind(torch.jit.RecursiveScriptModule, "scriptmodule")
register_kind(torch.jit.TopLevelTracedModule, "scriptmodule")
register_kind(engine.OnnxSession, "onnxsession")


def _run(fn: Any, *args: Any, option: str = "-module", **kwargs: Any) -> Any:
    """Call the engine; its refusals as Tcl errors (file problems name the file, others ``option``)."""
    try:
        with translated():
            return fn(*args, **kwargs)
    except engine.MissingExtra as exc:
        raise TclError(str(exc), ["TORCH", "MISSING", "onnx"]) from None
    except engine.InteropError as exc:
        raise TclError(str(exc), ["TORCH", "VALUE", option]) from None


def _words(text: str, option: str, ctx: Any) -> list[str]:
    return ctx.split(text, option)


Words = Custom(_words, "list", "must be a list")


def _file_opt(help: str) -> Opt:
    return Opt("file", Str(), help=help, aliases=("filename",))


def _module_opt() -> Opt:
    return Opt("module", Handle("module"), help="module handle", aliases=("model", "layer"))


def _inputs_opt() -> Opt:
    return Opt(
        "inputs",
        TensorList,
        help="example input tensor handles (a list), in the forward's order",
        aliases=("input", "exampleInputs"),
    )


def _dynamic_opt() -> Opt:
    return Opt(
        "dynamicBatch",
        Bool(),
        default=False,
        positional=False,
        help="dimension 0 of every input (and so of the outputs) may have any size",
    )


@command(
    "jit_load",
    _file_opt("a TorchScript file (torch.jit.save)"),
    Opt(
        "device", Device(), default=None, positional=False, help="device to load onto", default_doc="as saved"
    ),
)
def jit_load(file, device):
    """Loads a TorchScript model (`torch.jit.load`) as a module handle.

    The file is what `torch.jit.save` writes (`torch.jit.script(model).save(f)` or
    `torch.jit.trace(...)` in Python, `torch::jit_save` here). The result is a module like any
    other: `torch::layer_forward` runs it, `torch::layer_parameters` gives its parameters (an
    optimizer fine-tunes them), `torch::model_eval`/`torch::model_train`, `torch::layer_to` and
    `torch::save_state_dict` work on it. `-device` maps its tensors to a device as they load.

    The file is checked before TorchScript reads it: it must be a complete zip archive whose
    records all match their CRC-32 and that holds TorchScript code, so a truncated, damaged or
    foreign file is an error, never a crash. No Python pickle code runs: TorchScript's own loader
    reads only tensors and TorchScript types.

    ## Return Value

    A module handle of kind `scriptmodule`.

    ## Errors

    | Situation | Message | -errorcode |
    |-----------|---------|------------|
    | a truncated file | `invalid -file "m.pt": is not a TorchScript archive, or it is truncated or corrupt` | `TORCH VALUE -file` |
    | a torch.save file | `invalid -file "m.pt": is a torch.save file, not TorchScript (...)` | `TORCH VALUE -file` |
    | no such file | `couldn't open "m.pt": no such file or directory` | `POSIX ENOENT {no such file or directory}` |

    Examples:
        set net [torch::sequential [torch::linear 4 8] [torch::relu] [torch::linear 8 2]]
        torch::jit_save $net net.pt
        set loaded [torch::jit_load net.pt]
        puts [string match scriptmodule* $loaded]                          ;# -> 1
        puts [torch::tensor_shape [torch::layer_forward $loaded [torch::ones {3 4}]]]   ;# -> 3 2
        puts [llength [torch::layer_parameters $loaded]]                   ;# -> 4
    """
    return _run(engine.load_torchscript, file, device)


@command("jit_trace", _module_opt(), _inputs_opt())
def jit_trace(module, inputs):
    """Traces a module into TorchScript (`torch.jit.trace`) with example inputs.

    The module runs once on the example inputs and the operations it performs are recorded: the
    result is a TorchScript module that runs the same operations on any inputs of the same
    structure (control flow that depends on the data is fixed as traced; use
    `torch::jit_script` for that). It shares the module's parameters. Trace in evaluation mode
    (`torch::model_eval`) for inference: dropout is traced as it runs.

    ## Return Value

    A module handle of kind `scriptmodule`.

    Examples:
        set net [torch::sequential [torch::linear 4 3] [torch::tanh]]
        set traced [torch::jit_trace $net [list [torch::ones {2 4}]]]
        set x [torch::randn {5 4}]
        puts [torch::tensor_allclose [torch::layer_forward $traced $x] [torch::layer_forward $net $x]]   ;# -> 1
    """
    return _run(engine.trace, module, inputs)


@command("jit_script", _module_opt())
def jit_script(module):
    """Compiles a module to TorchScript (`torch.jit.script`).

    Unlike tracing, scripting keeps the module's control flow. Every module built with the
    `torch::` layer commands can be scripted; a module that is TorchScript already is returned
    as it is. The scripted module shares the module's parameters.

    ## Return Value

    A module handle of kind `scriptmodule`.

    Examples:
        set net [torch::sequential [torch::linear 4 3] [torch::relu]]
        set scripted [torch::jit_script $net]
        puts [string match scriptmodule* $scripted]   ;# -> 1
    """
    return _run(engine.to_torchscript, module)


@command("jit_save", _module_opt(), _file_opt("file to write (TorchScript zip archive)"))
def jit_save(module, file):
    """Saves a module as TorchScript (`torch.jit.save`), for Python, C++ (libtorch) and tclsh.

    A module that is not TorchScript yet is compiled with `torch.jit.script` first (trace it with
    `torch::jit_trace` when it cannot be scripted). Python loads the file with `torch.jit.load`,
    C++ with `torch::jit::load`, tcltorch with `torch::jit_load`. The write is atomic, as for
    `torch::save_state_dict`.

    ## Return Value

    The file name.

    Examples:
        set net [torch::sequential [torch::linear 2 2] [torch::relu]]
        puts [torch::jit_save $net relu_net.pt]   ;# -> relu_net.pt
    """
    scripted = _run(engine.to_torchscript, module)
    with translated():
        atomic_save(scripted, file, serialize=engine.save_torchscript)
    return file


@command("export_save", _module_opt(), _inputs_opt(), _file_opt("file to write (.pt2)"), _dynamic_opt())
def export_save(module, inputs, file, dynamic_batch):
    """Exports a module with `torch.export.export` and saves the program (`torch.export.save`).

    The module's forward is captured as an ExportedProgram for example inputs of these shapes and
    dtypes; with `-dynamicBatch 1` dimension 0 of every input is symbolic, so the program takes
    any batch size (an example batch of 1 is widened to 2 for the capture: torch.export
    specializes sizes 0 and 1). Export in evaluation mode (`torch::model_eval`) for inference.
    Python loads the file with `torch.export.load(f).module()`, tcltorch with
    `torch::export_load`. Capturing takes a few seconds. The write is atomic.

    ## Return Value

    The file name.

    Examples:
        set net [torch::sequential [torch::linear 4 3] [torch::relu]]
        torch::model_eval $net
        puts [torch::export_save $net [list [torch::ones {2 4}]] net.pt2 -dynamicBatch 1]   ;# -> net.pt2
        set program [torch::export_load net.pt2]
        puts [torch::tensor_shape [torch::layer_forward $program [torch::ones {7 4}]]]   ;# -> 7 3
    """
    program = _run(engine.export_program, module, inputs, dynamic_batch)
    with translated():
        atomic_save(program, file, serialize=engine.save_exported)
    return file


@command("export_load", _file_opt("a .pt2 file (torch.export.save)"))
def export_load(file):
    """Loads an exported program (`torch.export.load`) as a module handle (`program.module()`).

    The result runs with `torch::layer_forward` and its parameters train with any optimizer
    (gradients flow through the exported graph). The graph keeps the behaviour it was exported
    with: `torch::model_eval` and `torch::model_train` only set the mode flags (export in the
    mode you mean to run). Inputs must fit the shapes the program was exported for (any batch
    size if it was exported with a dynamic batch); others are refused with torch's message.

    The file is checked before torch reads it: a damaged or truncated archive is an error, and
    so is one whose pickled records (sample inputs, pickled weights) hold anything but tensors
    and plain data, or that carries pickled Python objects as constants: no pickle code runs.

    ## Return Value

    A module handle of kind `exportedmodule`.

    ## Errors

    | Situation | Message | -errorcode |
    |-----------|---------|------------|
    | a truncated file | `invalid -file "m.pt2": is not a .pt2 archive, or it is truncated or corrupt` | `TORCH VALUE -file` |
    | pickled code inside | `invalid -file "m.pt2": refused: its sample inputs hold Python objects ...` | `TORCH VALUE -file` |

    Examples:
        set net [torch::linear 3 2]
        torch::export_save $net [list [torch::ones {4 3}]] lin.pt2
        set program [torch::export_load lin.pt2]
        puts [string match exportedmodule* $program]                          ;# -> 1
        puts [torch::tensor_shape [torch::layer_forward $program [torch::ones {4 3}]]]   ;# -> 4 2
    """
    program = _run(engine.load_exported, file)
    module = engine.exported_module(program)
    register_kind(type(module), "exportedmodule")  # torch.fx makes one class per module
    return module


@command(
    "onnx_export",
    _module_opt(),
    _inputs_opt(),
    _file_opt("file to write (.onnx)"),
    Opt("opset", Int(ge=7), default=None, positional=False, help="ONNX opset version", default_doc="torch's"),
    _dynamic_opt(),
    Opt(
        "inputNames",
        Words,
        default=None,
        positional=False,
        help="names of the inputs in the ONNX graph",
        default_doc="the forward's parameter names",
    ),
    Opt(
        "outputNames",
        Words,
        default=None,
        positional=False,
        help="names of the outputs in the ONNX graph",
        default_doc="generated",
    ),
)
def onnx_export(module, inputs, file, opset, dynamic_batch, input_names, output_names):
    """Exports a module to ONNX (`torch.onnx.export` with its torch.export-based exporter).

    The module is captured for example inputs of these shapes and dtypes; with
    `-dynamicBatch 1` dimension 0 of every input and output is the symbolic dimension `batch`.
    `-inputNames` and `-outputNames` name the graph's inputs and outputs (what
    `torch::layer_forward -feeds` and `-outputs` and ONNX Runtime's `run` use). Export in
    evaluation mode (`torch::model_eval`). Needs the `onnx` extra
    (`pip install 'tcltorch[onnx]'`: onnx, onnxscript, onnxruntime). Exporting takes a few
    seconds. The write is atomic.

    ## Return Value

    The file name.

    ## Errors

    | Situation | Message | -errorcode |
    |-----------|---------|------------|
    | onnx not installed | `ONNX export needs the Python package onnxscript, which is not installed: pip install 'tcltorch[onnx]'` | `TORCH MISSING onnx` |

    Examples:
        set net [torch::sequential [torch::linear 4 3] [torch::relu]]
        torch::model_eval $net
        torch::onnx_export $net [list [torch::ones {2 4}]] net.onnx -dynamicBatch 1 \\
            -inputNames x -outputNames y
        set info [torch::onnx_info net.onnx]
        puts [dict get [lindex [dict get $info inputs] 0] shape]   ;# -> batch 4
    """

    def write(_: Any, stream: Any) -> None:
        engine.onnx_export(module, inputs, stream, opset, dynamic_batch, input_names, output_names)

    _run(engine.require, "onnxscript", "ONNX export")
    try:
        with translated():
            atomic_save(None, file, serialize=write)
    except engine.MissingExtra as exc:
        raise TclError(str(exc), ["TORCH", "MISSING", "onnx"]) from None
    except engine.InteropError as exc:
        raise TclError(str(exc), ["TORCH", "VALUE", "-module"]) from None
    return file


def _providers(text: str, option: str, ctx: Any) -> list[str]:
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "must be a non-empty list of ONNX Runtime providers")
    return words


@command(
    "onnx_load",
    _file_opt("an .onnx file"),
    Opt(
        "providers",
        Custom(_providers, "list", "must be a non-empty list of ONNX Runtime providers"),
        default=None,
        positional=False,
        help="ONNX Runtime execution providers, in order of preference",
        default_doc="CPUExecutionProvider",
    ),
)
def onnx_load(file, providers):
    """Opens an ONNX model in ONNX Runtime (an `InferenceSession`) as a handle that
    `torch::layer_forward` runs.

    `torch::layer_forward $session $x ?$y ...?` feeds the tensors to the model's inputs in
    order; `-feeds {name tensor ...}` gives inputs by name. The result is one tensor handle for a
    model with one output, else a list of handles in the model's output order; `-outputs {name
    ...}` picks outputs by name (in that order). Tensors must have the dtypes the model declares
    (a float32 input is refused as float64); results are CPU tensors. `torch::onnx_info` lists
    the names, shapes and dtypes. Needs the `onnx` extra (`pip install 'tcltorch[onnx]'`).

    The file must parse as an ONNX model and pass `onnx.checker` before ONNX Runtime opens it, so
    a truncated or foreign file is an error. `-providers` chooses execution providers (for
    example `{CUDAExecutionProvider CPUExecutionProvider}`); one that this ONNX Runtime lacks is
    an error naming those it has.

    ## Return Value

    A handle of kind `onnxsession` (not a module: it has no parameters to train).

    ## Errors

    | Situation | Message | -errorcode |
    |-----------|---------|------------|
    | a truncated file | `invalid -file "m.onnx": is not an ONNX model, or it is truncated or corrupt` | `TORCH VALUE -file` |
    | an unknown input name | `the model has no input "z" (its inputs: x)` | `TORCH VALUE -feeds` |

    Examples:
        set net [torch::linear 4 2]
        torch::onnx_export $net [list [torch::ones {3 4}]] lin.onnx -inputNames x -outputNames y
        set session [torch::onnx_load lin.onnx]
        set x [torch::randn {3 4}]
        set y [torch::layer_forward $session $x]
        puts [torch::tensor_allclose $y [torch::layer_forward $net $x] -atol 1e-6]   ;# -> 1
        set y2 [torch::layer_forward $session -feeds [list x $x] -outputs y]
        puts [torch::tensor_shape $y2]                                             ;# -> 3 2
    """
    return _run(engine.OnnxSession, file, providers, option="-providers")


@command(
    "onnx_info",
    Opt("file", Str(), help="an .onnx file, or an onnxsession handle", aliases=("session",)),
    context=True,
)
def onnx_info(file, ctx):
    """Describes an ONNX model: its inputs and outputs (names, shapes, dtypes) and opset.

    `file` is an `.onnx` file or a session handle from `torch::onnx_load`. Symbolic dimensions
    (a dynamic batch) are shown by name.

    ## Return Value

    A Tcl dict: `inputs` and `outputs` (lists of dicts with `name`, `shape` and `dtype`),
    `opset` (the default domain's version), `opsets` (a dict of every domain's version),
    `producer` and `irVersion`.

    Examples:
        set net [torch::linear 4 2]
        torch::onnx_export $net [list [torch::ones {3 4}]] info.onnx -inputNames x -outputNames y
        set info [torch::onnx_info info.onnx]
        puts [dict get [lindex [dict get $info outputs] 0] name]    ;# -> y
        puts [dict get [lindex [dict get $info outputs] 0] shape]   ;# -> 3 2
        puts [dict get [lindex [dict get $info inputs] 0] dtype]    ;# -> float32
    """
    session = ctx.handles.lookup(file)
    path = session.path if isinstance(session, engine.OnnxSession) else file
    return _run(engine.onnx_info, path)


@command(
    "state_dict_keys",
    _file_opt("a .safetensors or .pt state-dict file"),
    Opt(
        "details",
        Bool(),
        default=False,
        positional=False,
        help="give each key's shape and dtype: a dict key {shape dtype}",
    ),
)
def state_dict_keys(file, details):
    """Lists the keys of a state-dict file (`.safetensors`, or `.pt` from `torch.save`).

    The file is read as `torch::load_state_dict` reads it (`.pt` with `weights_only`, no code
    runs). Use it to see how a file written by Python code names its tensors before loading it
    with `torch::load_state_dict -map`. With `-details 1` the result is a dict from each key to
    `{shape dtype}`.

    ## Return Value

    A list of keys, in the file's order (a dict with `-details 1`).

    Examples:
        set net [torch::sequential [torch::linear 4 3] [torch::relu] [torch::linear 3 2]]
        torch::save_state_dict $net net.safetensors
        puts [lsort [torch::state_dict_keys net.safetensors]]   ;# -> 0.bias 0.weight 2.bias 2.weight
        puts [dict get [torch::state_dict_keys net.safetensors -details 1] 0.weight]   ;# -> {3 4} float32
    """
    state = _run(read_state, file)
    entries = engine.state_entries(state)
    if details:
        return {key: [shape, dtype] for key, shape, dtype in entries}
    return [key for key, _, _ in entries]


def read_state(file: str) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors or .pt (torch.save, weights only) file."""
    from tcltorch import checkpoint, serialization

    if file.lower().endswith(".safetensors"):
        state: Any = serialization.load_safetensors(file)
    else:
        state = serialization.safe_load(file)
    if checkpoint.is_checkpoint(state):
        raise serialization.SerializationError(
            file, "is a checkpoint, not a state dict (use torch::load_checkpoint)"
        )
    if not checkpoint.is_state_dict(state):
        raise serialization.SerializationError(file, "does not hold a state dict (a dict of named tensors)")
    return state


def load_state_by_name(model: torch.nn.Module, file: str, strict: bool, mapping: list[str], name: str) -> Any:
    """``torch::load_state_dict -strict/-map``: read, rename, match and commit all or nothing.
    Strict: the model, or an error listing every difference; else a report dict."""
    from tcltorch import checkpoint

    try:
        pairs = engine.parse_mapping(mapping)
    except engine.InteropError as exc:
        raise invalid_value("-map", " ".join(mapping), str(exc)) from None
    model = checkpoint.unwrap(model)
    state = _run(read_state, file)

    def commit(target: torch.nn.Module, complete: dict[str, torch.Tensor]) -> None:
        plan = checkpoint.LoadPlan()
        plan.model, plan.model_state = target, complete
        plan.commit()

    try:
        match = engine.load_by_name(model, state, strict=strict, mapping=pairs, apply=commit)
    except engine.InteropError as exc:
        text = str(exc)
        if text.startswith(("renames", "cannot rename")):
            raise invalid_value("-map", " ".join(mapping), text) from None
        raise TclError(
            f'invalid -file "{file}": does not fit {name}: {text}', ["TORCH", "VALUE", "-file"]
        ) from None
    if strict:
        return model
    return {
        "loaded": len(match.loaded),
        "missing": match.missing,
        "unexpected": match.unexpected,
        "mismatched": [list(m) for m in match.mismatched],
    }


# -- torch::layer_forward on an ONNX Runtime session ------------------------------------------


class _OnnxCall:
    """What layer_forward calls for a session: the session with its named feeds and outputs."""

    __slots__ = ("named", "outputs", "session")

    def __init__(self, session: engine.OnnxSession, named: dict[str, Any], outputs: list[str] | None):
        self.session, self.named, self.outputs = session, named, outputs

    def __call__(self, *inputs: torch.Tensor | None) -> Any:
        inputs = tuple(t for t in inputs if t is not None)  # None: all inputs given by name
        try:
            if not self.named and not self.outputs:
                return self.session(*inputs)
            outs = self.session.run(inputs, self.named, self.outputs)
        except engine.InteropError as exc:
            raise TclError(str(exc), ["TORCH", "VALUE", "-feeds" if self.named else "-input"]) from None
        return outs[0] if len(outs) == 1 else tuple(outs)


def _forward_session(ctx: Any, session: engine.OnnxSession, words: list[str], invoked: str) -> dict[str, Any]:
    """``layer_forward SESSION ?tensor ...? ?-feeds {name tensor ...}? ?-outputs {name ...}?``"""
    inputs: list[torch.Tensor] = []
    named: dict[str, torch.Tensor] = {}
    outputs: list[str] | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if not is_option_word(word):
            inputs.append(ctx.handles.get(word, "tensor"))
            i += 1
            continue
        if word not in ("-feeds", "-outputs", "-input", "-tensor"):
            raise TclError(
                f'bad option "{word}" for an ONNX Runtime session: must be -feeds, -input or -outputs',
                ["TCL", "LOOKUP", "INDEX", "option", word],
            )
        if i + 1 >= len(words):
            raise TclError(f'missing value for option "{word}"', ["TORCH", "ARGS", "MISSING", word])
        value = words[i + 1]
        if word == "-feeds":
            items = ctx.split(value, "-feeds")
            if len(items) % 2:
                raise invalid_value("-feeds", value, "must be a dict: input name, tensor handle, ...")
            for key, handle in zip(items[::2], items[1::2]):
                named[key] = ctx.handles.get(handle, "tensor")
        elif word == "-outputs":
            outputs = ctx.split(value, "-outputs") or None
        else:
            inputs.extend(ctx.handles.get(w, "tensor") for w in ctx.split(value, word))
        i += 2
    if not inputs and not named:
        raise TclError(
            f'wrong # args: should be "{invoked} session ?input ...? ?-feeds {{name tensor ...}}? '
            f'?-outputs names?"',
            ["TCL", "WRONGARGS"],
        )
    return {
        "layer": _OnnxCall(session, named, outputs),
        "input": inputs[0] if inputs else None,
        "more": tuple(inputs[1:]),
    }


def _forward_runner(ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
    words = list(args)
    if words[0] in ("-layer", "-model", "-module"):
        words = words[1:]
    return _forward_session(ctx, ctx.handles.lookup(words[0]), words[1:], invoked)


layers.FORWARD_RUNNERS[engine.OnnxSession] = _forward_runner
