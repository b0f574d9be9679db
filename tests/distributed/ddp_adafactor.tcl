# Run by torchrun on two ranks (tests/commands/runtime/test_distributed.py): five Adafactor steps through
# torch::ddp, each rank on its half of a 32-row batch; rank 0 prints the final weights.
package require tcltorch
torch::distributed_init -timeout 60
set r [torch::get_rank]
torch::manual_seed 0
set model [torch::linear 4 3]
torch::manual_seed 1
set x [torch::randn {32 4}]
set y [torch::randn {32 3}]
set half [expr {32 / [torch::get_world_size]}]
set xs [torch::tensor_slice $x 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
set ys [torch::tensor_slice $y 0 [expr {$r * $half}] [expr {($r + 1) * $half}]]
set net [torch::ddp $model]
set opt [torch::optimizer_adafactor -parameters $net]
for {set step 0} {$step < 5} {incr step} {
    torch::scope {
        torch::optimizer_zero_grad $opt
        set loss [torch::mse_loss [torch::layer_forward $net $xs] $ys]
        torch::tensor_backward $loss
        torch::optimizer_step $opt
    }
}
torch::distributed_rank0 {
    foreach p [torch::layer_parameters $model] { puts "param [torch::tensor_to_list $p]" }
}
torch::distributed_destroy
