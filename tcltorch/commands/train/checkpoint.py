"""Saving and loading: model state dicts and training checkpoints (the Tcl commands).

The work is done by the engines, usable from plain Python: :mod:`tcltorch.serialization`
(atomic writes: a temporary file in the target's directory, fsynced and renamed; reads that never
run code and check every zip record's size and CRC first) and :mod:`tcltorch.checkpoint` (the
checkpoint format, its validation, and an all-or-nothing load of model, optimizer, schedulers and
grad scalers).  This module parses the options, resolves the handles, adds the optimizer
constructor commands' own option rules to the checks, and reports the engines' refusals as Tcl
errors (``invalid -file "NAME": ...``, errorcode ``TORCH VALUE -file``; an operating-system error
as ``couldn't write "NAME": ...``, errorcode ``POSIX ...``).

File formats (both ordinary ``torch.save`` zip archives, readable from Python):

* state dict: the module's ``state_dict()`` itself, so ``model.load_state_dict(torch.load(f))``
  works in Python too;
* checkpoint: see :mod:`tcltorch.checkpoint`.

torch::get_checkpoint_info: what a checkpoint holds, read without applying it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from tcltorch import checkpoint as engine
from tcltorch.commands.spec import (
    REGISTRY,
    Bool,
    Choice,
    Custom,
    Double,
    Handle,
    HandleList,
    Int,
    Opt,
    Str,
    command,
)
from tcltorch.commands.train._files import translated
from tcltorch.errors import TclError, invalid_value

FAMILY = "train/checkpoint"


def _model_opt() -> Opt:
    return Opt("model", Handle("module"), help="module handle", aliases=("module",))


def _optimizer_opt() -> Opt:
    return Opt("optimizer", Handle("optimizer"), help="optimizer handle")


def _scheduler_opt(help: str) -> Opt:
    return Opt("scheduler", HandleList("scheduler"), (), help, positional=False, aliases=("schedulers",))


def _file_opt() -> Opt:
    return Opt("file", Str(), help="file name", aliases=("filename",))


def _scaler_opt(help: str) -> Opt:
    return Opt("scaler", HandleList("scaler"), (), help, positional=False, aliases=("scalers",))


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _option_rules(kind: str) -> dict[str, tuple[Opt, int | None]]:
    """Group key -> (the constructor command's Opt, index into a pair or None): the Tcl
    constructor's own rules for each option an optimizer of class ``kind`` keeps."""
    spec = REGISTRY.get(f"optimizer_{kind.lower()}")
    rules: dict[str, tuple[Opt, int | None]] = {}
    if spec is None:
        return rules
    for opt in spec.options:
        if isinstance(opt.type, (Double, Bool, Choice)) or getattr(opt.type, "doc", "") == "double":
            if opt.py_name in ("beta1", "beta2") and kind != "Adafactor":  # torch keeps betas=(b1, b2)
                rules[f"betas[{opt.py_name[-1]}]"] = (opt, int(opt.py_name[-1]) - 1)
            else:
                rules[opt.py_name] = (opt, None)
    return rules


def _check_option(key: str, value: Any, opt: Opt) -> None:
    def refuse() -> ValueError:
        requirement = getattr(opt.type, "requirement", "is invalid")
        return ValueError(f"its optimizer option {opt.flag} is {engine.shown(value)}: {requirement}")

    if isinstance(opt.type, Bool):
        if not isinstance(value, bool):
            raise refuse()
        return
    if isinstance(opt.type, Choice):
        if not isinstance(value, str):
            raise refuse()
    elif isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        value = value.item()  # torch allows a tensor lr
    if not isinstance(opt.type, Choice) and not _is_real(value):
        raise refuse()
    try:
        opt.type.convert(value if isinstance(value, str) else repr(float(value)), opt.flag, None)
    except TclError:
        raise refuse() from None


def tcl_option_rules(groups: list[Mapping[str, Any]], optimizer: torch.optim.Optimizer) -> None:
    """Refuse saved options that the optimizer's Tcl constructor command would refuse (types and
    ranges: NaN, a negative lr or the string "yes" for a boolean); the engine then applies the
    constructor's own rules.  An lr of 0 is taken: a schedule ends there (or starts there)."""
    rules = _option_rules(type(optimizer).__name__)
    for group in groups:
        for key, value in group.items():
            if key == "lr" and _is_real(value) and value == 0:
                continue
            if key == "betas" and any(k.startswith("betas[") for k in rules):
                if not (isinstance(value, (list, tuple)) and len(value) == 2):
                    raise ValueError(
                        f"its optimizer option betas is {engine.shown(value)}: must be two numbers"
                    )
                for i, v in enumerate(value):
                    _check_option(key, v, rules[f"betas[{i + 1}]"][0])
            elif key in rules:
                _check_option(key, value, rules[key][0])


def _dcp() -> Any:
    """tcltorch.dcp (distributed checkpoints), imported on first use: it imports DTensor."""
    from tcltorch import dcp

    return dcp


def _is_directory(file: str) -> bool:
    return os.path.isdir(os.path.expanduser(file))


def _name(ctx: Any, obj: Any, fallback: str) -> str:
    return ctx.handles.name_of(obj) or fallback


def _names(ctx: Any, *objs: Any) -> dict[int, str]:
    return {id(o): name for o in objs if (name := ctx.handles.name_of(o))}


@command(
    "save_state_dict",
    _model_opt(),
    _file_opt(),
    summary="Save a module's parameters and buffers to a file (atomically).",
    extra_aliases=("save_state", "saveState"),
)
def save_state_dict(model, file):
    with translated():
        engine.save_state_dict(file, model)
    return file


@command(
    "load_state_dict",
    _model_opt(),
    _file_opt(),
    Opt("strict", Bool(), True, "1: refuse any difference; 0: load what fits, report the rest", False),
    Opt("map", Str(), "", "key renaming: {pattern replacement ...} (regular expressions)", False),
    context=True,
    summary="Load a module's parameters and buffers from a file saved by torch::save_state_dict.",
    extra_aliases=("load_state", "loadState"),
)
def load_state_dict(model, file, strict, map, ctx):
    if map or not strict:  # by name: tcltorch.interop (commands/nn/interop.py)
        from tcltorch.commands.nn.interop import load_state_by_name

        words = ctx.split(map, "-map")
        return load_state_by_name(model, file, strict, words, _name(ctx, engine.unwrap(model), "the model"))
    with translated():
        return engine.load_state_dict(file, model, name=_name(ctx, engine.unwrap(model), "the model"))


def _extra(text: str, option: str, ctx: Any) -> dict[str, str]:
    """-extra: a Tcl dict (its values kept as the strings they are); checked as plain data by the engine."""
    words = ctx.split(text, option)
    if len(words) % 2:
        raise invalid_value(option, text, "must be a dict: an even number of words, key value ...")
    return dict(zip(words[::2], words[1::2]))


@command(
    "save_checkpoint",
    _model_opt(),
    _optimizer_opt(),
    _file_opt(),
    Opt("epoch", Int(ge=0), 0, "epoch number stored with the checkpoint"),
    Opt("loss", Double(), 0.0, "loss value stored with the checkpoint"),
    Opt(
        "lr",
        Double(ge=0),
        None,
        "set this learning rate on the optimizer's parameter groups before saving (it stays set); 0: unchanged",
        default_doc="unchanged",
        aliases=("learningRate",),
    ),
    _scheduler_opt(
        "schedulers whose state is saved too (restore them with torch::load_checkpoint -scheduler)"
    ),
    _scaler_opt("grad scalers whose state is saved too (restore them with torch::load_checkpoint -scaler)"),
    Opt(
        "format",
        Choice("auto", "file", "distributed"),
        "auto",
        "file: one file; distributed: a torch.distributed.checkpoint directory, every rank writing its "
        "shards, loadable by any world size; auto: distributed for a torch::fully_shard model",
        False,
    ),
    Opt(
        "extra",
        Custom(_extra, "dict", "must be a dict: an even number of words, key value ..."),
        None,
        "your own state as a Tcl dict (best score, patience, global step ...), returned by "
        "torch::load_checkpoint and torch::get_checkpoint_info as key extra",
        False,
    ),
    Opt(
        "rng",
        Bool(),
        False,
        "save the random generators' states (torch's, CUDA's); torch::load_checkpoint restores them, so a "
        "resumed run draws the same numbers (dropout, foreach_batch -shuffle without -seed)",
        False,
    ),
    summary="Save a module and its optimizer's state (a training checkpoint) to a file (atomically).",
)
def save_checkpoint(model, optimizer, file, epoch, loss, lr, scheduler, scaler, format, extra, rng):
    # -lr (the other implementation's 6th positional word) is set on the optimizer first, so the
    # checkpoint and the optimizer carry it; a failed save puts the learning rates back.
    saved = [g["lr"] for g in optimizer.param_groups]
    if lr == 0:  # the other implementation's default: no learning rate given
        lr = None
    if lr is not None:
        _put_lrs(optimizer, [lr] * len(saved))
    try:
        with translated():
            sharded = format == "auto" and any(
                type(p).__name__ == "DTensor" for p in engine.unwrap(model).parameters()
            )
            distributed = format == "distributed" or sharded
            if distributed and (extra is not None or rng):
                raise TclError(
                    "-extra and -rng are saved in single-file checkpoints only, not in a distributed one",
                    ["TORCH", "ARGS", "EXCLUSIVE", "-extra" if extra is not None else "-rng"],
                )
            mine = {} if distributed else {"extra": extra, "rng": rng}
            (_dcp().save if distributed else engine.save)(
                file,
                model,
                optimizer,
                schedulers=list(scheduler),
                scalers=list(scaler),
                epoch=int(epoch),
                loss=float(loss),
                **mine,
            )
    except BaseException:
        if lr is not None:
            _put_lrs(optimizer, saved)
        raise
    return file


def _put_lrs(optimizer: Any, values: list[Any]) -> None:
    for group, value in zip(optimizer.param_groups, values, strict=True):
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(value))
        else:
            group["lr"] = float(value) if isinstance(value, torch.Tensor) else value


