#!/usr/bin/env tclsh
# Train a small MLP on the UCI handwritten digits (8x8 images, 1797 samples) with Adafactor,
# from Tcl alone, and keep a checkpoint so that the next run resumes where this one stopped.
#
#   TCLLIBPATH=/path/to/tcltorch/tcl tclsh examples/train_digits.tcl ?--epochs N? ?--fresh?
#                                                                   ?--checkpoint FILE?
#
#   --epochs N         train until N epochs are done in total (default 20)
#   --fresh            ignore an existing checkpoint and start over
#   --checkpoint FILE  where the checkpoint lives (default checkpoints/digits.ckpt, relative to
#                      the current directory; its directory is created)
#   --tensorboard DIR  log the loss of every step and each epoch's loss and accuracy for
#                      TensorBoard (tensorboard --logdir DIR); needs pip install 'tcltorch[tensorboard]'
#   --plot FILE        write the curves to FILE (.png or .svg) at the end; needs 'tcltorch[plot]'
#   --chart            show a live chart in a Tk window (needs a display; text-only without one)
#
# The same script trains on several processes when torchrun starts it (make demo-dist):
#
#   torchrun --nproc-per-node 2 --no-python tclsh examples/train_digits.tcl --fresh
#
# Each rank then computes its share of every mini-batch through torch::ddp (the gradients are
# averaged over the ranks, so the result is the one-process training's), and rank 0 alone
# prints and writes the checkpoint.
#
# Everything is seeded: the train/held-out split, the initial weights and each epoch's order of
# mini-batches (torch::foreach_batch -seed with -epoch: a function of the epoch number alone), so training 2 epochs and resuming for 1
# more gives exactly the weights of 3 epochs trained in one go (with the same number of torch
# threads: the script uses 1 unless OMP_NUM_THREADS says otherwise).

# -- arguments --------------------------------------------------------------------------------

set epochs 20
set fresh 0
set checkpoint [file join checkpoints digits.ckpt]
set tensorboard ""
set plot ""
set chart 0
set usage "usage: train_digits.tcl ?--epochs N? ?--fresh? ?--checkpoint FILE? ?--tensorboard DIR? ?--plot FILE? ?--chart?"
for {set i 0} {$i < [llength $argv]} {incr i} {
    set arg [lindex $argv $i]
    switch -- $arg {
        --fresh { set fresh 1 }
        --chart { set chart 1 }
        --epochs - --checkpoint - --tensorboard - --plot {
            if {$i + 1 >= [llength $argv]} { puts stderr "$arg needs a value\n$usage"; exit 2 }
            set value [lindex $argv [incr i]]
            if {$arg eq "--epochs"} {
                if {![string is entier -strict $value] || $value < 1} {
                    puts stderr "--epochs must be a positive integer, not \"$value\""; exit 2
                }
                set epochs $value
            } elseif {$arg eq "--checkpoint"} {
                set checkpoint $value
            } else {
                set [string range $arg 2 end] $value
            }
        }
        -h - --help { puts $usage; exit 0 }
        default { puts stderr "unknown argument \"$arg\"\n$usage"; exit 2 }
    }
}

# The network is tiny: one thread per operation is the fastest, and it keeps a busy machine
# from slowing the run down many times over (set OMP_NUM_THREADS yourself to choose).
if {![info exists env(OMP_NUM_THREADS)]} { set env(OMP_NUM_THREADS) 1 }
package require tcltorch

# Under torchrun (WORLD_SIZE > 1) join the process group; alone, this is a one-rank run.
set ranks 1
set rank 0
if {[info exists env(WORLD_SIZE)] && $env(WORLD_SIZE) > 1} {
    torch::distributed_init
    set ranks [torch::get_world_size]
    set rank [torch::get_rank]
}
proc say {text} { if {$::rank == 0} { puts $text } }

# -- hyper-parameters ---------------------------------------------------------------------------

set seed 20240601
set batch 64
set hidden 128
set heldOutFraction 0.2

# -- the data: read with Tcl itself ---------------------------------------------------------

set started [clock milliseconds]
set dataFile [file join [file dirname [file normalize [info script]]] data digits.csv.gz]
set f [open $dataFile rb]
set text [zlib gunzip [read $f]]
close $f

set images {}
set labels {}
foreach line [split [string trim $text] \n] {
    set values [split [string trim $line] ,]
    # 64 pixels in 0..16, scaled to 0..1, then the class 0..9
    lappend images [lmap v [lrange $values 0 63] {expr {$v / 16.0}}]
    lappend labels [lindex $values 64]
}
set n [llength $labels]

