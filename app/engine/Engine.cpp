#include "Engine.h"

#include <featscope/Cancellation.h>
#include <featscope/Errors.h>
#include <featscope/GradientCam.h>
#include <featscope/ImageInputs.h>
#include <featscope/ModelDiff.h>
#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>
#include <featscope/ProcessLimits.h>
#include <featscope/ReturnNodeValidation.h>
#include <featscope/Runtime.h>
#include <featscope/UnsafeOps.h>
#include <featscope/ValueLeaves.h>
#include <featscope/imaging/ImageLoading.h>
#include <featscope/imaging/Preprocessing.h>
#include <featscope/protocol/ErrorKind.h>
#include <featscope/protocol/GraphJson.h>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <set>

using featscope::Mode;
using featscope::protocol::ErrorKind;

namespace {

QString errorType(ErrorKind kind) { return featscope::protocol::toString(kind); }

QString qs(const std::string& s) { return QString::fromStdString(s); }

QJsonArray toJson(const std::vector<std::string>& values)
{
    QJsonArray a;
    for (const auto& v : values)
        a.append(qs(v));
    return a;
}

QJsonArray toJson(const std::vector<int64_t>& values)
{
    QJsonArray a;
    for (auto v : values)
        a.append(double(v));
    return a;
}

std::string lastLine(const std::string& text)
{
    std::size_t end = text.find_last_not_of("\n ");
    if (end == std::string::npos)
        return text;
    const std::size_t start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

std::string shapeText(const torch::Tensor& tensor)
{
    std::string text;
    for (int64_t size : tensor.sizes())
        text += (text.empty() ? "" : "x") + std::to_string(size);
    return text;
}

std::string serialise(const featscope::ReturnNodes& nodes)
{
    std::string out;
    for (const auto& n : nodes)
        out += n.node + '\x1f' + n.key + '\x1e';
    return out;
}

std::string className(const torch::jit::Module& module)
{
    auto name = module.type()->name();
    if (!name)
        return "";
    std::string q = name->qualifiedName();
    // Drop TorchScript's "__torch__." prefix and mangling ("___torch_mangle_3.") for display.
    const std::string prefix = "__torch__.";
    if (q.rfind(prefix, 0) == 0)
        q = q.substr(prefix.size());
    for (;;) {
        const auto pos = q.find("___torch_mangle_");
        if (pos == std::string::npos)
            break;
        const auto end = q.find('.', pos);
        q.erase(pos, end == std::string::npos ? std::string::npos : end - pos + 1);
    }
    return q;
}

} // namespace

const std::vector<std::string>& Engine::names(Mode mode) const
{
    return mode == Mode::Train ? names_.train : names_.eval;
}

void Engine::requireModel() const
{
    if (!module_)
        throw featscope::Error("No model is loaded; send a \"load\" request first.");
}

featscope::protocol::Frame Engine::handle(const QJsonObject& request)
{
    const QJsonValue id = request.value(QStringLiteral("id"));
    const QString cmd = request.value(QStringLiteral("cmd")).toString();
    featscope::protocol::Frame frame;
    QJsonObject& response = frame.header;
    try {
        if (cmd == QLatin1String("hello"))
            response = QJsonObject{{QStringLiteral("protocol"), 1},
                                   {QStringLiteral("engine"), QStringLiteral("featscope-engine")},
                                   {QStringLiteral("addressSpaceCaps"), featscope::addressSpaceCapsSupported()},
                                   {QStringLiteral("threads"), featscope::intraOpThreads()},
                                   {QStringLiteral("availableCores"), featscope::availableCores()},
                                   {QStringLiteral("blas"), qs(featscope::describeBlas())},
                                   {QStringLiteral("profilingExecutor"), bool(torch::jit::getProfilingMode())},
                                   {QStringLiteral("graphOptimization"), torch::jit::getGraphExecutorOptimize()}};
        else if (cmd == QLatin1String("load"))
            response = load(request);
        else if (cmd == QLatin1String("run") || cmd == QLatin1String("export") || cmd == QLatin1String("cam")
                 || cmd == QLatin1String("stats") || cmd == QLatin1String("diff") || cmd == QLatin1String("receptive"))
            frame = runCapped(request);
        else
            throw featscope::Error("Unknown request '" + cmd.toStdString()
                                   + "'; the engine understands hello, load, run, cam, stats, diff, receptive, export and quit.");
        response.insert(QStringLiteral("ok"), true);
    } catch (const featscope::OutOfMemoryError& e) {
        response = QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Memory)}};
    } catch (const featscope::UnknownNodeError& e) {
        response = QJsonObject{{QStringLiteral("ok"), false},
                               {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::UnknownNode)},
                               {QStringLiteral("suggestions"), toJson(e.suggestions())}};
    } catch (const featscope::CancelledError& e) {
        response = QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Cancelled)}};
    } catch (const featscope::Error& e) {
        response = QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Error)}};
    } catch (const c10::Error& e) {
        const bool memory = featscope::isOutOfMemoryMessage(e.what_without_backtrace());
        response = QJsonObject{{QStringLiteral("ok"), false},
                               {QStringLiteral("error"), memory ? QStringLiteral("The engine ran out of memory (its memory cap was reached).")
                                                                : qs(std::string("LibTorch: ") + e.what_without_backtrace())},
                               {QStringLiteral("errorType"), errorType(memory ? ErrorKind::Memory : ErrorKind::Torch)}};
    } catch (const std::bad_alloc&) {
        response = QJsonObject{{QStringLiteral("ok"), false},
                               {QStringLiteral("error"), QStringLiteral("The engine ran out of memory (its memory cap was reached).")},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Memory)}};
    } catch (const std::exception& e) {
        response = QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Internal)}};
    }
    if (!response.value(QStringLiteral("ok")).toBool())
        frame.payload.clear(); // a failure carries no tensors
    response.insert(QStringLiteral("id"), id);
    return frame;
}

