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
set usage "usage: train_digits.tcl ?--epochs N? ?--fresh? ?--checkpoint FILE?"
for {set i 0} {$i < [llength $argv]} {incr i} {
    set arg [lindex $argv $i]
    switch -- $arg {
        --fresh { set fresh 1 }
        --epochs - --checkpoint {
            if {$i + 1 >= [llength $argv]} { puts stderr "$arg needs a value\n$usage"; exit 2 }
            set value [lindex $argv [incr i]]
            if {$arg eq "--epochs"} {
                if {![string is entier -strict $value] || $value < 1} {
                    puts stderr "--epochs must be a positive integer, not \"$value\""; exit 2
                }
                set epochs $value
            } else {
                set checkpoint $value
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
            -epoch $epoch -shard 0 -progress $progress {
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
        set total [expr {$total + [torch::tensor_item $l]}]
        incr steps
    }
    set lastLoss [expr {$total / $steps}]
    if {$ranks > 1} {   ;# the mean over the ranks' shares
        set lastLoss [torch::scope {
            torch::tensor_item [torch::all_reduce [torch::tensor_create $lastLoss -dtype float64] avg]
        }]
    }
    torch::lr_scheduler_step_update $schedule
    set correct [heldOutAccuracy]
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
if {$ranks > 1} { torch::distributed_destroy }