# A fixed, seeded split: shuffle the sample numbers once and hold out the first part.
proc shuffled {count seed} {
    expr {srand($seed)}
    set order {}
    for {set i 0} {$i < $count} {incr i} { lappend order $i }
    for {set i [expr {$count - 1}]} {$i > 0} {incr i -1} {   ;# Fisher-Yates
        set j [expr {int(rand() * ($i + 1))}]
        set tmp [lindex $order $i]
        lset order $i [lindex $order $j]
        lset order $j $tmp
    }
    return $order
}
set order [shuffled $n $seed]
set nHeld [expr {int($n * $heldOutFraction)}]
set heldIdx [lrange $order 0 [expr {$nHeld - 1}]]
set trainIdx [lrange $order $nHeld end]
set nTrain [llength $trainIdx]

proc pick {list indices} { lmap i $indices {lindex $list $i} }
set Xtrain [torch::tensor_create -data [pick $images $trainIdx] -dtype float32]
set Ytrain [torch::tensor_create -data [pick $labels $trainIdx] -dtype int64]
set Xheld  [torch::tensor_create -data [pick $images $heldIdx] -dtype float32]
set Yheld  [torch::tensor_create -data [pick $labels $heldIdx] -dtype int64]
unset images labels text

# -- the model and the optimizer --------------------------------------------------------------

torch::manual_seed $seed
set model [torch::sequential [torch::linear 64 $hidden] [torch::relu] [torch::linear $hidden 10]]
# gradients clipped to a global norm of 1 inside each step; the lr cap decays by 0.9 per epoch
set opt [torch::optimizer_adafactor -parameters $model -globalClipNorm 1.0]
set schedule [torch::lr_scheduler_exponential $opt 0.9]

say [format "digits: %d samples (%d train, %d held out), MLP 64-%d-10 (%d parameters), Adafactor, batch %d" \
    $n $nTrain $nHeld $hidden [torch::count_parameters $model] $batch]

# -- resume ----------------------------------------------------------------------------------

set done 0
if {!$fresh && [file exists $checkpoint]} {
    if {[catch {torch::load_checkpoint $model $opt $checkpoint -scheduler $schedule} info]} {
        puts stderr "cannot resume from $checkpoint: $info\n(run with --fresh to start over)"
        exit 1
    }
    set done [dict get $info epoch]
    say [format "resumed from %s at epoch %d (train loss %.4f)" $checkpoint $done [dict get $info loss]]
}

# every rank starts from rank 0's weights; backward averages the ranks' gradients
set net [expr {$ranks > 1 ? [torch::ddp $model] : $model}]
if {$ranks > 1} {
    say "distributed: $ranks ranks, each computing 1/$ranks of every mini-batch"
}

# -- watching: TensorBoard, a live Tk chart, a picture (rank 0; all optional) ----------------------

# --chart: a Tk window when there is a display; the run stays text-only otherwise
set chartWidget ""
if {$chart && $rank == 0} {
    if {[catch {package require Tk} why]} {
        say "--chart: no display ($why); text only"
    } else {
        package require tcltorch::chart
        wm title . "tcltorch: digits"
        set chartWidget [tcltorch::chart::create .chart -title "digits: Adafactor, batch $batch" -logscale 1]
        pack .chart -fill both -expand 1
        update
    }
}
# --tensorboard DIR: a writer logs every step's loss (torch::foreach_batch -log) and each
# epoch's metrics; with --chart it draws them too (-chart), and it keeps them for --plot
set writer ""
if {$rank == 0 && $tensorboard ne ""} {
    set writer [torch::summary_writer $tensorboard -chart $chartWidget -flushSecs 10]
    say "TensorBoard: tensorboard --logdir $tensorboard"
}
set logOption [expr {$writer ne "" ? [list -log [list $writer train/loss]] : {}}]
# without a writer: the chart is fed here, and the --plot curve kept in a list
set globalStep 0
set curve {}
proc logStep {value} {
    global writer chartWidget plot globalStep curve
    if {$writer eq ""} {
        if {$chartWidget ne ""} { tcltorch::chart::feed $chartWidget train/loss $globalStep $value }
        if {$plot ne ""} { lappend curve [list $globalStep $value] }
    }
    incr globalStep
    return $value
}
proc logEpoch {epoch loss accuracy} {
    global writer chartWidget
    if {$writer ne ""} {
        torch::add_scalar $writer epoch/train_loss $loss -step $epoch
        torch::add_scalar $writer epoch/heldout_accuracy $accuracy -step $epoch
    } elseif {$chartWidget ne ""} {
        tcltorch::chart::feed $chartWidget epoch/train_loss $epoch $loss
    }
}