QJsonObject Engine::load(const QJsonObject& request)
{
    QElapsedTimer timer;
    timer.start();
    const featscope::protocol::LoadRequest load = featscope::protocol::LoadRequest::fromJson(request);
    const std::string path = QFileInfo(load.path).absoluteFilePath().toStdString();
    featscope::FeatureExtractionOptions extraction;
    for (const QString& name : load.leafModules)
        extraction.leafModules.push_back(name.toStdString());
    for (const QString& name : load.leafFunctions)
        extraction.leafFunctions.push_back(name.toStdString());
    // Before the model: its ops must be known to read it. Loading runs the library's code; the request is the
    // user's word that it is trusted (the inspector says so where the libraries are chosen).
    for (const QString& library : load.opsLibraries)
        featscope::loadOpsLibrary(QFileInfo(library).absoluteFilePath().toStdString(), "chosen in the inspector");

    // The previous model stays loaded until the new one has loaded and been described.
    const featscope::LoadLimits limits = featscope::effectiveLoadLimits(path, options_.loadLimits);
    const featscope::ScopedAddressSpaceCap memoryCap(limits.memoryBytes);
    // With no model to lose, the caller may let this process read the file alone (one read instead of two).
    const bool sandboxedRead = !(load.readInEngine && !module_);
    featscope::LoadedModule loaded = sandboxedRead ? featscope::loadModuleWithMetadata(path, limits)
                                                   : featscope::loadModuleInThisProcess(path, limits);
    torch::jit::Module module = std::move(loaded.module);
    module.eval();
    std::vector<featscope::UnsafeOp> unsafeOps = featscope::findUnsafeOps(module);
    // The model is named once, here: names, descriptions and every later extractor come from these named
    // graphs. Only when a mode cannot be named are the modes redone one by one, so that the other mode's
    // graph is still shown (and runs then name the model per request).
    std::optional<featscope::AnalysedModel> analysed;
    try {
        analysed.emplace(module, extraction);
    } catch (const featscope::Error&) {
    }
    featscope::GraphNodeNames names = analysed ? analysed->names() : featscope::getGraphNodeNames(module, extraction);

    QJsonObject graphs;
    featscope::GraphDescription descriptions[2];
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        featscope::protocol::ModeGraphMessage message;
        message.names = mode == Mode::Train ? names.train : names.eval;
        try {
            message.graph = analysed ? analysed->describe(mode) : featscope::describeGraph(module, mode, extraction);
        } catch (const featscope::Error& e) {
            message.error = qs(e.what());
        }
        graphs.insert(QString::fromLatin1(featscope::toString(mode)), featscope::protocol::toJson(message));
        descriptions[int(mode)] = std::move(message.graph);
    }

    int64_t parameters = 0;
    for (const auto& p : module.parameters(/*recurse=*/true))
        parameters += p.numel();
    QJsonArray inputs;
    const auto& schema = module.get_method("forward").function().getSchema();
    for (std::size_t i = 1; i < schema.arguments().size(); ++i)
        inputs.append(qs(schema.arguments()[i].name()));

    // Class of every submodule by path, for the GUI's module frames ("layer1.0" -> "...resnet.Bottleneck").
    QJsonObject moduleClasses;
    for (const auto& m : module.named_modules())
        moduleClasses.insert(qs(m.name), qs(className(m.value)));

    QJsonObject response{{QStringLiteral("file"), qs(path)},
                         {QStringLiteral("moduleClasses"), moduleClasses},
                         {QStringLiteral("className"), qs(className(module))},
                         {QStringLiteral("parameterCount"), double(parameters)},
                         {QStringLiteral("inputs"), inputs},
                         {QStringLiteral("graphs"), graphs}};
    if (names.warning)
        response.insert(QStringLiteral("warning"), qs(*names.warning));
    QJsonArray unsafe;
    for (const featscope::UnsafeOp& op : unsafeOps)
        unsafe.append(qs(op.op + " (" + op.reason + ", in " + op.method + ")"));
    response.insert(QStringLiteral("unsafeOps"), unsafe);
    response.insert(QStringLiteral("sandboxedRead"), sandboxedRead);
    QJsonArray opsLibraries;
    for (const featscope::OpsLibrary& library : featscope::loadedOpsLibraries())
        opsLibraries.append(qs(library.path + " (" + library.reason + ", " + std::to_string(library.ops.size()) + " ops)"));
    response.insert(QStringLiteral("opsLibraries"), opsLibraries);
    // A malformed featscope.json fails the load, naming the file, as in featscope-cli: silently
    // running with other preprocessing than the model's author wrote would show wrong heatmaps.
    if (const std::optional<QJsonObject> metadata = featscope::imaging::parseModelMetadata(loaded.metadata, path)) {
        response.insert(QStringLiteral("preprocessing"),
                        featscope::imaging::Preprocessing::fromModelMetadata(*metadata, path).toRequest());
        response.insert(QStringLiteral("metadata"), *metadata);
    }
    extractor_.reset();
    extractorKey_.clear();
    camModule_.reset();
    camNode_.clear();
    for (auto& recorder : statisticsRecorders_)
        recorder.reset();
    module_ = std::move(module);
    names_ = std::move(names);
    analysed_ = std::move(analysed);
    descriptions_[0] = std::move(descriptions[0]);
    descriptions_[1] = std::move(descriptions[1]);
    path_ = path;
    unsafeOps_ = std::move(unsafeOps);
    extractionOptions_ = extraction;
    response.insert(QStringLiteral("elapsedMs"), double(timer.elapsed()));
    return response;
}

