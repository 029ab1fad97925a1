#include <featscope/NodeStatistics.h>

#include "InsertNodeRecorders.h"
#include "RealValues.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <tuple>

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

// Min, max and dead channels together: each channel's extremes, then theirs. A channel is dead
// when its largest and smallest elements are 0 (NaN is neither).
void measureRange(const torch::Tensor& contiguous, int channelDim, NodeStatistics& statistics)
{
    torch::Tensor minima, maxima;
    if (channelDim < 0) {
        std::tie(minima, maxima) = at::aminmax(contiguous);
    } else {
        const std::int64_t channels = contiguous.size(channelDim);
        std::int64_t outer = 1;
        for (int dim = 0; dim < channelDim; ++dim)
            outer *= contiguous.size(dim);
        const std::int64_t inner = contiguous.numel() / (outer * channels);
        // Two vectorised reductions over the positions of each channel; aminmax over a dimension is
        // not vectorised and takes longer than both.
        // Channels last (inner == 1): one reduction over the rows.
        const torch::Tensor rows = contiguous.view({outer, channels, inner});
        minima = inner == 1 ? rows.select(2, 0).amin(0) : rows.amin(2).amin(0);
        maxima = inner == 1 ? rows.select(2, 0).amax(0) : rows.amax(2).amax(0);
        statistics.deadChannels = minima.eq(0).logical_and_(maxima.eq(0)).sum().item<std::int64_t>();
    }
    statistics.min = minima.min().item<double>();
    statistics.max = maxima.max().item<double>();
}

// Elements per chunk of the two passes below. Partial results are per chunk, not per thread, so
// the statistics do not depend on the thread count. Values under kParallelChunks chunks are
// summed on the calling thread: waking the pool costs more than it saves on them (a ViT token
// sequence, 151k elements, takes about 0.3 ms on one thread).
constexpr std::int64_t kChunk = 1 << 16;
constexpr std::int64_t kParallelChunks = 16;

template <typename Chunk, typename Visit>
std::vector<Chunk> overChunks(std::int64_t count, const Visit& visit)
{
    std::vector<Chunk> chunks(std::size_t((count + kChunk - 1) / kChunk));
    at::parallel_for(0, std::int64_t(chunks.size()), kParallelChunks, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t chunk = begin; chunk < end; ++chunk)
            visit(chunk * kChunk, std::min(count, (chunk + 1) * kChunk), chunks[std::size_t(chunk)]);
    });
    return chunks;
}

