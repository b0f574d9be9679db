#!/usr/bin/env tclsh
# An LSTM sequence classifier, from Tcl alone: does a sequence of numbers add up to more than zero?
#
#   TCLLIBPATH=/path/to/tcltorch/tcl tclsh examples/lstm_classifier.tcl ?--steps N? ?--hidden H?
#                                               ?--seqLen T? ?--samples N? ?--batch B? ?--lr LR?
#   (each also with one dash, -steps N, as before)
#
# The sequences are made in Tcl (seeded), the model is torch::lstm followed by torch::linear on the
# LSTM's final hidden state, trained with Adam on cross-entropy. Each report line reads
# "step N loss L"; at the end it prints the accuracy on sequences it never saw.

set options {-steps 200 -hidden 32 -seqLen 12 -samples 512 -batch 64 -lr 0.01}
if {[llength $argv] % 2} {
    puts stderr "options come in pairs: --flag value (or -flag value), one of [dict keys $options]"
    exit 2
}
foreach {flag value} $argv {
    # --steps as in the other examples; -steps as before
    set key [expr {[string match --* $flag] ? [string range $flag 1 end] : $flag}]
    if {![dict exists $options $key]} {
        puts stderr "unknown option \"$flag\": must be one of --[join [lmap k [dict keys $options] {string range $k 1 end}] {, --}]"
        exit 2
    }
    dict set options $key $value
}
dict with options {}
set steps ${-steps}; set hidden ${-hidden}; set seqLen ${-seqLen}
set samples ${-samples}; set batch ${-batch}; set lr ${-lr}

if {![info exists env(OMP_NUM_THREADS)]} { set env(OMP_NUM_THREADS) 1 }
package require tcltorch
torch::set_num_threads 1

# -- data: sequences of numbers in [-1, 1]; class 1 when their sum is positive -------------------

proc makeData {count seqLen seed} {
    expr {srand($seed)}
    set xs {}
    set ys {}
    for {set i 0} {$i < $count} {incr i} {
        set seq {}
        set sum 0.0
        for {set t 0} {$t < $seqLen} {incr t} {
            set v [expr {2.0 * rand() - 1.0}]
            lappend seq $v
            set sum [expr {$sum + $v}]
        }
        lappend xs $seq
        lappend ys [expr {$sum > 0 ? 1 : 0}]
    }
    # [count, seqLen] -> [count, seqLen, 1]: one feature per step
    set x [torch::tensor_reshape [torch::tensor_create $xs -dtype float32] [list $count $seqLen 1]]
    list $x [torch::tensor_create $ys -dtype int64]
}
lassign [makeData $samples $seqLen 1] Xtrain Ytrain
lassign [makeData 256 $seqLen 2] Xtest Ytest

# -- model: LSTM over the sequence, a linear layer on its last hidden state -----------------------

torch::manual_seed 0
set lstm [torch::lstm -inputSize 1 -hiddenSize $hidden -batchFirst 1]
set head [torch::linear $hidden 2]
set model [torch::sequential $lstm $head]   ;# holds every parameter, for the optimizer
set opt [torch::optimizer_adam $model $lr]
puts "LSTM classifier: [torch::count_parameters $model] parameters, $samples sequences of length $seqLen"

# logits for a batch [B, T, 1]: the final hidden state h_n is [1, B, hidden]
proc logits {x} {
    global lstm head hidden
    lassign [torch::layer_forward $lstm $x] output state
    lassign $state h c
    torch::layer_forward $head [torch::tensor_reshape $h [list -1 $hidden]]
}

# -- training ---------------------------------------------------------------------------------

set report [expr {max(1, $steps / 10)}]
for {set step 1} {$step <= $steps} {incr step} {
    set start [expr {(($step - 1) * $batch) % ($samples - $batch + 1)}]
    set loss [torch::scope {
        set x [torch::tensor_slice $Xtrain 0 $start [expr {$start + $batch}]]
        set y [torch::tensor_slice $Ytrain 0 $start [expr {$start + $batch}]]
        torch::optimizer_zero_grad $opt
        set l [torch::cross_entropy_loss [logits $x] $y]
        torch::tensor_backward $l
        torch::optimizer_step $opt
        torch::tensor_item $l
    }]
    if {$step == 1 || $step % $report == 0 || $step == $steps} {
        puts [format "step %4d loss %.4f" $step $loss]
    }
}

torch::model_eval $model
set correct [torch::scope {
    torch::no_grad {
        set predicted [torch::tensor_argmax [logits $Xtest] 1]
        torch::tensor_item [torch::tensor_sum [torch::tensor_eq $predicted $Ytest]]
    }
}]
puts [format "held-out accuracy %.1f%% (%d/256)" [expr {100.0 * $correct / 256}] $correct]