torch::jit::Module Engine::createExtractor(const featscope::ReturnNodes& train, const featscope::ReturnNodes& eval) const
{
    return analysed_ ? analysed_->createFeatureExtractor(train, eval)
                     : featscope::createFeatureExtractor(*module_, train, eval, extractionOptions_);
}

torch::jit::Module& Engine::extractorFor(const featscope::ReturnNodes& train, const featscope::ReturnNodes& eval)
{
    const std::string key = serialise(train) + '\x1d' + serialise(eval);
    if (!extractor_ || key != extractorKey_) {
        extractor_.reset();
        extractor_ = createExtractor(train, eval);
        // Runs only (an export builds its own): a cancel then stops the forward at its next op.
        featscope::insertCancellationPoints(*extractor_);
        extractorKey_ = key;
    }
    return *extractor_;
}

// Runs and exports may add at most options_.runMemoryBytes of address space; hitting the cap is reported
// as such, naming the model, instead of as LibTorch's allocator message.
featscope::protocol::Frame Engine::runCapped(const QJsonObject& request)
{
    const featscope::ScopedAddressSpaceCap memoryCap(options_.runMemoryBytes);
    const QString cmd = request.value(QStringLiteral("cmd")).toString();
    const bool isRun = cmd != QLatin1String("export");
    auto outOfMemory = [&] {
        return featscope::OutOfMemoryError(
            std::string(isRun ? "Running '" : "Exporting the extractor of '") + path_ + "' needed more than the engine's "
            + std::to_string(options_.runMemoryBytes >> 20) + " MB run memory cap, so it was stopped. "
            + (isRun ? "Use a smaller input size, or raise" : "Raise") + " the cap with FEATSCOPE_RUN_MEMORY_MB (featscope-engine --run-memory-mb).");
    };
    try {
        if (cmd == QLatin1String("cam"))
            return cam(featscope::protocol::CamRequest::fromJson(request));
        if (cmd == QLatin1String("stats"))
            return featscope::protocol::Frame{statistics(request), {}};
        if (cmd == QLatin1String("diff"))
            return featscope::protocol::Frame{diff(request), {}};
        if (cmd == QLatin1String("receptive"))
            return featscope::protocol::Frame{receptiveRegion(request), {}};
        if (isRun)
            return run(featscope::protocol::RunRequest::fromJson(request));
        return featscope::protocol::Frame{exportExtractor(featscope::protocol::ExportRequest::fromJson(request)), {}};
    } catch (const featscope::Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        if (options_.runMemoryBytes)
            throw outOfMemory();
        throw;
    } catch (const std::exception& e) {
        // LibTorch reports a failed allocation as c10::Error, or as a JITException inside TorchScript code.
        if (options_.runMemoryBytes && featscope::isOutOfMemoryMessage(e.what()))
            throw outOfMemory();
        throw;
    }
}

