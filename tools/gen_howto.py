"""Generate docs/howto.md, "How do I ...?", from torch::help's search index.

    python tools/gen_howto.py            # write docs/howto.md
    python tools/gen_howto.py --check    # exit 1 if the page is stale or a task's search fails
    python tools/gen_howto.py --print    # show the page

Each row of TASKS is a common training task: the question, the words to search for (what a
user would type after ``help``), the command that does it and a short Tcl example.  The tool
asks the search index (tcltorch.commands.runtime.help.search) for the words and refuses to
write the page when the command is not among the first HITS results: the page only promises
what ``help WORDS`` really finds.  The examples make one script, run in order by
tests/commands/test_howto.py in a real tclsh (each ``;# -> value`` checked); every command named must
exist.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "howto.md"
HITS = 5  # the command must be among the first HITS results of its search

sys.path.insert(0, str(ROOT))

from tcltorch.commands import load_all
from tcltorch.commands import spec as S
from tcltorch.commands.runtime.help import search

# (question, search words, command, Tcl example): the examples run in this order as one script.
TASKS: list[tuple[str, str, str, str]] = [
    (
        "make a tensor from Tcl numbers",
        "tensor create",
        "tensor_create",
        "set x [torch::tensor_create {{1.0 2.0} {3.0 4.0}}]\nputs [torch::tensor_shape $x]   ;# -> 2 2",
    ),
    ("make runs repeatable", "seed", "manual_seed", "torch::manual_seed 42"),
    (
        "make a random tensor",
        "randn",
        "randn",
        "set noise [torch::randn {4 3}]\nputs [torch::tensor_shape $noise]   ;# -> 4 3",
    ),
    (
        "read a CSV file of numbers",
        "csv",
        "load_csv",
        (
            "set chan [file tempfile csv howto.csv]\n"
            'puts $chan "a,b,c,label\\n0.1,0.2,0.3,0\\n0.4,0.5,0.6,1\\n0.7,0.8,0.9,2\\n0.2,0.1,0.0,1"\n'
            "close $chan\n"
            "set X [torch::load_csv $csv -header 1 -columns {a b c}]\n"
            "set y [torch::load_csv $csv -header 1 -columns label -dtype int64]\n"
            "puts [torch::tensor_shape $X]   ;# -> 4 3"
        ),
    ),
    (
        "build a fully connected layer",
        "linear",
        "linear",
        "set fc1 [torch::linear 3 8]\nset fc2 [torch::linear 8 3]",
    ),
    ("add a non-linearity", "relu", "relu", "set act [torch::relu]"),
    ("regularise with dropout", "dropout", "dropout", "set drop [torch::dropout 0.1]"),
    (
        "stack layers into a model",
        "sequential",
        "sequential",
        "set model [torch::sequential $fc1 $act $drop $fc2]",
    ),
    (
        "count a model's parameters",
        "count parameters",
        "count_parameters",
        "puts [torch::count_parameters $model]   ;# -> 59",
    ),
    (
        "run the model on a batch (forward pass)",
        "forward",
        "layer_forward",
        "set logits [torch::layer_forward $model $X]\nputs [torch::tensor_shape $logits]   ;# -> 4 3",
    ),
    (
        "compute a classification loss",
        "cross entropy",
        "cross_entropy_loss",
        "set loss [torch::cross_entropy_loss $logits $y]",
    ),
    (
        "compute a regression loss",
        "mse",
        "mse_loss",
        "set mse [torch::mse_loss $logits [torch::zeros {4 3}]]",
    ),
    (
        "get a loss as a Tcl number",
        "item",
        "tensor_item",
        "puts [expr {[torch::tensor_item $loss] > 0}]   ;# -> 1",
    ),
    ("compute gradients", "backward", "tensor_backward", "torch::tensor_backward $loss"),
    (
        "make an optimizer",
        "adam",
        "optimizer_adam",
        "set opt [torch::optimizer_adam [torch::layer_parameters $model] 0.01]",
    ),
    (
        "clip gradients",
        "clip",
        "clip_grad_norm",
        "set norm [torch::clip_grad_norm [torch::layer_parameters $model] 1.0]",
    ),
    ("update the weights", "optimizer step", "optimizer_step", "torch::optimizer_step $opt"),
    ("reset the gradients", "zero grad", "optimizer_zero_grad", "torch::optimizer_zero_grad $opt"),
    (
        "warm the learning rate up, then decay it",
        "warmup",
        "lr_scheduler_linear_with_warmup",
        "set sched [torch::lr_scheduler_linear_with_warmup $opt 2 10]",
    ),
    (
        "advance a learning-rate schedule",
        "scheduler step",
        "lr_scheduler_step_update",
        "puts [torch::lr_scheduler_step_update $sched]   ;# -> 0.005",
    ),
    ("read the learning rate", "learning rate", "get_lr", "puts [torch::get_lr $opt]   ;# -> 0.005"),
    ("set the learning rate by hand", "set learning rate", "set_lr", "torch::set_lr $opt 0.001"),
    (
        "loop over shuffled mini-batches",
        "shuffle batches",
        "foreach_batch",
        (
            "torch::foreach_batch {xb yb} [list $X $y] -batchSize 2 -shuffle 1 {\n"
            "    torch::optimizer_zero_grad $opt\n"
            "    set l [torch::cross_entropy_loss [torch::layer_forward $model $xb] $yb]\n"
            "    torch::tensor_backward $l\n"
            "    torch::optimizer_step $opt\n"
            "}"
        ),
    ),
    (
        "train in lower precision (mixed precision)",
        "autocast",
        "autocast",
        (
            "torch::autocast -deviceType cpu -dtype bfloat16 {\n"
            "    set low [torch::layer_forward $model $X]\n"
            "}\n"
            "puts [torch::tensor_dtype $low]   ;# -> bfloat16"
        ),
    ),
    ("switch dropout off to evaluate", "eval", "model_eval", "torch::model_eval $model"),
    (
        "evaluate without building a graph",
        "no grad",
        "no_grad",
        "torch::no_grad {\n    set pred [torch::tensor_argmax [torch::layer_forward $model $X] 1]\n}",
    ),
    (
        "get the predicted classes",
        "argmax",
        "tensor_argmax",
        "puts [torch::tensor_shape [torch::tensor_argmax $logits 1]]   ;# -> 4",
    ),
    ("switch back to training", "train", "model_train", "torch::model_train $model"),
    (
        "free the handles a loop makes",
        "free handles",
        "scope",
        "torch::scope {\n    set tmp [torch::layer_forward $model $X]\n}",
    ),
    (
        "move a model to another device",
        "move to gpu",
        "layer_to",
        "torch::layer_to $model cpu",
    ),
    (
        "save a checkpoint (model and optimizer)",
        "checkpoint",
        "save_checkpoint",
        (
            "set ckpt [file join [file dirname $csv] howto.ckpt]\n"
            "torch::save_checkpoint $model $opt $ckpt -epoch 3 -loss 0.25"
        ),
    ),
    (
        "resume from a checkpoint",
        "load checkpoint",
        "load_checkpoint",
        "puts [dict get [torch::load_checkpoint $model $opt $ckpt] epoch]   ;# -> 3",
    ),
    (
        "save only the weights",
        "save weights",
        "save_state_dict",
        "set weights [file join [file dirname $csv] howto.pt]\ntorch::save_state_dict $model $weights",
    ),
    ("freeze layers (fine-tuning)", "freeze", "freeze_model", "torch::freeze_model $fc1"),
    (
        "warm the learning rate up, then follow a cosine",
        "cosine warmup",
        "lr_scheduler_cosine_with_warmup",
        (
            "set opt2 [torch::optimizer_adam [torch::layer_parameters $model] 0.01]\n"
            "set cos [torch::lr_scheduler_cosine_with_warmup $opt2 2 10]\n"
            "puts [torch::get_lr $opt2]   ;# -> 0.0"
        ),
    ),
    (
        "run one schedule after another",
        "sequential schedulers",
        "lr_scheduler_sequential",
        (
            "set opt3 [torch::optimizer_sgd [torch::layer_parameters $model] 0.1]\n"
            "set warm [torch::lr_scheduler_linear_with_warmup $opt3 2 1000]\n"
            "set decay [torch::lr_scheduler_exponential $opt3 0.5]\n"
            "set seq [torch::lr_scheduler_sequential $opt3 [list $warm $decay] {2}]\n"
            "puts [torch::lr_scheduler_step_update $seq]   ;# -> 0.05"
        ),
    ),
    (
        "keep early-stopping state (and the RNG) with the weights",
        "extra",
        "save_checkpoint",
        (
            "torch::save_checkpoint $model $opt $ckpt -extra {best 0.25 patience 1} -rng 1\n"
            "puts [dict get [torch::load_checkpoint $model $opt $ckpt] extra]   ;# -> best 0.25 patience 1"
        ),
    ),
    (
        "put a GRU or LSTM in a sequential",
        "tuple output",
        "nn_select",
        (
            "set clf [torch::sequential [torch::gru 3 5 -batchFirst 1] [torch::nn_select 1] [torch::linear 5 2]]\n"
            "puts [torch::tensor_shape [torch::layer_forward $clf [torch::randn {2 7 3}]]]   ;# -> 1 2 2"
        ),
    ),
    (
        "use a recurrent layer",
        "lstm",
        "lstm",
        (
            "set rnn [torch::lstm 3 5 -batchFirst 1]\n"
            "lassign [torch::layer_forward $rnn [torch::randn {2 7 3}]] out state\n"
            "puts [torch::tensor_shape $out]   ;# -> 2 7 5\n"
            "file delete $csv $ckpt $weights"
        ),
    ),
]


def check_tasks() -> list[str]:
    """Problems: a command that does not exist, or that its search does not find."""
    load_all()
    problems = []
    for question, words, name, _ in TASKS:
        if name not in S.REGISTRY:
            problems.append(f"{question}: torch::{name} does not exist")
            continue
        found = [m.cmd.name for m in search(words)[:HITS]]
        if name not in found:
            problems.append(f'{question}: "help {words}" does not list torch::{name} first {HITS} ({found})')
    return problems


def render() -> str:
    load_all()
    lines = [
        "<!-- generated by tools/gen_howto.py from torch::help's search; edit the tool's TASKS -->",
        "# How do I ...?",
        "",
        f"The {len(TASKS)} most common training tasks, each with the command that does it and the words",
        "that find it: `help WORDS` in the console, or `puts [torch::help WORDS]` anywhere (the same",
        "search: names, aliases, option names, summaries and the PyTorch function a command wraps).",
        "`torch::help` alone lists the command families. The examples make one script, top to",
        "bottom: a small classifier read from a CSV file, trained, evaluated and saved.",
        "",
        "| How do I ... | Command | Search |",
        "|---|---|---|",
    ]
    for question, words, name, _ in TASKS:
        lines.append(
            f"| [{question}](#{_anchor(question)}) | [`torch::{name}`](commands/{name}.md) | `help {words}` |"
        )
    for question, words, name, example in TASKS:
        cmd = S.REGISTRY[name]
        lines += [
            "",
            f"## {question[:1].upper() + question[1:]}",
            "",
            f"[`torch::{name}`](commands/{name}.md): {cmd.summary} (`help {words}`)",
            "",
            "```tcl",
            example,
            "```",
        ]
    return "\n".join(lines) + "\n"


def _anchor(question: str) -> str:
    keep = "".join(c for c in question.lower() if c.isalnum() or c in " -")
    return keep.replace(" ", "-")


def script() -> str:
    """All examples, in order, as one Tcl script (for the test)."""
    return "\n".join(example for _, _, _, example in TASKS) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/howto.md from the search index.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale (writes nothing)")
    parser.add_argument("--print", action="store_true", help="print the page instead of writing it")
    args = parser.parse_args(argv)
    problems = check_tasks()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    text = render()
    if args.print:
        print(text, end="")
    elif args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run tools/gen_howto.py", file=sys.stderr)
            return 1
    else:
        PAGE.write_text(text)
        print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
