"""Models in and out of tcltorch: TorchScript, torch.export (.pt2), ONNX / ONNX Runtime, and
state dicts matched by name.  Plain PyTorch and ONNX, no Tcl: usable from Python alone.

Everything here stands on PyTorch's and ONNX's own APIs (``torch.jit``, ``torch.export``,
``torch.onnx``, ``onnxruntime``); what this module adds is the checking around them:

* loads are safe.  A TorchScript archive is refused unless it is a complete zip archive whose
  records all match their CRC-32 and that holds TorchScript code; a ``.pt2`` archive is
  refused unless every record that ``torch.export.load`` would unpickle (sample inputs,
  pickled weights and constants) loads with ``torch.load(weights_only=True)``, and one that
  holds custom or opaque Python objects is refused outright, so no pickled code can run; an
  ONNX file must parse and pass ``onnx.checker`` before ONNX Runtime sees it.  Every failure
  is an :class:`InteropError` naming the problem (or an ``OSError`` from the file system).
* state dicts load by name: :func:`rename_keys` applies ``(regex, replacement)`` pairs,
  :func:`match_state` reports missing, unexpected and mismatched keys, and
  :func:`merged_state` completes a partial state with the model's own values so that a
  non-strict load still goes through one ``load_state_dict(strict=True)``.

ONNX, onnxscript and ONNX Runtime are an optional extra (``pip install 'tcltorch[onnx]'``);
without them the ONNX functions raise :class:`MissingExtra` saying so."""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tcltorch.serialization import FileAccessError, SerializationError, readable_path

ONNX_EXTRA = "pip install 'tcltorch[onnx]'"


class InteropError(ValueError):
    """A model, an input or a key mapping that cannot be used: the message says why."""


class InteropFileError(SerializationError):
    """A file that is not a loadable model of the kind asked for (``problem`` says why)."""


@contextlib.contextmanager
def _about(file: str) -> Iterator[None]:
    """InteropErrors raised while reading ``file`` leave as InteropFileErrors naming it."""
    try:
        yield
    except InteropError as exc:
        raise InteropFileError(file, str(exc)) from None


class MissingExtra(ImportError):
    """An optional dependency (onnx, onnxscript, onnxruntime) is not installed."""


def require(module: str, purpose: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{purpose} needs the Python package {module}, which is not installed: {ONNX_EXTRA}"
        ) from None


# ---------------------------------------------------------------------------------------------
# files


def _archive(path: str, what: str) -> zipfile.ZipFile:
    """The zip archive at ``path`` with every record's CRC-32 checked (truncation, damage)."""
    broken = InteropError(f"is not a {what}, or it is truncated or corrupt")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        raise broken from None
    try:
        bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError, OSError):
        archive.close()
        raise broken from None
    if bad is not None:
        archive.close()
        raise InteropError(f'is corrupt: its record "{bad}" does not match its checksum (CRC-32)')
    return archive


def _relative(names: Iterable[str]) -> dict[str, str]:
    """Record names without the archive's top folder (``m/data.pkl`` -> ``data.pkl``)."""
    out = {}
    for name in names:
        _, sep, rest = name.partition("/")
        if sep and rest:
            out.setdefault(rest, name)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# TorchScript


def _check_torchscript(path: str) -> None:
    with _archive(path, "TorchScript archive") as archive:
        names = _relative(archive.namelist())
    if "constants.pkl" not in names or not any(n.startswith("code/") for n in names):
        if "data.pkl" in names:
            raise InteropError(
                "is a torch.save file, not TorchScript (a state dict loads with torch::load_state_dict)"
            )
        raise InteropError("is not a TorchScript archive (no code/ and constants.pkl records)")


def load_torchscript(file: str, device: torch.device | str | None = None) -> torch.jit.ScriptModule:
    """``torch.jit.load``, after refusing what is not a complete TorchScript archive (damaged,
    truncated, a plain ``torch.save`` file); every refusal a SerializationError naming ``file``."""
    path = readable_path(file)
    with _about(file):
        _check_torchscript(path)
        try:
            return torch.jit.load(path, map_location=device)
        except Exception as exc:  # noqa: BLE001 - whatever a damaged archive makes the reader raise
            raise InteropError(f"is not a valid TorchScript model: {_first_line(exc)}") from None