featscope::protocol::Frame Engine::run(const featscope::protocol::RunRequest& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const Mode mode = request.mode;
    const featscope::ReturnNodes& nodes = request.returnNodes;
    if (nodes.empty())
        throw featscope::Error("No return nodes chosen; tick at least one node.");
    // Bad entries are refused before any work. (Without a description of this mode, the extractor's own
    // check decides.)
    if (!descriptions_[int(mode)].nodes.empty())
        featscope::requireValidReturnNodes(descriptions_[int(mode)], nodes);
    requireUnsafeOpsAllowed(request.allowUnsafeOps);

    // Every check below stops the run once the request is cancelled; the model stays loaded.
    std::optional<featscope::ScopedCancellationFlag> cancellation;
    if (options_.cancel)
        cancellation.emplace(*options_.cancel);
    // Test aid (--debug-run-delay-ms): a wait that a cancel ends, as it ends a forward.
    QElapsedTimer delay;
    delay.start();
    while (delay.elapsed() < options_.debugRunDelayMs) {
        featscope::throwIfCancelled();
        QThread::msleep(5);
    }

    // The extractor takes the model's arguments: say which one an image cannot fill before any work.
    const std::string image = request.image.toStdString();
    const featscope::ImageInputs imageInputs = [&] {
        try {
            return featscope::ImageInputs(module_->get_method("forward").function().getSchema());
        } catch (const featscope::Error& e) {
            throw featscope::Error("Cannot run '" + path_ + "' on an image: " + e.what());
        }
    }();
    // [1, C, H, W]: the batch the response's inputShape and messages describe.
    torch::Tensor input = featscope::imaging::loadImage(image, request.preprocessing).unsqueeze(0);
    // The extractor needs a valid selection in both modes; the other mode keeps what resolves there.
    const Mode other = mode == Mode::Train ? Mode::Eval : Mode::Train;
    featscope::ReturnNodes otherNodes;
    const std::vector<featscope::ReturnNodeCheck> otherVerdicts =
        featscope::checkReturnNodes(descriptions_[int(other)], nodes);
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (descriptions_[int(other)].nodes.empty() ? featscope::resolveNodeName(names(other), nodes[i].node).has_value()
                                                    : otherVerdicts[i].ok())
            otherNodes.push_back(nodes[i]);
    if (otherNodes.empty() && !names(other).empty())
        otherNodes.push_back({names(other).back(), names(other).back()});
    torch::jit::Module& extractor =
        mode == Mode::Train ? extractorFor(nodes, otherNodes) : extractorFor(otherNodes, nodes);
    if (mode == Mode::Train)
        extractor.train();
    else
        extractor.eval();
    torch::NoGradGuard noGrad;
    torch::IValue result;
    try {
        featscope::throwIfCancelled();
        result = extractor.forward(imageInputs({input[0]}));
    } catch (const std::exception& e) {
        // The interpreter reports the cancellation point's exception as its own error.
        featscope::throwIfCancelled();
        if (featscope::isOutOfMemoryMessage(e.what()))
            throw std::bad_alloc();
        std::string reason = lastLine(e.what());
        if (!reason.empty() && reason.back() != '.')
            reason += '.';
        throw featscope::Error("Running '" + path_ + "' on '" + image + "' (its input '" + imageInputs.imageArgument()
                               + "' got " + shapeText(input) + ") failed: " + reason
                               + " Check that the preprocessing (channels, size, normalisation) is what the model expects.");
    }
    if (!result.isGenericDict())
        throw featscope::Error("The extractor did not return a dict.");

    // The values travel after the response line (docs/engine-protocol.md, "Framing"): each tensor is
    // converted straight into the bytes that are sent, with no file in between. A node whose value holds
    // several tensors (an FPN's dict of levels) sends each as its own output; what is no tensor goes as text.
    featscope::protocol::RunResult answer;
    answer.mode = mode;
    qint64 payloadBytes = 0;
    for (const auto& item : result.toGenericDict()) {
        const std::string key = item.key().toStringRef();
        QString node = qs(key);
        for (const auto& n : nodes)
            if (n.key == key) {
                node = qs(featscope::resolveNodeName(names(mode), n.node).value_or(n.node));
                break;
            }
        for (const featscope::ValueLeaf& leaf : featscope::splitValue(item.value())) {
            if (!leaf.tensor) {
                answer.textOutputs.append({qs(key + leaf.path), node, qs(leaf.path), qs(leaf.type), qs(leaf.text)});
                continue;
            }
            const torch::Tensor t = leaf.tensor->detach();
            featscope::protocol::TensorOutput output;
            output.key = qs(key + leaf.path);
            output.node = node;
            output.path = qs(leaf.path);
            for (int64_t size : t.sizes())
                output.shape.append(size);
            payloadBytes += t.numel() * qint64(sizeof(float));
            if (payloadBytes > featscope::protocol::FrameLimits{}.maxPayloadBytes
                || answer.outputs.size() >= featscope::protocol::FrameLimits{}.maxPayloadParts)
                throw featscope::Error("The outputs of '" + path_ + "' need more than "
                                       + std::to_string(featscope::protocol::FrameLimits{}.maxPayloadBytes >> 30) + " GiB or "
                                       + std::to_string(featscope::protocol::FrameLimits{}.maxPayloadParts)
                                       + " tensors, more than a run may send; choose fewer or smaller return nodes, or a smaller input size.");
            output.values = QByteArray(qsizetype(t.numel() * qint64(sizeof(float))), Qt::Uninitialized);
            const torch::Tensor values = torch::from_blob(output.values.data(), t.sizes(), torch::kFloat32);
            values.copy_(t); // to CPU, float32 and C order in one copy
            if (t.numel() > 0) {
                output.min = values.min().item<double>();
                output.max = values.max().item<double>();
                output.mean = values.mean().item<double>();
                output.std = t.numel() > 1 ? values.std(/*unbiased=*/false).item<double>() : 0.0;
            }
            answer.outputs.append(std::move(output));
        }
    }
    answer.inputShape = QVector<qint64>(input.sizes().begin(), input.sizes().end());
    answer.elapsedMs = double(timer.elapsed());
    return answer.toFrame();
}