// Mean, std, zeros and histogram in two passes over the value (sum and zeros, then the centred
// squares and the bins), in double precision: one ATen call per statistic (std_mean, count_nonzero,
// histc) costs each about as much as both passes together. Needs min and max already set.
template <typename Scalar>
void accumulateMoments(const Scalar* data, std::int64_t count, NodeStatistics& statistics)
{
    struct Sums {
        double sum = 0.0;
        std::int64_t zeros = 0;
    };
    double sum = 0.0;
    std::int64_t zeros = 0;
    for (const Sums& chunk : overChunks<Sums>(count, [&](std::int64_t begin, std::int64_t end, Sums& out) {
             // Four independent sums, so consecutive additions do not wait on each other.
             double sums[4] = {};
             std::int64_t chunkZeros = 0;
             std::int64_t i = begin;
             for (; i + 4 <= end; i += 4)
                 for (int lane = 0; lane < 4; ++lane) {
                     sums[lane] += double(data[i + lane]);
                     chunkZeros += data[i + lane] == Scalar(0);
                 }
             for (; i < end; ++i) {
                 sums[0] += double(data[i]);
                 chunkZeros += data[i] == Scalar(0);
             }
             const double chunkSum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
             out = {chunkSum, chunkZeros};
         })) {
        sum += chunk.sum;
        zeros += chunk.zeros;
    }
    statistics.mean = sum / double(count);
    statistics.zeros = double(zeros) / double(count);

    // torch.histc's bins: (x - min) / (max - min) * bins, max in the last bin; a constant value in the middle one.
    const double minimum = statistics.min, mean = statistics.mean;
    const bool binned = std::isfinite(statistics.min) && std::isfinite(statistics.max);
    const bool constant = statistics.min == statistics.max;
    const double scale = constant ? 0.0 : kStatisticsHistogramBins / (statistics.max - statistics.min);
    struct Spread {
        double squares = 0.0;
        std::array<std::int64_t, kStatisticsHistogramBins> bins{};
    };
    double squares = 0.0;
    for (const Spread& chunk : overChunks<Spread>(count, [&](std::int64_t begin, std::int64_t end, Spread& out) {
             // Four lanes of sums and bins: runs of equal bins (a ReLU's zeros) would otherwise wait
             // on each increment of one counter.
             std::int64_t bins[4][kStatisticsHistogramBins] = {};
             double squares[4] = {};
             const auto visit = [&](std::int64_t i, int lane) {
                 const double value = double(data[i]);
                 squares[lane] += (value - mean) * (value - mean);
                 if (binned)
                     ++bins[lane][constant ? kStatisticsHistogramBins / 2
                                           : std::min<std::int64_t>(std::int64_t((value - minimum) * scale),
                                                                    kStatisticsHistogramBins - 1)];
             };
             std::int64_t i = begin;
             for (; i + 4 <= end; i += 4)
                 for (int lane = 0; lane < 4; ++lane)
                     visit(i + lane, lane);
             for (; i < end; ++i)
                 visit(i, 0);
             const double chunkSquares = (squares[0] + squares[1]) + (squares[2] + squares[3]);
             out.squares = chunkSquares;
             for (int bin = 0; bin < kStatisticsHistogramBins; ++bin)
                 out.bins[std::size_t(bin)] = bins[0][bin] + bins[1][bin] + bins[2][bin] + bins[3][bin];
         })) {
        squares += chunk.squares;
        for (int bin = 0; bin < kStatisticsHistogramBins; ++bin)
            statistics.histogram[std::size_t(bin)] += chunk.bins[std::size_t(bin)];
    }
    statistics.std = std::sqrt(squares / double(count));
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
    const torch::Tensor contiguous = values.contiguous();
    measureRange(contiguous, statistics.channelDim, statistics);
    AT_DISPATCH_FLOATING_TYPES(contiguous.scalar_type(), "summarizeTensor", [&] {
        accumulateMoments(contiguous.data_ptr<scalar_t>(), count, statistics);
    });
    return statistics;
}

struct NodeStatisticsRecorder::Recording {
    RecordingModule module;
};

NodeStatisticsRecorder::NodeStatisticsRecorder(const torch::jit::Module& module, Mode mode,
                                               const FeatureExtractionOptions& options)
    : recording_(std::make_unique<Recording>(Recording{createRecordingModule(module, mode, options)}))
{
}

NodeStatisticsRecorder::~NodeStatisticsRecorder() = default;
NodeStatisticsRecorder::NodeStatisticsRecorder(NodeStatisticsRecorder&&) noexcept = default;
NodeStatisticsRecorder& NodeStatisticsRecorder::operator=(NodeStatisticsRecorder&&) noexcept = default;

StatisticsRun NodeStatisticsRecorder::run(const std::vector<c10::IValue>& inputs, std::optional<InputSize> inputSize)
{
    StatisticsSink sink(recording_->module.nodes.recorded, inputSize);
    runRecording(recording_->module, inputs, sink);
    return {std::move(sink.nodes), recording_->module.nodes.skipped};
}

StatisticsRun computeNodeStatistics(const torch::jit::Module& module, Mode mode, const std::vector<c10::IValue>& inputs,
                                    const FeatureExtractionOptions& options, std::optional<InputSize> inputSize)
{
    return NodeStatisticsRecorder(module, mode, options).run(inputs, inputSize);
}

} // namespace featscope
