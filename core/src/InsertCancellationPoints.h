#pragma once

#include <torch/csrc/jit/ir/ir.h>

namespace featscope {

/// Lets a running graph be stopped between its ops.
///
/// Algorithm: before every node of every block that does work (an op, a call, a loop or a branch;
/// not constants, attribute reads or list and tuple packing), insert `featscope::cancellation_point()`,
/// a custom op without inputs or outputs that throws featscope::CancelledError when the calling thread's
/// flag (ScopedCancellationFlag) is set. The op is registered with conservative alias analysis, so
/// TorchScript treats it as having side effects: dead code elimination keeps it and no pass moves an op
/// across it. Inside a loop body the check runs on every iteration, so a loop of many cheap ops stops
/// as quickly as a chain of expensive ones.
///
/// Contract: with no flag set the graph computes what it computed before. Once the flag is set the run
/// throws at the next check (at the latest after the op that is running finishes; a call into a module
/// kept as a method is one op). TorchScript's interpreter reports the exception as its own error whose
/// message contains the CancelledError's; callers tell a cancellation by their flag, not by the type.
/// Returns the number of checks inserted.
std::size_t insertCancellationPoints(torch::jit::Graph& graph);

} // namespace featscope
