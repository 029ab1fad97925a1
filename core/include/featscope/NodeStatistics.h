#pragma once

// What flows through every node: one run of a model that summarises each tensor-valued named node
// as soon as it is computed, so no more than the model's own activations are alive at any time.

#include <featscope/FeatureExtraction.h>
#include <featscope/TensorLayout.h>

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// Number of equal-width bins of NodeStatistics::histogram.
inline constexpr int kStatisticsHistogramBins = 16;

/// The summary of one node's value. Statistics are over all its elements (every batch item);
/// quantized values are dequantized first, complex values summarised by their magnitude, and
/// everything is accumulated in double precision. A value with no elements has NaN min, max, mean
/// and std; one with NaN or infinite elements has non-finite statistics where they enter and an
/// all-zero histogram.
struct NodeStatistics {
    std::string name;                ///< torchvision node name, e.g. "layer1.0.relu_1"
    std::vector<std::int64_t> shape;
    double min = 0.0;
    double max = 0.0;
    double mean = 0.0;
    double std = 0.0;                ///< population standard deviation (divided by the element count)
    double zeros = 0.0;              ///< fraction of elements exactly 0, in [0, 1]
    /// The dimension read as channels: 1 for [N, C, H, W], [N, C] and any other value of rank 2 or
    /// more, the last for values detectTensorLayout reads as channels-last ([N, H, W, C] in
    /// ConvNeXt and Swin, [N, T, C] tokens in ViT); -1 for rank 0 and 1 (no channels).
    int channelDim = -1;
    /// Channels whose elements are all exactly 0 (over every batch item and position).
    std::int64_t deadChannels = 0;
    /// kStatisticsHistogramBins counts of equal width between min and max, torch.histc's rule
    /// (max falls in the last bin; a constant value, min == max, in the middle bin).
    std::vector<std::int64_t> histogram;
};

/// Result of one statistics run.
struct StatisticsRun {
    std::vector<NodeStatistics> nodes; ///< every tensor-valued named node, in execution order
    /// Tensor-valued nodes inside a loop or data-dependent branch: they have no single value.
    std::vector<std::string> skipped;
};

/// A model prepared for statistics runs: named and instrumented once, then run on any number of
/// inputs. A new TorchScript graph pays its executor's set-up on its first run (here one to a few
/// warm forwards' time, as a freshly loaded model's first forward does); later runs only pay for
/// the summaries.
class NodeStatisticsRecorder {
public:
    /// Names `module`'s graph in `mode` and inserts the recorders (see core/src/InsertNodeRecorders.h).
    /// The module's submodules are switched to `mode` and shared, not copied.
    NodeStatisticsRecorder(const torch::jit::Module& module, Mode mode, const FeatureExtractionOptions& options = {});
    ~NodeStatisticsRecorder();
    NodeStatisticsRecorder(NodeStatisticsRecorder&&) noexcept;
    NodeStatisticsRecorder& operator=(NodeStatisticsRecorder&&) noexcept;

    /// One run on `inputs`, as computeNodeStatistics describes.
    StatisticsRun run(const std::vector<c10::IValue>& inputs, std::optional<InputSize> inputSize = std::nullopt);

private:
    struct Recording;
    std::unique_ptr<Recording> recording_;
};

/// Summarises one value as a statistics run does (`inputSize` helps read its layout; see channelDim).
NodeStatistics summarizeTensor(const torch::Tensor& value, std::optional<InputSize> inputSize = std::nullopt);

/// Runs `module` once in `mode` on `inputs` (without autograd) and summarises every tensor-valued
/// node of that mode's node list (getGraphNodeNames) right after it is computed: the value a
/// forward hook on that node would see, before later in-place ops. Each value is reduced and
/// released as the model runs (see core/src/InsertNodeRecorders.h). The module's submodules are
/// left in `mode`; a train-mode run updates batch-norm running statistics as a forward does.
/// `inputSize` is the input image's size, for reading node layouts. Throws c10::Error when the
/// model fails on the inputs. For several inputs, a NodeStatisticsRecorder prepares the model once.
StatisticsRun computeNodeStatistics(const torch::jit::Module& module, Mode mode, const std::vector<c10::IValue>& inputs,
                                    const FeatureExtractionOptions& options = {},
                                    std::optional<InputSize> inputSize = std::nullopt);

} // namespace featscope
