# Helpers of the checkpoint suites (io.test, reliability_state.test), sourced by both:
#   path NAME  -> NAME in the suite's scratch directory $::tmp
#   mlp        -> a 4-3-2 ReLU MLP (torch::sequential)
proc path {name} { file join $::tmp $name }

proc mlp {} {
    torch::sequential [torch::linear 4 3] [torch::relu] [torch::linear 3 2]
}
