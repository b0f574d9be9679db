# Elastic training: survive a dead rank. Run under torchrun with restarts allowed:
#
#   torchrun --standalone --nproc-per-node 2 --max-restarts 1 --no-python \
#       tclsh examples/elastic_train.tcl --steps 12 --every 4 --dir checkpoints/elastic
#
# Every rank builds the same small model, shards it with torch::fully_shard, trains it with
# Adafactor on its half of each step's batch, and every --every steps saves a distributed
# checkpoint (one directory, every rank its shards, swapped in atomically). At start it resumes
# from that checkpoint when there is one. When a rank dies (killed, out of memory, a lost host),
# torchrun stops the others and starts the whole group again (up to --max-restarts times); the
# new processes load the last checkpoint and redo the steps after it. Each step's batch depends
# only on the step number, so the weights at the end are those of an uninterrupted run.
#
#   --steps N      train until step N (default 12)
#   --every K      checkpoint every K steps (default 4)
#   --dir DIR      where the checkpoint lives (default checkpoints/elastic; DIR/ckpt)
#   --fresh        ignore an existing checkpoint and start over (on the first attempt: a restart
#                  always resumes)
#   --kill-at S    a drill: on the first attempt (TORCHELASTIC_RESTART_COUNT 0) the last rank
#                  kills itself with SIGKILL after step S, as a crash would
#
# Rank 0 prints "step N loss L" as it goes and "final NAME VALUES" (the full weights) at the end.
# Without torchrun it trains in one process (unsharded) on the whole batch: the same steps.
package require tcltorch

array set opt {--steps 12 --every 4 --dir checkpoints/elastic --kill-at 0 --fresh 0}
set usage "usage: elastic_train.tcl ?--steps N? ?--every K? ?--dir DIR? ?--fresh? ?--kill-at S?"
for {set i 0} {$i < [llength $argv]} {incr i} {
    set arg [lindex $argv $i]
    switch -- $arg {
        --fresh { set opt(--fresh) 1 }
        --steps - --every - --kill-at - --dir {
            if {$i + 1 >= [llength $argv]} { puts stderr "$arg needs a value\n$usage"; exit 2 }
            set opt($arg) [lindex $argv [incr i]]
            if {$arg ne "--dir" && !([string is integer -strict $opt($arg)] && $opt($arg) >= 0)} {
                puts stderr "$arg must be an integer >= 0, not \"$opt($arg)\""; exit 2
            }
        }
        -h - --help { puts $usage; exit 0 }
        default { puts stderr "unknown argument \"$arg\"\n$usage"; exit 2 }
    }
}
if {$opt(--every) < 1} { puts stderr "--every must be at least 1"; exit 2 }

set distributed [info exists ::env(RANK)]
if {$distributed} { torch::distributed_init -timeout 120 }
set rank [torch::get_rank]
set world [torch::get_world_size]
set attempt [expr {[info exists ::env(TORCHELASTIC_RESTART_COUNT)] ? $::env(TORCHELASTIC_RESTART_COUNT) : 0}]

# -- the model (the same initial weights on every rank) and the optimizer -----------------------
torch::manual_seed 0
set hidden [torch::linear 8 16]
set head [torch::linear 16 4]
set model [torch::sequential $hidden [torch::tanh] $head]
if {$distributed} { torch::fully_shard $model -children [list $hidden $head] }
set optimizer [torch::optimizer_adafactor -parameters $model -beta1 0.9 -weightDecay 0.01]

# -- resume -------------------------------------------------------------------------------------
set checkpoint [file join $opt(--dir) ckpt]
set start 1
if {(!$opt(--fresh) || $attempt > 0) && [file isdirectory $checkpoint]} {
    set done [dict get [torch::load_checkpoint $model $optimizer $checkpoint] epoch]
    set start [expr {$done + 1}]
    if {$rank == 0} { puts "attempt $attempt: resumed after step $done" }
} elseif {$rank == 0} {
    puts "attempt $attempt: starting at step 1"
}
if {$rank == 0} { file mkdir $opt(--dir) }

# -- training -----------------------------------------------------------------------------------
set rows 32
set share [expr {$rows / $world}]
for {set step $start} {$step <= $opt(--steps)} {incr step} {
    torch::scope {
        # this step's batch: a function of the step number alone, so a redone step is the same
        torch::manual_seed [expr {1000 + $step}]
        set x [torch::randn [list $rows 8]]
        set y [torch::tensor_sin [torch::tensor_matmul $x [torch::ones {8 4}]]]
        set xs [torch::tensor_slice $x 0 [expr {$rank * $share}] [expr {($rank + 1) * $share}]]
        set ys [torch::tensor_slice $y 0 [expr {$rank * $share}] [expr {($rank + 1) * $share}]]
        torch::optimizer_zero_grad $optimizer
        set loss [torch::mse_loss [torch::layer_forward $model $xs] $ys]
        torch::tensor_backward $loss
        torch::optimizer_step $optimizer
        if {$rank == 0} { puts "step $step loss [format %.6f [torch::tensor_item $loss]]" }
    }
    if {$step % $opt(--every) == 0 || $step == $opt(--steps)} {
        torch::save_checkpoint $model $optimizer $checkpoint -epoch $step -format distributed
    }
    if {$opt(--kill-at) == $step && $attempt == 0 && $rank == $world - 1} {
        puts "rank $rank: killing itself after step $step (attempt $attempt)"
        flush stdout
        exec kill -KILL [pid]
    }
}

# -- the result -----------------------------------------------------------------------------------
set names {hidden.weight hidden.bias head.weight head.bias}
foreach name $names p [torch::layer_parameters $model] {
    if {$distributed} { set p [torch::distributed_full_tensor $p] }
    if {$rank == 0} { puts "final $name [torch::tensor_to_list $p]" }
}
if {$distributed} { torch::distributed_destroy }