@command(
    "load_checkpoint",
    _model_opt(),
    _optimizer_opt(),
    _file_opt(),
    _scheduler_opt("schedulers to restore (saved by torch::save_checkpoint -scheduler, in the same order)"),
    _scaler_opt("grad scalers to restore (saved by torch::save_checkpoint -scaler, in the same order)"),
    context=True,
    summary="Restore a module and its optimizer from a checkpoint; returns a dict with epoch and loss (and extra).",
)
def load_checkpoint(model, optimizer, file, scheduler, scaler, ctx):
    with translated():
        return (_dcp().load if _is_directory(file) else engine.load)(
            file,
            model,
            optimizer,
            schedulers=list(scheduler),
            scalers=list(scaler),
            names=_names(ctx, engine.unwrap(model), optimizer),
            check_options=tcl_option_rules,
        )


@command(
    "get_checkpoint_info", Opt("file", Str(), help="checkpoint or state-dict file", aliases=("filename",))
)
def get_checkpoint_info(file):
    """Describe a checkpoint (or state-dict) file without loading it into anything.

    The file is read as `torch::load_checkpoint` reads it (weights only, every record's CRC
    checked), so a damaged or foreign file is an error here too.

    ## Return Value

    A Tcl dict. For a checkpoint: `kind checkpoint`, `version`, `epoch`, `loss`, `optimizer`
    (its class), `learning_rate` (the first parameter group's), `steps` (the largest step count
    in the optimizer state), `tensors` and `elements` (of the model state), `schedulers` and
    `scalers` (how many states it carries), and `extra` (the dict given to
    `torch::save_checkpoint -extra`) and `rng 1` when it holds them. For a state dict: `kind state_dict`, `tensors`,
    `elements`. For a distributed checkpoint directory: the checkpoint's keys with
    `kind distributed`, and `world_size` (the number of ranks that saved it).

    Examples:
        set model [torch::linear 4 2]
        set opt [torch::optimizer_adam $model 0.01]
        torch::save_checkpoint $model $opt run.ckpt 3 0.25
        set info [torch::get_checkpoint_info run.ckpt]
        puts [dict get $info epoch]       ;# -> 3
        puts [dict get $info optimizer]   ;# -> Adam
        puts [dict get $info elements]    ;# -> 10
    """
    with translated():
        return _dcp().info(file) if _is_directory(file) else engine.info(file)
