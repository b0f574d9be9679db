# Distributed checkpoints (tests/commands/runtime/test_distributed.py): under torchrun the model is sharded with
# torch::fully_shard and each rank trains on its half of a 16-row batch; as a plain tclsh it is
# unsharded and trains on the whole batch (the same steps). Arguments, in any order:
#   -load DIR     restore model and optimizer from DIR first
#   -save DIR     save a checkpoint to DIR after -saveAt steps (-format auto, or as given)
#   -steps N      steps to run (after any load)
# Prints "RANK param ..." (full weights) at the end and "RANK info ..." after a save.
package require tcltorch
array set opt {-load "" -save "" -saveAt 0 -steps 5 -format auto}
array set opt $argv
set sharded [info exists ::env(RANK)]
if {$sharded} { torch::distributed_init -timeout 60 }
set r [torch::get_rank]
set world [torch::get_world_size]
torch::manual_seed 0
set l1 [torch::linear 8 6]
set l2 [torch::linear 6 5]
set model [torch::sequential $l1 [torch::relu] $l2]
torch::manual_seed 1
set x [torch::randn {16 8}]
set y [torch::randn {16 5}]
set half [expr {16 / $world}]
set xs [torch::tensor_slice $x 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
set ys [torch::tensor_slice $y 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
if {$sharded} { torch::fully_shard $model -children [list $l1 $l2] }
set optimizer [torch::optimizer_adafactor -parameters $model -beta1 0.9 -weightDecay 0.01]
if {$opt(-load) ne ""} {
    puts "$r loaded [torch::load_checkpoint $model $optimizer $opt(-load)]"
}
for {set step 1} {$step <= $opt(-steps)} {incr step} {
    torch::scope {
        torch::optimizer_zero_grad $optimizer
        torch::tensor_backward [torch::mse_loss [torch::layer_forward $model $xs] $ys]
        torch::optimizer_step $optimizer
    }
    if {$opt(-save) ne "" && $step == $opt(-saveAt)} {
        torch::save_checkpoint $model $optimizer $opt(-save) -epoch $step -loss 0.5 -format $opt(-format)
        puts "$r info [torch::get_checkpoint_info $opt(-save)]"
    }
}
foreach p [torch::layer_parameters $model] {
    if {$sharded} { set p [torch::distributed_full_tensor $p] }
    puts "$r param [torch::tensor_to_list $p]"
}
if {$sharded} { torch::distributed_destroy }