def to_torchscript(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """The module itself when it is TorchScript already, else ``torch.jit.script(module)``."""
    if isinstance(module, torch.jit.ScriptModule):
        return module
    try:
        return torch.jit.script(module)
    except Exception as exc:  # noqa: BLE001 - the compiler's complaint, reported
        raise InteropError(
            f"cannot be compiled to TorchScript ({_first_line(exc)}); trace it instead"
        ) from None


def trace(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> torch.jit.ScriptModule:
    """``torch.jit.trace`` without the re-trace check (it flags harmless renumbering)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return torch.jit.trace(module, tuple(inputs), check_trace=False)


def save_torchscript(module: torch.jit.ScriptModule, stream: Any) -> None:
    torch.jit.save(module, stream)


# ---------------------------------------------------------------------------------------------
# torch.export


def _batch_examples(inputs: Sequence[torch.Tensor], dynamic_batch: bool) -> tuple[torch.Tensor, ...]:
    """Example inputs for tracing: with a dynamic batch, a batch of 1 becomes 2 (torch.export
    specializes sizes 0 and 1, so a batch-1 example could not stand for every batch)."""
    if not dynamic_batch:
        return tuple(inputs)
    out = []
    for t in inputs:
        if t.dim() == 0:
            raise InteropError("a dynamic batch needs inputs with a batch dimension (a 0-d tensor has none)")
        out.append(t.expand(2, *t.shape[1:]).clone() if t.shape[0] == 1 else t)
    return tuple(out)


def _dynamic_shapes(inputs: Sequence[torch.Tensor], dynamic_batch: bool) -> Any:
    if not dynamic_batch:
        return None
    batch = torch.export.Dim("batch")
    return tuple({0: batch} for _ in inputs)


def export_program(
    module: torch.nn.Module, inputs: Sequence[torch.Tensor], dynamic_batch: bool = False
) -> torch.export.ExportedProgram:
    """``torch.export.export`` (non-strict), dimension 0 of every input dynamic if asked."""
    examples = _batch_examples(inputs, dynamic_batch)
    try:
        return torch.export.export(
            module, examples, dynamic_shapes=_dynamic_shapes(examples, dynamic_batch), strict=False
        )
    except Exception as exc:  # noqa: BLE001 - the exporter's complaint, reported
        raise InteropError(f"cannot be exported with torch.export: {_first_line(exc)}") from None


def save_exported(program: torch.export.ExportedProgram, stream: Any) -> None:
    import logging

    log = logging.getLogger("torch.export")
    level = log.level
    log.setLevel(logging.ERROR)  # it warns that a stream is not a file name ending in .pt2
    try:
        torch.export.save(program, stream)
    finally:
        log.setLevel(level)


def _weights_only(blob: bytes, what: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - refused by the restricted unpickler, or not a pickle at all
        raise InteropError(
            f"refused: its {what} holds Python objects other than tensors and plain data, "
            "which could run code"
        ) from None


def _payload(archive: zipfile.ZipFile, names: dict[str, str], record: str) -> dict[str, Any]:
    try:
        config = json.loads(archive.read(names[record]))
        entries = config["config"]
        if not isinstance(entries, dict):
            raise TypeError
        return entries
    except (KeyError, TypeError, ValueError, UnicodeDecodeError):
        raise InteropError(f"is not a valid .pt2 archive (its {record} is damaged)") from None


def _check_pt2(path: str) -> None:
    """Refuse a .pt2 archive that is damaged, or whose pickled records are anything but
    tensors and plain data: torch.export.load unpickles them without restriction."""
    from torch.export.pt2_archive import constants as pt2

    with _archive(path, ".pt2 archive") as archive:
        names = _relative(archive.namelist())
        fmt = names.get(pt2.ARCHIVE_FORMAT_PATH)
        if fmt is None or archive.read(fmt).decode("utf-8", "replace").strip() != pt2.ARCHIVE_FORMAT_VALUE:
            if "data.pkl" in names and "constants.pkl" in names:
                raise InteropError("is a TorchScript archive, not a .pt2 (load it with torch::jit_load)")
            if "data.pkl" in names:
                raise InteropError("is a torch.save file, not a .pt2 (torch.export.save writes those)")
            raise InteropError("is not a .pt2 archive written by torch.export.save")
        models = [
            n[len(pt2.MODELS_DIR) : -len(".json")]
            for n in names
            if n.startswith(pt2.MODELS_DIR) and n.endswith(".json")
        ]
        if "model" not in models:
            raise InteropError("is not a .pt2 archive of an exported program (it holds no models/model.json)")
        for model in models:
            for legacy in (f"{pt2.WEIGHTS_DIR}{model}.pt", f"{pt2.CONSTANTS_DIR}{model}.pt"):
                if legacy in names:
                    raise InteropError("is in an old .pt2 layout: export it again with this PyTorch")
            sample = pt2.SAMPLE_INPUTS_FILENAME_FORMAT.format(model)
            if sample not in names:
                raise InteropError(f"is not a valid .pt2 archive (it has no {sample})")
            blob = archive.read(names[sample])
            if blob:
                _weights_only(blob, "sample inputs")
            weights = _payload(archive, names, pt2.WEIGHTS_CONFIG_FILENAME_FORMAT.format(model))
            constants = _payload(archive, names, pt2.CONSTANTS_CONFIG_FILENAME_FORMAT.format(model))
            for directory, entries in ((pt2.WEIGHTS_DIR, weights), (pt2.CONSTANTS_DIR, constants)):
                for fqn, meta in entries.items():
                    record = directory + str(meta.get("path_name", "")) if isinstance(meta, dict) else ""
                    if not isinstance(meta, dict) or record not in names:
                        raise InteropError(f'is not a valid .pt2 archive (no data for "{fqn}")')
                    base = str(meta["path_name"])
                    if base.startswith((pt2.CUSTOM_OBJ_FILENAME_PREFIX, pt2.OPAQUE_OBJ_FILENAME_PREFIX)):
                        raise InteropError(
                            f'refused: its constant "{fqn}" is a pickled Python object, which could run code'
                        )
                    if meta.get("use_pickle"):
                        _weights_only(archive.read(names[record]), f'tensor "{fqn}"')


def load_exported(file: str) -> torch.export.ExportedProgram:
    """``torch.export.load``, after refusing a damaged archive and one whose pickled records
    hold anything but tensors and plain data; every refusal a SerializationError naming ``file``."""
    import logging

    path = readable_path(file)
    with _about(file):
        _check_pt2(path)
        log = logging.getLogger("torch.export")
        level = log.level
        log.setLevel(logging.CRITICAL)  # it logs a traceback before raising for a damaged archive
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.export.load(path)
        except Exception as exc:  # noqa: BLE001 - whatever a damaged archive makes the reader raise
            raise InteropError(f"is not a valid exported program: {_first_line(exc)}") from None
        finally:
            log.setLevel(level)


def exported_module(program: torch.export.ExportedProgram) -> torch.nn.Module:
    """``program.module()``, whose ``train()``/``eval()`` set the mode flags instead of raising:
    the graph itself keeps the behaviour it was exported with (dropout, batch norm)."""
    module = program.module()

    def train(self: torch.nn.Module, mode: bool = True) -> torch.nn.Module:
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self: torch.nn.Module) -> torch.nn.Module:
        return train(self, False)

    import types

    module.train = types.MethodType(train, module)  # type: ignore[method-assign]
    module.eval = types.MethodType(eval, module)  # type: ignore[method-assign]
    return module


# ---------------------------------------------------------------------------------------------
# ONNX


def onnx_export(
    module: torch.nn.Module,
    inputs: Sequence[torch.Tensor],
    stream: Any,
    opset: int | None = None,
    dynamic_batch: bool = False,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> None:
    """``torch.onnx.export`` with its supported (torch.export based) exporter, written to a stream."""
    require("onnxscript", "ONNX export")
    require("onnx", "ONNX export")
    examples = _batch_examples(inputs, dynamic_batch)
    if input_names is not None and len(input_names) != len(examples):
        raise InteropError(f"{len(input_names)} input names given for {len(examples)} inputs")
    import logging

    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                examples,
                dynamo=True,
                opset_version=opset,
                dynamic_shapes=_dynamic_shapes(examples, dynamic_batch),
                input_names=list(input_names) if input_names else None,
                output_names=list(output_names) if output_names else None,
                verbose=False,
                report=False,
            )
    except Exception as exc:  # noqa: BLE001 - the exporter's complaint, reported
        raise InteropError(f"cannot be exported to ONNX: {_first_line(exc)}") from None
    finally:
        for log, level in zip(quiet, levels):
            log.setLevel(level)
    proto = program.model_proto
    if dynamic_batch:  # one name for the batch dimension of every input and output
        dims = [i.type.tensor_type.shape.dim[0] for i in [*proto.graph.input, *proto.graph.output]]
        symbols = {d.dim_param for d in dims if d.dim_param}
        if len(symbols) == 1:
            for d in dims:
                if d.dim_param:
                    d.dim_param = "batch"
    stream.write(proto.SerializeToString())


_ONNX_TYPES = {
    "tensor(float)": torch.float32,
    "tensor(double)": torch.float64,
    "tensor(float16)": torch.float16,
    "tensor(bfloat16)": torch.bfloat16,
    "tensor(int64)": torch.int64,
    "tensor(int32)": torch.int32,
    "tensor(int16)": torch.int16,
    "tensor(int8)": torch.int8,
    "tensor(uint8)": torch.uint8,
    "tensor(bool)": torch.bool,
}


_ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool"}
_ELEM_TYPES.update({10: "float16", 11: "float64", 16: "bfloat16", 12: "uint32", 13: "uint64"})


def check_onnx(file: str) -> Any:
    """The parsed ONNX model in ``file`` after ``onnx.checker``; a SerializationError if it is none."""
    onnx = require("onnx", "Reading ONNX files")
    path = readable_path(file)
    try:
        with open(path, "rb") as stream:
            blob = stream.read()
    except OSError as exc:
        raise FileAccessError(file, "read", exc.errno) from None
    with _about(file):
        return _parse_onnx(onnx, blob)


def _parse_onnx(onnx: Any, blob: bytes) -> Any:
    if not blob:
        raise InteropError("is empty, not an ONNX model")
    try:
        model = onnx.load_model_from_string(blob)
    except Exception:  # noqa: BLE001 - protobuf's parse errors
        raise InteropError("is not an ONNX model, or it is truncated or corrupt") from None
    if not model.graph.node and not model.graph.output:
        raise InteropError("is not an ONNX model, or it is truncated or corrupt (it has no graph)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - the checker's finding, reported
        raise InteropError(f"is not a valid ONNX model: {_first_line(exc)}") from None
    return model


def _dims(value_info: Any) -> list[int | str]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim]


def onnx_info(file: str) -> dict[str, Any]:
    """Inputs, outputs (name, shape with symbolic dimensions by name, dtype), opsets, producer."""
    model = check_onnx(file)
    initializers = {i.name for i in model.graph.initializer}

    def values(items: Iterable[Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": v.name,
                "shape": _dims(v),
                "dtype": _ELEM_TYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type)),
            }
            for v in items
            if v.name not in initializers
        ]

    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    return {
        "inputs": values(model.graph.input),
        "outputs": values(model.graph.output),
        "opset": opsets.get("ai.onnx", 0),
        "opsets": opsets,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "irVersion": model.ir_version,
    }


class OnnxSession:
    """An ONNX Runtime ``InferenceSession`` that takes and gives torch tensors.

    ``session(x, y)`` feeds the model's inputs in order; ``session.run(inputs, feeds, outputs)``
    also takes inputs by name (``feeds``) and picks outputs by name.  Results are CPU tensors."""

    def __init__(self, file: str, providers: Sequence[str] | None = None) -> None:
        ort = require("onnxruntime", "Running ONNX models")
        check_onnx(file)
        path = readable_path(file)
        available = ort.get_available_providers()
        if providers:
            unknown = [p for p in providers if p not in available]
            if unknown:
                raise InteropError(
                    f"provider {unknown[0]} is not available here (available: {', '.join(available)})"
                )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                path, options, providers=list(providers) if providers else ["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime refusing the model
            raise InteropFileError(file, f"cannot be run by ONNX Runtime: {_first_line(exc)}") from None
        self.path = path
        self.providers = list(self.session.get_providers())
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_types = {i.name: _ONNX_TYPES.get(i.type) for i in self.session.get_inputs()}
        self._single = len(self.input_names) == 1 and len(self.output_names) == 1
        self._first = self.input_names[0] if self.input_names else ""

    def __call__(self, *inputs: torch.Tensor) -> Any:
        if self._single and len(inputs) == 1:  # the common call: one tensor in, one out
            x = inputs[0]
            if x.dtype is not self.input_types[self._first] or x.device.type != "cpu":
                self._check(self._first, x)
            return torch.from_numpy(self.session.run(None, {self._first: x.detach().numpy()})[0])
        outs = self.run(inputs)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _check(self, name: str, tensor: torch.Tensor) -> None:
        want = self.input_types.get(name)
        if want is not None and tensor.dtype != want:
            got = str(tensor.dtype).replace("torch.", "")
            raise InteropError(f'input "{name}" must be {str(want).replace("torch.", "")}, not {got}')

    def feeds(
        self, inputs: Sequence[torch.Tensor] = (), named: Mapping[str, torch.Tensor] | None = None
    ) -> dict[str, Any]:
        named = dict(named or {})
        if len(inputs) > len(self.input_names):
            raise InteropError(
                f"{len(inputs)} inputs given, the model takes {len(self.input_names)} "
                f"({', '.join(self.input_names)})"
            )
        feeds = dict(zip(self.input_names, inputs))
        for name, tensor in named.items():
            if name not in self.input_types:
                raise InteropError(
                    f'the model has no input "{name}" (its inputs: {", ".join(self.input_names)})'
                )
            if name in feeds:
                raise InteropError(f'input "{name}" is given twice')
            feeds[name] = tensor
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise InteropError(
                f"missing input {', '.join(missing)} (the model's inputs: {', '.join(self.input_names)})"
            )
        out = {}
        for name, tensor in feeds.items():
            self._check(name, tensor)
            out[name] = tensor.detach().cpu().contiguous().numpy()
        return out

    def run(
        self,
        inputs: Sequence[torch.Tensor] = (),
        named: Mapping[str, torch.Tensor] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> list[torch.Tensor]:
        if outputs:
            unknown = [n for n in outputs if n not in self.output_names]
            if unknown:
                raise InteropError(
                    f'the model has no output "{unknown[0]}" (its outputs: {", ".join(self.output_names)})'
                )
        feeds = self.feeds(inputs, named)
        try:
            results = self.session.run(list(outputs) if outputs else None, feeds)
        except Exception as exc:  # noqa: BLE001 - shape and type errors of ONNX Runtime
            raise InteropError(f"ONNX Runtime failed: {_first_line(exc)}") from None
        return [torch.from_numpy(r) if hasattr(r, "dtype") else torch.as_tensor(r) for r in results]


# ---------------------------------------------------------------------------------------------
# state dicts by name


def parse_mapping(pairs: Sequence[str]) -> list[tuple[re.Pattern[str], str]]:
    """``[pattern, replacement, ...]`` -> compiled pairs; InteropError for an odd count or a bad
    regular expression."""
    if len(pairs) % 2:
        raise InteropError("must be a list of pattern replacement pairs (an even number of words)")
    out = []
    for pattern, replacement in zip(pairs[::2], pairs[1::2]):
        try:
            out.append((re.compile(pattern), replacement))
        except re.error as exc:
            raise InteropError(f'has a bad regular expression "{pattern}": {exc}') from None
    return out


def rename_keys(
    state: Mapping[str, torch.Tensor], mapping: Sequence[tuple[re.Pattern[str], str]]
) -> dict[str, torch.Tensor]:
    """Each key rewritten by every ``(pattern, replacement)`` in turn (``re.sub``); two keys that
    end up with the same name are an InteropError."""
    out: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    for key, value in state.items():
        new = key
        for pattern, replacement in mapping:
            try:
                new = pattern.sub(replacement, new)
            except (re.error, IndexError) as exc:
                raise InteropError(f'cannot rename "{key}": {exc}') from None
        if new in out:
            raise InteropError(f'renames both "{source[new]}" and "{key}" to "{new}"')
        out[new] = value
        source[new] = key
    return out


@dataclass
class StateMatch:
    """How a state dict fits a model: what loads, what is missing, unexpected or mismatched."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    # (key, in the file, in the model): shapes as lists of sizes, or dtype names
    mismatched: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def _shown(value: Any) -> str:
    """A shape as Tcl writes a list ({2 3}), a dtype name as it is."""
    return "{" + " ".join(map(str, value)) + "}" if isinstance(value, list) else str(value)


def match_state(model_state: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> StateMatch:
    """Compare a state dict with a model's by name: shapes must agree, and dtypes too unless both
    are floating point (``load_state_dict`` converts those)."""
    match = StateMatch()
    for key, mine in model_state.items():
        theirs = state.get(key)
        if theirs is None:
            match.missing.append(key)
        elif tuple(theirs.shape) != tuple(mine.shape):
            match.mismatched.append((key, list(theirs.shape), list(mine.shape)))
        elif theirs.dtype != mine.dtype and not (theirs.is_floating_point() and mine.is_floating_point()):
            match.mismatched.append(
                (key, str(theirs.dtype).replace("torch.", ""), str(mine.dtype).replace("torch.", ""))
            )
        else:
            match.loaded.append(key)
    match.unexpected = [k for k in state if k not in model_state]
    return match


def merged_state(
    model_state: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], match: StateMatch
) -> dict[str, torch.Tensor]:
    """The model's own state with the loadable keys of ``state`` put in: a complete state dict."""
    merged = dict(model_state)
    for key in match.loaded:
        merged[key] = state[key]
    return merged


def load_by_name(
    model: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    strict: bool = True,
    mapping: Sequence[tuple[re.Pattern[str], str]] = (),
    apply: Callable[[torch.nn.Module, dict[str, torch.Tensor]], None] | None = None,
) -> StateMatch:
    """Rename, match and load ``state`` into ``model``; strict refuses any difference (an
    InteropError listing them) and changes nothing.  ``apply`` loads the complete state dict
    (default: ``model.load_state_dict(state, strict=True)``)."""
    renamed = rename_keys(state, mapping) if mapping else dict(state)
    model_state = model.state_dict()
    match = match_state(model_state, renamed)
    if strict and not match.complete:
        raise InteropError(describe_mismatch(match))
    merged = merged_state(model_state, renamed, match)
    if apply is None:
        model.load_state_dict(merged, strict=True)
    else:
        apply(model, merged)
    return match


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def describe_mismatch(match: StateMatch) -> str:
    parts = []
    if match.missing:
        parts.append(f"missing {_listed(match.missing)}")
    if match.unexpected:
        parts.append(f"unexpected {_listed(match.unexpected)}")
    if match.mismatched:
        shown = [f"{k} ({_shown(a)} in the file, {_shown(b)} in the model)" for k, a, b in match.mismatched]
        parts.append(f"mismatched {_listed(shown)}")
    return "; ".join(parts)


def state_entries(state: Mapping[str, torch.Tensor]) -> list[tuple[str, list[int], str]]:
    """``(key, shape, dtype name)`` for each entry of a state dict, in its order."""
    return [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in state.items()]
