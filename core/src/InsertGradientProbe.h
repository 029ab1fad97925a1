#pragma once

#include <torch/csrc/jit/ir/ir.h>

namespace featscope {

/// Makes the gradient at one value of a graph reachable without hooks (TorchScript has none).
///
/// Algorithm: right after the node that defines `value`, insert
/// `probe = zeros_like(value); probe.requires_grad_(); probed = value + probe`, and route every
/// other use of `value` to `probed`. The probe is a fresh autograd leaf made on every run, so
/// `torch::autograd::grad(y, probe)` for any y computed after it is dy/d(value), whether or not the
/// model's parameters or inputs require gradients. Later in-place ops (ReLU(inplace=True)) mutate
/// `probed`, never `value`, so `value` keeps the node's own result.
///
/// Contract: the graph computes what it computed before (adding zero). `value` must be a Tensor
/// defined outside loops and branches; a floating-point one at run time (an integer probe cannot
/// require gradients). Returns the probe, to be made an output of the graph by the caller.
torch::jit::Value* insertGradientProbe(torch::jit::Graph& graph, torch::jit::Value* value);

} // namespace featscope
