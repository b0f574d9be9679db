# Run by torchrun on two ranks (tests/commands/runtime/test_distributed.py): every collective and
# point-to-point command, printing "rank NAME VALUE" lines the test compares.
package require tcltorch
torch::distributed_init -backend gloo -timeout 60
set r [torch::get_rank]
set w [torch::get_world_size]
proc out {name value} { puts "$::r $name $value"; flush stdout }
proc L {t} { torch::tensor_to_list $t }

out world $w
out distributed [torch::is_distributed]
out all_reduce [L [torch::all_reduce [torch::tensor_create [expr {$r + 1}] -dtype float32]]]
out all_reduce_max [L [torch::distributed_all_reduce [torch::tensor_create [list $r [expr {10 - $r}]]] -op max]]
out all_reduce_avg [L [torch::all_reduce [torch::tensor_create [expr {2.0 * $r}]] avg]]
set work [torch::all_reduce [torch::tensor_create {1 2}] -async 1]
out all_reduce_async [L [torch::distributed_wait $work]]
out broadcast [L [torch::broadcast [torch::tensor_create [list $r $r]] 1]]
set g [torch::distributed_gather [torch::tensor_create [list $r [expr {$r * $r}]]] -dst 0]
out gather [lmap t $g {L $t}]
out scatter [L [torch::distributed_scatter [torch::tensor_create [list [expr {100 + $r}] 1 2 3] -shape {4}] -src 0]]
out reduce_scatter [L [torch::distributed_reduce_scatter [torch::tensor_create [list $r 1 2 3]]]]
out all_to_all [L [torch::distributed_all_to_all [torch::tensor_create [list [expr {10 * $r}] [expr {10 * $r + 1}]]]]]
if {$r == 0} {
    torch::distributed_send [torch::tensor_create {5 6 7}] 1 3
    set h [torch::distributed_isend [torch::tensor_create {{1 2} {3 4}} -dtype float64] 1 4]
    torch::distributed_wait $h
    out sent 1
} else {
    out recv [L [torch::distributed_recv {3} 0 3]]
    set h [torch::distributed_irecv {2 2} 0 4 -dtype float64]
    out irecv [L [torch::distributed_wait $h]]
    out test [torch::distributed_test $h]
}
out rank0 [torch::distributed_rank0 {expr {42}} -barrier 1]
torch::distributed_barrier
catch {torch::broadcast [torch::zeros 2] 5} m o
out bad_src [list $m [dict get $o -errorcode]]
torch::distributed_destroy
out after [torch::is_distributed]/[torch::get_rank]/[torch::get_world_size]
# after the group: collectives act as a one-process group; messages need a group
out alone [torch::tensor_to_list [torch::all_reduce [torch::ones 1]]]
catch {torch::distributed_send [torch::zeros 1] 0} m o
out not_init [dict get $o -errorcode]
