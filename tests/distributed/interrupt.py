"""Rank 0 of the Ctrl-C test (tests/commands/runtime/test_distributed.py): a Python host evaluates a blocking
distributed command under Interp.interruptible() and prints how it ended and when. The test sends
SIGINT once "waiting" is printed. Modes: "init" (the other rank never comes), "collective" (the
other rank joins, then never calls the collective)."""

import os
import sys
import time

import tcltorch

mode = sys.argv[1]
tcl = tcltorch.Interp()
if mode == "collective":
    tcl.eval("torch::distributed_init -backend gloo -timeout 60")
    script = "torch::all_reduce [torch::ones 4]"
else:
    script = "torch::distributed_init -backend gloo -timeout 60"
print("waiting", flush=True)
start = time.monotonic()
with tcl.interruptible():
    try:
        tcl.eval(script)
        print("result ok", flush=True)
    except KeyboardInterrupt:  # the Python host's form of Tcl's "interrupted" (TORCH INTERRUPT)
        print("result interrupted", flush=True)
    except Exception as exc:  # noqa: BLE001 - the Tcl error is the outcome printed
        print("result", getattr(exc, "errorcode", None), str(exc), flush=True)
print("after", f"{time.monotonic() - start:.3f}", flush=True)
print("alive", tcl.eval("expr {6 * 7}"), flush=True)
os._exit(0)  # an abandoned collective may still be in gloo's hands: leave without a teardown