// Grad-CAM and its relatives at one node, for the inspector's input view: the map travels inline (a grid of at
// most a few thousand numbers), with the model's top classes.
featscope::protocol::Frame Engine::cam(const featscope::protocol::CamRequest& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const std::string node = request.node.toStdString();
    if (node.empty())
        throw featscope::Error("A cam request needs the \"node\" to explain the model's answer at.");
    requireUnsafeOpsAllowed(request.allowUnsafeOps);
    featscope::CamRequest camRequest;
    const std::string method = request.method.toStdString();
    const auto parsedMethod = featscope::parseCamMethod(method);
    if (!parsedMethod)
        throw featscope::Error("Unknown CAM method '" + method + "'; use gradcam, gradcam++ or gradxact.");
    camRequest.method = *parsedMethod;
    if (request.classIndex >= 0)
        camRequest.classIndex = std::int64_t(request.classIndex);
    const std::string layout = request.layout.toStdString();
    if (!layout.empty()) {
        camRequest.layout = featscope::parseSpatialLayout(layout);
        if (!camRequest.layout)
            throw featscope::Error("\"layout\" must be nchw, nhwc or tokens, not '" + layout + "'.");
    }
    const torch::Tensor input = featscope::imaging::loadImage(request.image.toStdString(), request.preprocessing);
    camRequest.inputSize = featscope::InputSize{input.size(1), input.size(2)};
    const featscope::ImageInputs imageInputs(module_->get_method("forward").function().getSchema());
    const std::string resolved = featscope::resolveNodeName(names(Mode::Eval), node).value_or(node);
    const featscope::CamResult result = featscope::computeCam(gradientModuleFor(resolved), imageInputs({input}), camRequest);

    // The map travels as the answer's payload (docs/engine-protocol.md, "Framing"), as a run's tensors do.
    featscope::protocol::CamResult answer;
    const torch::Tensor map = result.map.to(torch::kFloat32).contiguous();
    answer.map = QByteArray(reinterpret_cast<const char*>(map.data_ptr<float>()), qsizetype(map.numel() * qint64(sizeof(float))));
    answer.height = int(map.size(0));
    answer.width = int(map.size(1));
    const torch::Tensor scores = result.scores.to(torch::kFloat32);
    const torch::Tensor shares = torch::softmax(scores, 0);
    const auto top = torch::topk(scores, std::min<std::int64_t>(5, scores.numel()));
    for (std::int64_t i = 0; i < std::get<1>(top).numel(); ++i) {
        const std::int64_t index = std::get<1>(top)[i].item<std::int64_t>();
        answer.top.append({index, scores[index].item<double>(), shares[index].item<double>()});
    }
    answer.node = qs(resolved);
    answer.method = QString::fromLatin1(featscope::toString(camRequest.method));
    answer.classIndex = result.classIndex;
    answer.layout = QString::fromLatin1(featscope::toString(result.layout.kind));
    answer.classTokenDropped = result.layout.classToken;
    const auto inputShape = input.unsqueeze(0).sizes();
    answer.inputShape = QVector<qint64>(inputShape.begin(), inputShape.end());
    answer.elapsedMs = double(timer.elapsed());
    return answer.toFrame();
}

