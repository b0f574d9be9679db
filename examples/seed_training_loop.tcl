#!/usr/bin/env tclsh
# The Adafactor page's module example (a 784-256-10 MLP) with its
# "... forward pass and loss calculation ..." written out, on synthetic data:
# 10 classes, each a faint fixed random 784-pixel pattern (std 0.1) under unit noise.
#
#   TCLLIBPATH=/path/to/tcltorch/tcl tclsh examples/seed_training_loop.tcl ?steps?

package require tcltorch

set steps [expr {[llength $argv] ? [lindex $argv 0] : 200}]
torch::manual_seed 0

# Create a neural network module (the seed example, verbatim)
set model [torch::sequential]
torch::add_module $model [torch::linear 784 256]
torch::add_module $model [torch::relu]
torch::add_module $model [torch::linear 256 10]

# Create optimizer for all module parameters
set opt [torch::optimizer_adafactor -parameters $model -lr 0.8]

# Synthetic data: 10 class patterns; a batch is 64 noisy copies of random classes.
set patterns [torch::tensor_mul [torch::randn {10 784}] 0.1]
proc batch {} {
    global patterns
    set y [torch::tensor_create -data [lmap _ [lrepeat 64 0] {expr {int(rand() * 10)}}] -dtype int64]
    set noise [torch::randn {64 784}]
    list [torch::tensor_add [torch::tensor_index_select $patterns 0 $y] $noise] $y
}
expr {srand(1)}

for {set step 1} {$step <= $steps} {incr step} {
    set loss [torch::scope {
        lassign [batch] x y
        torch::optimizer_zero_grad $opt
        # forward pass and loss calculation
        set logits [torch::layer_forward $model $x]
        set l [torch::cross_entropy_loss $logits $y]
        torch::tensor_backward $l
        torch::optimizer_step $opt
        torch::tensor_item $l
    }]
    if {$step == 1 || $step % 20 == 0} {
        puts [format "step %4d  loss %.4f" $step $loss]
    }
}

set accuracy [torch::scope {
    lassign [batch] x y
    set predicted [torch::tensor_argmax [torch::layer_forward $model $x] 1]
    expr {[torch::tensor_item [torch::tensor_sum [torch::tensor_eq $predicted $y]]] / 64.0}
}]
puts [format "accuracy on a fresh batch: %.1f%%  (live handles: %d)" [expr {100 * $accuracy}] [llength [torch::handles]]]
