"""What watching a run costs: a 1000-step training loop in tclsh with the Tk chart updated every
step, against the same loop without it, and the per-step cost of TensorBoard logging.

    python benchmarks/chart_overhead.py [--steps N] [--rounds R] [--display :N]

The loop trains the demo's MLP (64-128-10, Adafactor, mini-batches of 64) in a real tclsh
(`package require tcltorch`). Variants, run in interleaved rounds (each round runs every variant
once, in a rotating order, after a warm-up):

* plain:  the loop alone;
* chart:  plus `tcltorch::chart::feed` of the step's loss every step (the chart redraws at most
          every 100 ms and at most 5 % of the time, letting Tk repaint);
* writer: plus `torch::add_scalar` to a TensorBoard writer every step (no chart);
* both:   `torch::add_scalar` to a writer with `-chart` (logs and draws with one call).

Reported: per-round ratios to `plain` (min / median / max; the chart's target is <= 1.05) and
the extra microseconds per step. Without a display the script starts Xvfb itself (or exits 2
saying it needs one). Timing, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tcltorch.paths import tcl_path

SCRIPT = r"""
package require Tk
package require tcltorch
package require tcltorch::chart
set steps [lindex $argv 0]
set rounds [lindex $argv 1]
set logdir [lindex $argv 2]
torch::manual_seed 1
set X [torch::rand {4096 64}]
set Y [torch::randint {4096} 10 -dtype int64]
set model [torch::sequential [torch::linear 64 128] [torch::relu] [torch::linear 128 10]]
set opt [torch::optimizer_adafactor -parameters $model]
wm geometry . 640x400+0+0
tcltorch::chart::create .c -title "chart overhead"
pack .c -fill both -expand 1
update
set w [torch::summary_writer $logdir/writer]
set wc [torch::summary_writer $logdir/both -chart .c]

proc step {i} {
    global X Y model opt
    set rows [expr {($i * 64) % 4032}]
    torch::scope {
        set xb [torch::tensor_slice $X 0 $rows [expr {$rows + 64}]]
        set yb [torch::tensor_slice $Y 0 $rows [expr {$rows + 64}]]
        torch::optimizer_zero_grad $opt
        set l [torch::cross_entropy_loss [torch::layer_forward $model $xb] $yb]
        torch::tensor_backward $l
        torch::optimizer_step $opt
        torch::tensor_item $l
    }
}
proc run {variant steps} {
    global w wc
    set base [expr {$::offset($variant)}]
    set t0 [clock microseconds]
    switch -- $variant {
        plain  { for {set i 0} {$i < $steps} {incr i} { step $i } }
        chart  { for {set i 0} {$i < $steps} {incr i} { tcltorch::chart::feed .c loss [expr {$base + $i}] [step $i] } }
        writer { for {set i 0} {$i < $steps} {incr i} { torch::add_scalar $w loss [step $i] } }
        both   { for {set i 0} {$i < $steps} {incr i} { torch::add_scalar $wc both/loss [step $i] } }
    }
    set elapsed [expr {[clock microseconds] - $t0}]
    incr ::offset($variant) $steps
    return $elapsed
}
set variants {plain chart writer both}
foreach v $variants { set ::offset($v) 0 }
foreach v $variants { run $v 200 }   ;# warm-up
for {set r 0} {$r < $rounds} {incr r} {
    set order [concat [lrange $variants [expr {$r % 4}] end] [lrange $variants 0 [expr {$r % 4 - 1}]]]
    foreach v $order { puts "TIME $r $v [run $v $steps]" }
    flush stdout
}
set d [tcltorch::chart::describe .c]
puts "CHART [dict get $d redraws] redraws, last drew in [dict get $d drawms] ms, points [dict get $d series]"
torch::writer_close $w
torch::writer_close $wc
exit
"""


def start_xvfb() -> tuple[str, subprocess.Popen | None]:
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"], None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("no DISPLAY and no Xvfb (apt-get install xvfb): the chart needs a display")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline:
            server.kill()
            sys.exit("Xvfb did not start")
        time.sleep(0.1)
    return f":{number}", server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    display, server = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as logdir:
            env = {**os.environ, "DISPLAY": display, "TCLLIBPATH": tcl_path(), "OMP_NUM_THREADS": "1"}
            proc = subprocess.run(
                ["tclsh", "/dev/stdin", str(args.steps), str(args.rounds), logdir],
                input=SCRIPT,
                capture_output=True,
                text=True,
                env=env,
                check=False,
                timeout=3600,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    times: dict[str, dict[int, float]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("TIME "):
            _, r, variant, us = line.split()
            times.setdefault(variant, {})[int(r)] = float(us)
        elif line.startswith("CHART "):
            chart_line = line[6:]
    plain = times["plain"]
    per_step = statistics.median(plain.values()) / args.steps
    print(
        f"{args.steps} steps x {args.rounds} rounds on {display}; plain loop: {per_step:.1f} us/step (median)"
    )
    for variant in ("chart", "writer", "both"):
        ratios = sorted(times[variant][r] / plain[r] for r in plain)
        extra = statistics.median((times[variant][r] - plain[r]) / args.steps for r in plain)
        print(
            f"  {variant:6s} ratio min {ratios[0]:.3f}  median {statistics.median(ratios):.3f}  "
            f"max {ratios[-1]:.3f}   extra {extra:+.1f} us/step"
        )
    print("  " + chart_line)
    ratios = [times["chart"][r] / plain[r] for r in plain]
    print("chart target median ratio <= 1.05:", "met" if statistics.median(ratios) <= 1.05 else "NOT met")


if __name__ == "__main__":
    main()