torch::jit::Module& Engine::gradientModuleFor(const std::string& node)
{
    // Building the gradient module names the model again: keep it while the node stays the same.
    if (!camModule_ || camNode_ != node) {
        camModule_.reset();
        camModule_ = featscope::createNodeGradientModule(*module_, node, extractionOptions_);
        camNode_ = node;
    }
    return *camModule_;
}

// Where one cell of a node's map looks in the input: the input pixels its value depends on, found from the
// graph by autograd (the support of d cell / d input), for the inspector's Input dock. For convolutions and
// pools that is the receptive field the strides and kernels give, minus pixels that only reach the cell through
// units switched off on this image (a ReLU at zero passes no gradient).
QJsonObject Engine::receptiveRegion(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    requireUnsafeOpsAllowed(request.value(QStringLiteral("allowUnsafeOps")).toBool());
    const std::string node = featscope::resolveNodeName(names(Mode::Eval), request.value(QStringLiteral("node")).toString().toStdString())
                                 .value_or(request.value(QStringLiteral("node")).toString().toStdString());
    const int x = request.value(QStringLiteral("x")).toInt(-1), y = request.value(QStringLiteral("y")).toInt(-1);
    const auto preprocessing =
        featscope::imaging::Preprocessing::fromRequest(request.value(QStringLiteral("preprocessing")).toObject());
    const torch::Tensor input = featscope::imaging::loadImage(request.value(QStringLiteral("image")).toString().toStdString(), preprocessing);
    const featscope::ImageInputs imageInputs(module_->get_method("forward").function().getSchema());
    const torch::Tensor leaf = input.clone().requires_grad_(true);
    torch::AutoGradMode gradients(true);
    const c10::IValue result = gradientModuleFor(node).forward(imageInputs({leaf}));
    const torch::Tensor value = result.toGenericDict().at(featscope::kGradientActivationKey).toTensor();
    std::vector<std::int64_t> shape = value.sizes().vec();
    const featscope::InputSize inputSize{input.size(1), input.size(2)};
    const std::string layoutName = request.value(QStringLiteral("layout")).toString().toStdString();
    std::string layoutError;
    const featscope::TensorLayout layout = layoutName.empty()
        ? featscope::detectTensorLayout(shape, inputSize)
        : featscope::applyTensorLayout(shape, featscope::parseSpatialLayout(layoutName).value_or(featscope::TensorLayoutKind::Unknown),
                                       inputSize, &layoutError);
    if (!layout.isSpatial())
        throw featscope::Error("The value of '" + node + "' has no spatial grid to take a cell of.");
    if (x < 0 || y < 0 || x >= layout.width || y >= layout.height)
        throw featscope::Error("Cell (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the " + std::to_string(layout.height)
                               + " x " + std::to_string(layout.width) + " grid of '" + node + "'.");
    torch::Tensor cell;
    if (layout.kind == featscope::TensorLayoutKind::Nchw)
        cell = value[0].select(1, y).select(1, x);
    else if (layout.kind == featscope::TensorLayoutKind::Nhwc)
        cell = value[0][y][x];
    else
        cell = value[0][(layout.classToken ? 1 : 0) + std::int64_t(y) * layout.width + x];
    const torch::Tensor gradient = torch::autograd::grad({cell.sum()}, {leaf}, {}, false, false, true)[0];
    QJsonObject answer{{QStringLiteral("node"), qs(node)},
                       {QStringLiteral("inputHeight"), double(input.size(1))},
                       {QStringLiteral("inputWidth"), double(input.size(2))}};
    const torch::Tensor reached = gradient.defined() ? (gradient.abs().sum(0) > 0) : torch::zeros({input.size(1), input.size(2)}, torch::kBool);
    const torch::Tensor rows = reached.any(1).nonzero(), columns = reached.any(0).nonzero();
    const bool found = rows.numel() > 0 && columns.numel() > 0;
    answer.insert(QStringLiteral("found"), found);
    if (found) {
        answer.insert(QStringLiteral("top"), double(rows.min().item<std::int64_t>()));
        answer.insert(QStringLiteral("bottom"), double(rows.max().item<std::int64_t>() + 1));
        answer.insert(QStringLiteral("left"), double(columns.min().item<std::int64_t>()));
        answer.insert(QStringLiteral("right"), double(columns.max().item<std::int64_t>() + 1));
    }
    answer.insert(QStringLiteral("elapsedMs"), double(timer.elapsed()));
    return answer;
}

