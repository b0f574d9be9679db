#!/usr/bin/env tclsh
# A character-level transformer language model, written in Tcl with tcltorch's commands and
# trained with Adafactor on the Tcl library's own .tcl sources ([info library], BSD-licensed):
# nothing is downloaded. A checkpoint is written as it trains; the next run resumes from it.
#
#   TCLLIBPATH=$(python -m tcltorch --tcl-path) tclsh examples/train_lm.tcl ?--steps N? ?--fresh?
#       ?--checkpoint FILE? ?--dmodel D? ?--heads H? ?--layers L? ?--context T? ?--batch B?
#       ?--chars N? ?--sample N? ?--temperature X? ?--lr X?
#
#   --steps N          train until N steps are done in total (default 300)
#   --fresh            ignore an existing checkpoint and start over
#   --checkpoint FILE  default checkpoints/lm.ckpt (relative to the current directory)
#
# Model: torch::embedding (tokens) + a learned position embedding -> L pre-LN
# torch::transformer_encoder_layer blocks run with a causal mask -> torch::layer_norm ->
# torch::linear to the vocabulary. The last lines are read by tools and tests:
#   first loss X / final loss Y / optimizer state: adafactor A bytes, adam B bytes / sample: TEXT

set opts {steps 300 checkpoint checkpoints/lm.ckpt dmodel 64 heads 4 layers 2 context 32 batch 32
          chars 200000 sample 120 temperature 0.8 lr 0.01}
set fresh 0
set usage "usage: train_lm.tcl ?--steps N? ?--fresh? ?--checkpoint FILE? ?--dmodel D? ?--heads H?\
 ?--layers L? ?--context T? ?--batch B? ?--chars N? ?--sample N? ?--temperature X? ?--lr X?"
for {set i 0} {$i < [llength $argv]} {incr i} {
    set arg [lindex $argv $i]
    if {$arg eq "--fresh"} { set fresh 1; continue }
    if {$arg in {-h --help}} { puts $usage; exit 0 }
    set key [string range $arg 2 end]
    if {[string range $arg 0 1] ne "--" || ![dict exists $opts $key]} {
        puts stderr "unknown argument \"$arg\"\n$usage"; exit 2
    }
    if {$i + 1 >= [llength $argv]} { puts stderr "$arg needs a value\n$usage"; exit 2 }
    set value [lindex $argv [incr i]]
    if {$key ni {checkpoint temperature lr} && (![string is entier -strict $value] || $value < 1)} {
        puts stderr "$arg must be a positive integer, not \"$value\""; exit 2
    }
    if {$key in {temperature lr} && (![string is double -strict $value] || $value <= 0)} {
        puts stderr "$arg must be a positive number, not \"$value\""; exit 2
    }
    dict set opts $key $value
}
dict with opts {}

if {![info exists env(OMP_NUM_THREADS)]} { set env(OMP_NUM_THREADS) 1 }
package require tcltorch
torch::set_num_threads 1

# -- the text: Tcl's library, read with Tcl -----------------------------------------------------

set text ""
foreach file [lsort [glob -directory [info library] *.tcl]] {
    set f [open $file r]
    append text [read $f]
    close $f
    if {[string length $text] >= $chars} break
}
set text [string range $text 0 [expr {$chars - 1}]]
set alphabet [lsort -unique [split $text ""]]
set vocab [llength $alphabet]
set i 0
foreach ch $alphabet { set id($ch) $i; set charOf($i) $ch; incr i }
set ids [lmap ch [split $text ""] {set id($ch)}]
set n [llength $ids]

# -- the model ----------------------------------------------------------------------------------

# Returns a dict of the parts; the same seed gives the same weights (used again for the Adam copy).
proc buildModel {seed} {
    global vocab dmodel heads layers context
    torch::manual_seed $seed
    set m [dict create]
    dict set m tok [torch::embedding $vocab $dmodel]
    dict set m pos [torch::embedding $context $dmodel]
    set block [torch::transformer_encoder_layer $dmodel $heads [expr {4 * $dmodel}] 0.0 gelu \
        -batchFirst 1 -normFirst 1]
    dict set m enc [torch::transformer_encoder $block $layers -enableNestedTensor 0]
    dict set m norm [torch::layer_norm $dmodel]
    dict set m head [torch::linear $dmodel $vocab]
    # one container holds every parameter, for the optimizer, the checkpoint and the counts
    dict set m all [torch::sequential {*}[dict values $m]]
    return $m
}

# position t may attend to positions 0..t only: -inf above the diagonal, built once as a tensor
# (a window shorter than the context, when sampling, takes its top-left corner)
set fullMask [torch::triu [torch::full -shape [list $context $context] -value -inf] 1]
proc causalMask {T} {
    if {$T == $::context} { return $::fullMask }
    torch::tensor_slice [torch::tensor_slice $::fullMask 0 0 $T] 1 0 $T
}

# logits {B T vocab} for token ids x {B T}
proc logits {m x} {
    set T [lindex [torch::tensor_shape $x] 1]
    set positions [torch::tensor_slice $::positionRow 1 0 $T]
    set h [torch::tensor_add [torch::layer_forward [dict get $m tok] $x] \
        [torch::layer_forward [dict get $m pos] $positions]]
    set h [torch::layer_forward [dict get $m enc] $h -mask [causalMask $T] -isCausal 1]
    torch::layer_forward [dict get $m head] [torch::layer_forward [dict get $m norm] $h]
}
set positionRow [torch::tensor_unsqueeze [torch::arange $context -dtype int64] 0]  ;# {1 context}: 0 1 2 ...

# the batch of step s: random windows of the text, the same for the same step on every run;
# the windows are gathered by index from the text held once as a tensor (one row per batch
# element, a view), x and y are the window and the window shifted by one
set idsRows [torch::tensor_expand [torch::tensor_unsqueeze [torch::tensor_create $ids -dtype int64] 0] \
    [list $batch -1]]
