# Run by torchrun on two ranks (tests/commands/runtime/test_distributed.py): torch::fully_shard per block and at
# the root, Adafactor with momentum and weight decay, clip_grad_norm, five steps on each rank's
# half of a 16-row batch; rank 0 prints the final (full) weights and every rank its state bytes.
package require tcltorch
torch::distributed_init -timeout 60
set r [torch::get_rank]
torch::manual_seed 0
set l1 [torch::linear 8 6]
set l2 [torch::linear 6 5]
set model [torch::sequential $l1 [torch::relu] $l2]
torch::manual_seed 1
set x [torch::randn {16 8}]
set y [torch::randn {16 5}]
set half [expr {16 / [torch::get_world_size]}]
set xs [torch::tensor_slice $x 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
set ys [torch::tensor_slice $y 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
torch::fully_shard $model -children [list $l1 $l2]
set opt [torch::optimizer_adafactor -parameters $model -beta1 0.9 -weightDecay 0.01]
for {set step 0} {$step < 5} {incr step} {
    torch::scope {
        torch::optimizer_zero_grad $opt
        torch::tensor_backward [torch::mse_loss [torch::layer_forward $model $xs] $ys]
        puts "$r norm [torch::clip_grad_norm $model 0.5]"
        torch::optimizer_step $opt
    }
}
foreach p [torch::layer_parameters $model] { puts "$r param [torch::tensor_to_list [torch::distributed_full_tensor $p]]" }
puts "$r state_bytes [dict get [torch::optimizer_info $opt] stateBytes]"
torch::distributed_destroy