// What flows through every node (issue 15): one run summarising each tensor-valued node as it is computed,
// without keeping the tensors; a few numbers and 16 bins per node, so the answer travels inline.
QJsonObject Engine::statistics(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const Mode mode = featscope::protocol::modeFromJson(request.value(QStringLiteral("mode")));
    requireUnsafeOpsAllowed(request.value(QStringLiteral("allowUnsafeOps")).toBool());
    const auto preprocessing =
        featscope::imaging::Preprocessing::fromRequest(request.value(QStringLiteral("preprocessing")).toObject());
    const std::string image = request.value(QStringLiteral("image")).toString().toStdString();
    const torch::Tensor input = featscope::imaging::loadImage(image, preprocessing);
    const featscope::ImageInputs imageInputs(module_->get_method("forward").function().getSchema());
    std::optional<featscope::NodeStatisticsRecorder>& recorder = statisticsRecorders_[int(mode)];
    if (!recorder)
        recorder.emplace(*module_, mode, extractionOptions_);
    const featscope::StatisticsRun run =
        recorder->run(imageInputs({input}), featscope::InputSize{input.size(1), input.size(2)});
    // JSON has no NaN: a value without elements, or with non-finite ones, gets null there.
    auto number = [](double value) { return std::isfinite(value) ? QJsonValue(value) : QJsonValue(); };
    QJsonArray nodes;
    for (const featscope::NodeStatistics& node : run.nodes) {
        QJsonArray histogram;
        for (std::int64_t count : node.histogram)
            histogram.append(double(count));
        nodes.append(QJsonObject{{QStringLiteral("name"), qs(node.name)},
                                 {QStringLiteral("shape"), toJson(node.shape)},
                                 {QStringLiteral("min"), number(node.min)},
                                 {QStringLiteral("max"), number(node.max)},
                                 {QStringLiteral("mean"), number(node.mean)},
                                 {QStringLiteral("std"), number(node.std)},
                                 {QStringLiteral("zeros"), number(node.zeros)},
                                 {QStringLiteral("channelDim"), node.channelDim},
                                 {QStringLiteral("deadChannels"), double(node.deadChannels)},
                                 {QStringLiteral("histogram"), histogram}});
    }
    QJsonArray skipped;
    for (const std::string& name : run.skipped)
        skipped.append(qs(name));
    return QJsonObject{{QStringLiteral("mode"), QString::fromLatin1(featscope::toString(mode))},
                       {QStringLiteral("nodes"), nodes},
                       {QStringLiteral("skipped"), skipped},
                       {QStringLiteral("inputShape"), toJson(input.unsqueeze(0).sizes().vec())},
                       {QStringLiteral("elapsedMs"), double(timer.elapsed())}};
}