set windowOffsets [torch::tensor_unsqueeze [torch::arange [expr {$context + 1}] -dtype int64] 0]
proc batchOf {step} {
    global n context batch
    expr {srand(7919 * $step + 1)}
    set starts {}
    for {set b 0} {$b < $batch} {incr b} { lappend starts [expr {int(rand() * ($n - $context - 1))}] }
    set index [torch::tensor_add [torch::tensor_unsqueeze [torch::tensor_create $starts -dtype int64] 1] \
        $::windowOffsets]
    set windows [torch::tensor_gather $::idsRows 1 $index]  ;# {batch context+1}
    list [torch::tensor_slice $windows 1 0 $context] [torch::tensor_slice $windows 1 1 [expr {$context + 1}]]
}

# one training step: returns the loss
proc trainStep {m opt step} {
    global vocab
    torch::scope {
        lassign [batchOf $step] x y
        torch::optimizer_zero_grad $opt
        set out [logits $m $x]
        set l [torch::cross_entropy_loss [torch::tensor_reshape $out [list -1 $vocab]] \
            [torch::tensor_reshape $y {-1}]]
        torch::tensor_backward $l
        torch::optimizer_step $opt
        torch::tensor_item $l
    }
}

set seed 20240601
set model [buildModel $seed]
set all [dict get $model all]
set opt [torch::optimizer_adafactor -parameters $all -lr $lr -globalClipNorm 1.0]
# benchmarks/lm_demo.py sources this script for its data, model, optimizer and trainStep only
if {[info exists ::lmDemoSetupOnly]} { return }
puts [format "text: %d characters of %s, vocabulary %d; transformer %d layers, d_model %d,\
 %d heads, context %d (%d parameters), Adafactor, batch %d" \
    $n [info library] $vocab $layers $dmodel $heads $context [torch::count_parameters $all] $batch]

# -- resume --------------------------------------------------------------------------------------

set done 0
if {!$fresh && [file exists $checkpoint]} {
    if {[catch {torch::load_checkpoint $all $opt $checkpoint} info]} {
        puts stderr "cannot resume from $checkpoint: $info\n(run with --fresh to start over,\
 with the same size options)"
        exit 1
    }
    set done [dict get $info epoch]
    puts [format "resumed from %s at step %d (loss %.4f)" $checkpoint $done [dict get $info loss]]
}

# -- training ------------------------------------------------------------------------------------

set report [expr {max(1, $steps / 10)}]
set saveEvery [expr {max(1, $steps / 5)}]
set started [clock milliseconds]
set tick $started
set tokens 0
set firstLoss ""
set loss ""
for {set step [expr {$done + 1}]} {$step <= $steps} {incr step} {
    set loss [trainStep $model $opt $step]
    if {$firstLoss eq ""} { set firstLoss $loss }
    incr tokens [expr {$batch * $context}]
    if {$step == $done + 1 || $step % $report == 0 || $step == $steps} {
        set now [clock milliseconds]
        puts [format "step %4d/%d  loss %.4f  %6.0f tokens/s  elapsed %.1f s" $step $steps $loss \
            [expr {$tokens * 1000.0 / max(1, $now - $tick)}] [expr {($now - $started) / 1000.0}]]
        set tick $now
        set tokens 0
    }
    if {$step % $saveEvery == 0 || $step == $steps} {
        # atomic: an interrupted run resumes from the last one written
        file mkdir [file dirname $checkpoint]
        torch::save_checkpoint $all $opt $checkpoint -epoch $step -loss $loss
    }
}
if {$firstLoss eq ""} {
    puts "already trained for $done steps (target $steps); nothing to do"
    # the loss of the next batch, measured without training
    torch::no_grad {
        set firstLoss [torch::scope {
            lassign [batchOf [expr {$done + 1}]] x y
            torch::tensor_item [torch::cross_entropy_loss \
                [torch::tensor_reshape [logits $model $x] [list -1 $vocab]] [torch::tensor_reshape $y {-1}]]
        }]
    }
    set loss $firstLoss
}
puts [format "first loss %.4f" $firstLoss]
puts [format "final loss %.4f" $loss]

# -- optimizer state: Adafactor's factored statistics against Adam's two full moments ----------

set adafactorBytes [dict get [torch::optimizer_info $opt] stateBytes]
# Adam on a copy of the same model (same architecture and seed), after one step on the same batch
set copy [buildModel $seed]
set adam [torch::optimizer_adam [dict get $copy all] 0.001]
trainStep $copy $adam 1
set adamBytes [dict get [torch::optimizer_info $adam] stateBytes]
puts "optimizer state: adafactor $adafactorBytes bytes, adam $adamBytes bytes"

# -- a sample, drawn with a temperature through torch::multinomial ------------------------------

torch::model_eval $all
torch::manual_seed $seed
set generated [lmap ch [split "proc " ""] {set id($ch)}]
set prompt [llength $generated]
torch::no_grad {
    while {[llength $generated] < $prompt + $sample} {
        lappend generated [torch::scope {
            set window [lrange $generated end-[expr {$context - 1}] end]
            set T [llength $window]
            set out [logits $model [torch::tensor_create [list $window] -dtype int64]]
            set last [torch::tensor_reshape [torch::tensor_slice $out 1 [expr {$T - 1}] $T] [list $vocab]]
            set probs [torch::tensor_softmax [torch::tensor_div $last $temperature] 0]
            torch::tensor_item [torch::multinomial $probs 1]
        }]
    }
}
puts "sample: [string map {\n \\n \t \\t} [join [lmap i $generated {set charOf($i)}] ""]]"