# -- training ---------------------------------------------------------------------------------

proc heldOutAccuracy {} {
    global model Xheld Yheld
    # the scope frees the logits, predictions and comparison; only the number comes out
    torch::scope {
        set predicted [torch::tensor_argmax [torch::layer_forward $model $Xheld] 1]
        torch::tensor_item [torch::tensor_sum [torch::tensor_eq $predicted $Yheld]]
    }
}

# A progress bar on stderr while an epoch runs, when stderr is a terminal (rank 0 only).
set progress [expr {$rank == 0 && [dict exists [chan configure stderr] -mode]}]

set lastLoss 0.0
for {set epoch [expr {$done + 1}]} {$epoch <= $epochs} {incr epoch} {
    set total 0.0
    set steps 0
    # The mini-batches of one epoch, in an order that depends on the epoch number alone;
    # each body runs in its own scope (every handle made inside is freed when the step ends).
    # -shard 0: every rank sees every mini-batch and computes its share of it.
    torch::foreach_batch {xb yb} [list $Xtrain $Ytrain] -batchSize $batch -shuffle 1 -seed $seed \
            -epoch $epoch -shard 0 -progress $progress {*}$logOption {
        # this rank's share of the mini-batch (all of it when alone)
        set rows [torch::tensor_numel $yb]
        set share [expr {($rows + $ranks - 1) / $ranks}]
        set lo [expr {min($rank * $share, $rows)}]
        set hi [expr {min(($rank + 1) * $share, $rows)}]
        set x [torch::tensor_slice $xb 0 $lo $hi]
        set y [torch::tensor_slice $yb 0 $lo $hi]
        torch::optimizer_zero_grad $opt
        set l [torch::cross_entropy_loss [torch::layer_forward $net $x] $y]
        torch::tensor_backward $l
        torch::optimizer_step $opt
        incr steps
        set value [logStep [torch::tensor_item $l]]
        set total [expr {$total + $value}]
        set value   ;# the body's result: what -log records
    }
    set lastLoss [expr {$total / $steps}]
    if {$ranks > 1} {   ;# the mean over the ranks' shares
        set lastLoss [torch::scope {
            torch::tensor_item [torch::all_reduce [torch::tensor_create $lastLoss -dtype float64] avg]
        }]
    }
    torch::lr_scheduler_step_update $schedule
    set correct [heldOutAccuracy]
    if {$rank == 0} { logEpoch $epoch $lastLoss [expr {double($correct) / $nHeld}] }
    say [format "epoch %2d/%d  train loss %.4f  held-out accuracy %6.2f%%  elapsed %.1f s" \
        $epoch $epochs $lastLoss [expr {100.0 * $correct / $nHeld}] \
        [expr {([clock milliseconds] - $started) / 1000.0}]]
    # a checkpoint after every epoch (written atomically): an interrupted run resumes here
    if {$rank == 0} {
        file mkdir [file dirname $checkpoint]
        torch::save_checkpoint $model $opt $checkpoint -epoch $epoch -loss $lastLoss -scheduler $schedule
    }
}

if {$done >= $epochs} {
    say "already trained for $done epochs (target $epochs); nothing to do"
}
set correct [heldOutAccuracy]
say [format "final held-out accuracy: %.2f%% (%d/%d)" [expr {100.0 * $correct / $nHeld}] $correct $nHeld]
if {$done < $epochs} {
    say "checkpoint saved: $checkpoint (epoch $epochs)"
}
if {$plot ne "" && $rank == 0} {
    set source [expr {$writer ne "" ? [list -writer $writer -tags train/loss] : [list -series [list train/loss $curve]]}]
    torch::plot_series $plot {*}$source -smoothing 0.6 -logScale 1 -title "digits: training loss per step"
    say "plot written: $plot"
}
if {$writer ne ""} { torch::writer_close $writer }
if {$ranks > 1} { torch::distributed_destroy }
if {$chartWidget ne ""} {
    tcltorch::chart::flush $chartWidget
    say "close the chart window to exit"
    tkwait window .
}