// A model whose code reaches outside it runs (or is exported) only when the request says the
// user allowed it; the GUI asks first.
// Two models on one image, node by node (issue 15): the loaded one (A) and another file (B), read through the
// same sandboxed reader as a load; B is dropped after the comparison.
QJsonObject Engine::diff(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const QString otherPath = request.value(QStringLiteral("path")).toString();
    if (otherPath.isEmpty())
        throw featscope::Error("A diff request needs the \"path\" of the model to compare with.");
    const std::string other = QFileInfo(otherPath).absoluteFilePath().toStdString();
    const Mode mode = featscope::protocol::modeFromJson(request.value(QStringLiteral("mode")));
    const bool allowUnsafeOps = request.value(QStringLiteral("allowUnsafeOps")).toBool();
    requireUnsafeOpsAllowed(allowUnsafeOps);
    featscope::DiffTolerance tolerance;
    tolerance.atol = request.value(QStringLiteral("atol")).toDouble(tolerance.atol);
    tolerance.rtol = request.value(QStringLiteral("rtol")).toDouble(tolerance.rtol);
    if (!(tolerance.atol >= 0) || !(tolerance.rtol >= 0))
        throw featscope::Error("\"atol\" and \"rtol\" must be numbers of 0 or more.");
    const auto preprocessing =
        featscope::imaging::Preprocessing::fromRequest(request.value(QStringLiteral("preprocessing")).toObject());
    const std::string image = request.value(QStringLiteral("image")).toString().toStdString();
    const torch::Tensor input = featscope::imaging::loadImage(image, preprocessing);

    const featscope::LoadLimits limits = featscope::effectiveLoadLimits(other, options_.loadLimits);
    torch::jit::Module b = featscope::loadModuleWithMetadata(other, limits).module;
    b.eval();
    // The user's consent was for the open model; a second file that reaches outside itself is refused.
    if (const std::vector<featscope::UnsafeOp> unsafe = featscope::findUnsafeOps(b); !unsafe.empty())
        throw featscope::Error(featscope::describeUnsafeOps(unsafe, other, "compare it with featscope-cli diff --allow-unsafe-ops"));
    const featscope::ImageInputs imageInputs(module_->get_method("forward").function().getSchema());
    const featscope::ModelDifference difference =
        featscope::compareModels(*module_, b, mode, imageInputs({input}), tolerance, extractionOptions_);

    auto number = [](double value) { return std::isfinite(value) ? QJsonValue(value) : QJsonValue(); };
    auto strings = [](const std::vector<std::string>& values) {
        QJsonArray array;
        for (const std::string& v : values)
            array.append(qs(v));
        return array;
    };
    QJsonArray nodes;
    for (const featscope::NodeDifference& node : difference.nodes)
        nodes.append(QJsonObject{{QStringLiteral("name"), qs(node.name)},
                                 {QStringLiteral("shapeA"), toJson(node.shapeA)},
                                 {QStringLiteral("shapeB"), toJson(node.shapeB)},
                                 {QStringLiteral("maxAbs"), number(node.maxAbs)},
                                 {QStringLiteral("maxRel"), number(node.maxRel)},
                                 {QStringLiteral("divergent"), node.divergent}});
    return QJsonObject{{QStringLiteral("path"), qs(other)},
                       {QStringLiteral("mode"), QString::fromLatin1(featscope::toString(mode))},
                       {QStringLiteral("atol"), tolerance.atol},
                       {QStringLiteral("rtol"), tolerance.rtol},
                       {QStringLiteral("nodes"), nodes},
                       {QStringLiteral("firstDivergent"), difference.firstDivergent ? QJsonValue(qs(*difference.firstDivergent)) : QJsonValue()},
                       {QStringLiteral("onlyInA"), strings(difference.onlyInA)},
                       {QStringLiteral("onlyInB"), strings(difference.onlyInB)},
                       {QStringLiteral("skipped"), strings(difference.skipped)},
                       {QStringLiteral("elapsedMs"), double(timer.elapsed())}};
}

void Engine::requireUnsafeOpsAllowed(bool allowed) const
{
    if (!unsafeOps_.empty() && !allowed)
        throw featscope::Error(featscope::describeUnsafeOps(unsafeOps_, path_, "confirm that you trust it"));
}

QJsonObject Engine::exportExtractor(const featscope::protocol::ExportRequest& request)
{
    requireModel();
    requireUnsafeOpsAllowed(request.allowUnsafeOps);
    if (request.path.isEmpty())
        throw featscope::Error("Export needs a \"path\" to write the extractor to.");
    if (request.train.empty() && request.eval.empty())
        throw featscope::Error("No return nodes chosen; tick at least one node before exporting.");
    torch::jit::Module extractor = createExtractor(request.train, request.eval);
    // Saved in the mode the user works in, as torchvision's extractor keeps its source's training flag.
    if (request.mode == Mode::Train)
        extractor.train();
    else
        extractor.eval();
    featscope::saveModuleAtomically(extractor, request.path.toStdString());
    return QJsonObject{{QStringLiteral("path"), QFileInfo(request.path).absoluteFilePath()}};
}
