#!/usr/bin/env tclsh
# A tiny causal transformer language model, from Tcl alone, trained on the characters of Tcl's own
# library (the .tcl files in [info library]).
#
#   TCLLIBPATH=/path/to/tcltorch/tcl tclsh examples/transformer_lm_tiny.tcl ?--steps N? ?--dmodel D?
#       ?--nhead H? ?--layers L? ?--context T? ?--batch B? ?--lr LR? ?--chars N? ?--sample N?
#   (each also with one dash, -steps N, as before)
#
# Model: torch::embedding -> torch::positional_encoding -> torch::transformer_encoder (pre-LN layers,
# run with a causal mask) -> torch::layer_norm -> torch::linear to the vocabulary; Adam on the
# next-character cross-entropy. Each report line reads "step N loss L"; at the end it prints the
# model summary's totals and a greedy sample continuing a prompt.

set options {-steps 300 -dmodel 64 -nhead 4 -layers 2 -context 32 -batch 32 -lr 0.003 -chars 60000 -sample 80}
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
set steps ${-steps}; set dModel ${-dmodel}; set nhead ${-nhead}; set layers ${-layers}
set context ${-context}; set batch ${-batch}; set lr ${-lr}; set maxChars ${-chars}; set nSample ${-sample}

if {![info exists env(OMP_NUM_THREADS)]} { set env(OMP_NUM_THREADS) 1 }
package require tcltorch
torch::set_num_threads 1

# -- the text: Tcl's library, read with Tcl ---------------------------------------------------

set text ""
foreach file [lsort [glob -directory [info library] *.tcl]] {
    set f [open $file r]
    append text [read $f]
    close $f
    if {[string length $text] >= $maxChars} break
}
set text [string range $text 0 [expr {$maxChars - 1}]]
set chars [lsort -unique [split $text ""]]
set vocab [llength $chars]
set i 0
foreach ch $chars { set id($ch) $i; set ch_of($i) $ch; incr i }
set ids [lmap ch [split $text ""] {set id($ch)}]
set n [llength $ids]
puts "text: $n characters of [info library], vocabulary $vocab"

# -- the model --------------------------------------------------------------------------------

torch::manual_seed 0
set embed [torch::embedding $vocab $dModel]
set posenc [torch::positional_encoding $context $dModel -batchFirst 1]
set block [torch::transformer_encoder_layer $dModel $nhead [expr {4 * $dModel}] 0.0 gelu \
    -batchFirst 1 -normFirst 1]
set encoder [torch::transformer_encoder $block $layers -enableNestedTensor 0]
set norm [torch::layer_norm $dModel]
set head [torch::linear $dModel $vocab]
# one container for the optimizer and the summary (the forward below adds the causal mask)
set model [torch::sequential $embed $posenc $encoder $norm $head]
set opt [torch::optimizer_adamw $model $lr -weightDecay 0.01]

# the causal mask: position t may attend to positions 0..t only
proc causalMask {T} {
    set rows {}
    for {set r 0} {$r < $T} {incr r} {
        set row {}
        for {set c 0} {$c < $T} {incr c} { lappend row [expr {$c <= $r ? 0.0 : "-inf"}] }
        lappend rows $row
    }
    torch::tensor_create $rows -dtype float32
}
set mask [causalMask $context]

proc logits {x mask} {
    global embed posenc encoder norm head
    set h [torch::layer_forward $posenc [torch::layer_forward $embed $x]]
    set h [torch::layer_forward $encoder $h -mask $mask -isCausal 1]
    torch::layer_forward $head [torch::layer_forward $norm $h]
}

set summary [torch::model_summary $model [torch::tensor_create [list [lrange $ids 0 [expr {$context - 1}]]] -dtype int64]]
puts [join [lrange [split $summary \n] end-2 end] "; "]

# -- training: random windows of the text, next-character targets ------------------------------

expr {srand(1)}
proc batchOf {} {
    global ids n context batch
    set xs {}
    set ys {}
    for {set b 0} {$b < $batch} {incr b} {
        set s [expr {int(rand() * ($n - $context - 1))}]
        lappend xs [lrange $ids $s [expr {$s + $context - 1}]]
        lappend ys [lrange $ids [expr {$s + 1}] [expr {$s + $context}]]
    }
    list [torch::tensor_create $xs -dtype int64] [torch::tensor_create $ys -dtype int64]
}

set report [expr {max(1, $steps / 10)}]
set started [clock milliseconds]
for {set step 1} {$step <= $steps} {incr step} {
    set loss [torch::scope {
        lassign [batchOf] x y
        torch::optimizer_zero_grad $opt
        set out [logits $x $mask]
        set l [torch::cross_entropy_loss [torch::tensor_reshape $out [list -1 $vocab]] \
            [torch::tensor_reshape $y {-1}]]
        torch::tensor_backward $l
        torch::clip_grad_norm $model 1.0
        torch::optimizer_step $opt
        torch::tensor_item $l
    }]
    if {$step == 1 || $step % $report == 0 || $step == $steps} {
        puts [format "step %4d loss %.4f  (%.1f s)" $step $loss \
            [expr {([clock milliseconds] - $started) / 1000.0}]]
    }
}

# -- a greedy sample --------------------------------------------------------------------------

torch::model_eval $model
set prompt [split "proc " ""]
set generated [lmap ch $prompt {set id($ch)}]
for {set k 0} {$k < $nSample} {incr k} {
    set next [torch::scope {
        torch::no_grad {
            set window [lrange $generated end-[expr {$context - 1}] end]
            set T [llength $window]
            set out [logits [torch::tensor_create [list $window] -dtype int64] [causalMask $T]]
            set last [torch::tensor_slice $out 1 [expr {$T - 1}] $T]
            torch::tensor_item [torch::tensor_argmax [torch::tensor_reshape $last {-1}]]
        }
    }]
    lappend generated $next
}
puts "sample: [string map {\n \\n} [join [lmap i $generated {set ch_of($i)}] ""]]"
