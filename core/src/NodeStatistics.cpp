#include <featscope/NodeStatistics.h>

#include "InsertNodeRecorders.h"
#include "RealValues.h"

#include <cmath>
#include <limits>

namespace featscope {
namespace {

int channelDimension(const std::vector<std::int64_t>& shape, std::optional<InputSize> inputSize)
{
    const int rank = int(shape.size());
    if (rank < 2)
        return -1;
    const TensorLayoutKind kind = detectTensorLayout(shape, inputSize).kind;
    return kind == TensorLayoutKind::Nhwc || kind == TensorLayoutKind::Tokens ? rank - 1 : 1;
}

std::int64_t countDeadChannels(const torch::Tensor& values, int channelDim)
{
    if (channelDim < 0 || values.size(channelDim) == 0)
        return 0;
    std::vector<std::int64_t> others;
    for (std::int64_t dim = 0; dim < values.dim(); ++dim)
        if (dim != channelDim)
            others.push_back(dim);
    // Every element 0 exactly when the largest and the smallest are 0 (NaN is neither).
    const torch::Tensor dead = values.amax(others).eq(0).logical_and_(values.amin(others).eq(0));
    return dead.sum().item<std::int64_t>();
}

class StatisticsSink : public NodeValueSink {
public:
    StatisticsSink(const std::vector<std::string>& names, std::optional<InputSize> inputSize)
        : names_(names), inputSize_(inputSize)
    {
        nodes.reserve(names.size());
    }

    void record(std::size_t node, const at::Tensor& value) override
    {
        if (node >= names_.size())
            return;
        NodeStatistics statistics = summarizeTensor(value, inputSize_);
        statistics.name = names_[node];
        nodes.push_back(std::move(statistics));
    }

    std::vector<NodeStatistics> nodes;

private:
    const std::vector<std::string>& names_;
    std::optional<InputSize> inputSize_;
};

} // namespace

torch::Tensor realFloatingValues(const torch::Tensor& value)
{
    torch::Tensor real = value.detach();
    if (real.is_quantized())
        real = real.dequantize();
    if (real.is_complex())
        real = real.abs();
    const auto type = real.scalar_type();
    if (type == torch::kFloat || type == torch::kDouble)
        return real;
    return real.to(real.is_floating_point() ? torch::kFloat : torch::kDouble);
}

NodeStatistics summarizeTensor(const torch::Tensor& value, std::optional<InputSize> inputSize)
{
    NodeStatistics statistics;
    statistics.shape = value.sizes().vec();
    statistics.channelDim = channelDimension(statistics.shape, inputSize);
    statistics.histogram.assign(kStatisticsHistogramBins, 0);
    const torch::Tensor values = realFloatingValues(value);
    const std::int64_t count = values.numel();
    if (count == 0) {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        statistics.min = statistics.max = statistics.mean = statistics.std = nan;
        return statistics;
    }
    const auto [minimum, maximum] = at::aminmax(values);
    statistics.min = minimum.item<double>();
    statistics.max = maximum.item<double>();
    const auto [deviation, mean] = at::std_mean(values, /*unbiased=*/false);
    statistics.std = deviation.item<double>();
    statistics.mean = mean.item<double>();
    statistics.zeros = double(count - at::count_nonzero(values).item<std::int64_t>()) / double(count);
    statistics.deadChannels = countDeadChannels(values, statistics.channelDim);
    if (std::isfinite(statistics.min) && std::isfinite(statistics.max)) {
        const torch::Tensor counts = at::histc(values, kStatisticsHistogramBins, statistics.min, statistics.max)
                                         .to(torch::kLong);
        const std::int64_t* bins = counts.data_ptr<std::int64_t>();
        statistics.histogram.assign(bins, bins + kStatisticsHistogramBins);
    }
    return statistics;
}

StatisticsRun computeNodeStatistics(const torch::jit::Module& module, Mode mode, const std::vector<c10::IValue>& inputs,
                                    const FeatureExtractionOptions& options, std::optional<InputSize> inputSize)
{
    RecordingModule recording = createRecordingModule(module, mode, options);
    StatisticsSink sink(recording.nodes.recorded, inputSize);
    runRecording(recording, inputs, sink);
    return {std::move(sink.nodes), std::move(recording.nodes.skipped)};
}

} // namespace featscope
