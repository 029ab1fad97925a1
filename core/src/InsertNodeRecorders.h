#pragma once

#include "NamedGraph.h"

#include <featscope/FeatureExtraction.h>

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace featscope {

/// Receives the value of each recorded node while a recording module runs.
class NodeValueSink {
public:
    virtual ~NodeValueSink() = default;
    /// `node` indexes the recording module's `nodes.recorded`. `value` is the node's value right after
    /// the node ran; later in-place ops may still change it, so a sink that keeps it must copy it.
    virtual void record(std::size_t node, const at::Tensor& value) = 0;
};

/// The named nodes a recording graph reports, and those it cannot.
struct RecordedNodes {
    std::vector<std::string> recorded; ///< tensor-valued nodes outside control flow, in execution order
    std::vector<std::string> skipped;  ///< tensor-valued nodes inside a loop or data-dependent branch
};

/// Makes a graph hand every tensor-valued named node's value to a sink as soon as it is computed.
///
/// Algorithm: right after the node that defines each recorded value (at the top of the graph for
/// forward's inputs), insert `featscope::record_node_value(value, index)`, a custom op that passes
/// the value to the NodeValueSink installed on the calling thread and returns nothing. The op is
/// registered with conservative alias analysis, so TorchScript treats it as having side effects:
/// dead code elimination keeps it and the values it reads, and no pass moves it past a later
/// in-place op on its value (ResNet's `relu(inplace=True)` after `bn1`). Nothing in the graph
/// uses the op's result, so the interpreter frees each value after its last real use, as before.
///
/// Contract: the graph computes what it computed before. The sink sees each recorded value once
/// per run, in execution order, with the value a forward hook on that node would see. Values
/// whose type is not Tensor (Optional[Tensor], tuples, ints) are neither recorded nor skipped;
/// values inside loops and data-dependent branches have no single value and are skipped.
RecordedNodes insertNodeRecorders(NamedGraph& graph);

/// A module that runs the source's forward with recorders at its named nodes.
struct RecordingModule {
    torch::jit::Module module;
    RecordedNodes nodes;
};

/// Names `module`'s graph in `mode`, inserts the recorders and builds a module around it (sharing
/// the source's submodules, which are switched to `mode`).
RecordingModule createRecordingModule(const torch::jit::Module& module, Mode mode, const FeatureExtractionOptions& options);

/// Runs it once on `inputs` without autograd, with `sink` receiving the values; returns the model's
/// output. A train-mode run updates batch-norm running statistics as a train-mode forward does.
c10::IValue runRecording(RecordingModule& recording, const std::vector<c10::IValue>& inputs, NodeValueSink& sink);

} // namespace featscope
