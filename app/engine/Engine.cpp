#include "Engine.h"

#include <featscope/GradientCam.h>

#include <featscope/Errors.h>
#include <featscope/ImageInputs.h>
#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>
#include <featscope/ProcessLimits.h>
#include <featscope/ReturnNodeValidation.h>
#include <featscope/Runtime.h>
#include <featscope/UnsafeOps.h>
#include <featscope/imaging/ImageLoading.h>
#include <featscope/imaging/Preprocessing.h>
#include <featscope/protocol/ErrorKind.h>
#include <featscope/protocol/GraphJson.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>
#include <QSaveFile>
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

Mode parseMode(const QJsonValue& value)
{
    const QString m = value.toString(QStringLiteral("eval"));
    if (const auto mode = featscope::modeFromString(m.toStdString()))
        return *mode;
    throw featscope::Error("Unknown mode '" + m.toStdString() + "'; use \"train\" or \"eval\".");
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

featscope::ReturnNodes parseReturnNodes(const QJsonValue& value)
{
    featscope::ReturnNodes nodes;
    for (const QJsonValue& v : value.toArray()) {
        const QJsonObject o = v.toObject();
        featscope::ReturnNode node;
        node.node = o.value(QStringLiteral("node")).toString().toStdString();
        node.key = o.value(QStringLiteral("key")).toString().toStdString();
        if (node.key.empty())
            node.key = node.node;
        nodes.push_back(std::move(node));
    }
    return nodes;
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

QJsonObject Engine::handle(const QJsonObject& request)
{
    const QJsonValue id = request.value(QStringLiteral("id"));
    const QString cmd = request.value(QStringLiteral("cmd")).toString();
    QJsonObject response;
    try {
        if (cmd == QLatin1String("hello"))
            response = QJsonObject{{QStringLiteral("protocol"), 1},
                                   {QStringLiteral("engine"), QStringLiteral("featscope-engine")},
                                   {QStringLiteral("addressSpaceCaps"), featscope::addressSpaceCapsSupported()},
                                   {QStringLiteral("threads"), featscope::intraOpThreads()},
                                   {QStringLiteral("availableCores"), featscope::availableCores()},
                                   {QStringLiteral("blas"), qs(featscope::describeBlas())}};
        else if (cmd == QLatin1String("load"))
            response = load(request);
        else if (cmd == QLatin1String("run") || cmd == QLatin1String("export") || cmd == QLatin1String("cam")
                 || cmd == QLatin1String("stats"))
            response = runCapped(request);
        else
            throw featscope::Error("Unknown request '" + cmd.toStdString()
                                   + "'; the engine understands hello, load, run, cam, stats, export and quit.");
        response.insert(QStringLiteral("ok"), true);
    } catch (const featscope::OutOfMemoryError& e) {
        response = QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::Memory)}};
    } catch (const featscope::UnknownNodeError& e) {
        response = QJsonObject{{QStringLiteral("ok"), false},
                               {QStringLiteral("error"), qs(e.what())},
                               {QStringLiteral("errorType"), errorType(ErrorKind::UnknownNode)},
                               {QStringLiteral("suggestions"), toJson(e.suggestions())}};
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
    response.insert(QStringLiteral("id"), id);
    return response;
}

QJsonObject Engine::load(const QJsonObject& request)
{
    QElapsedTimer timer;
    timer.start();
    const std::string path = QFileInfo(request.value(QStringLiteral("path")).toString()).absoluteFilePath().toStdString();
    featscope::FeatureExtractionOptions extraction;
    for (const QJsonValue& v : request.value(QStringLiteral("leafModules")).toArray())
        extraction.leafModules.push_back(v.toString().toStdString());
    for (const QJsonValue& v : request.value(QStringLiteral("leafFunctions")).toArray())
        extraction.leafFunctions.push_back(v.toString().toStdString());

    // The previous model stays loaded until the new one has loaded and been described.
    const featscope::LoadLimits limits = featscope::effectiveLoadLimits(path, options_.loadLimits);
    const featscope::ScopedAddressSpaceCap memoryCap(limits.memoryBytes);
    featscope::LoadedModule loaded = featscope::loadModuleWithMetadata(path, limits);
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
        extractorKey_ = key;
    }
    return *extractor_;
}

// Runs and exports may add at most options_.runMemoryBytes of address space; hitting the cap is reported
// as such, naming the model, instead of as LibTorch's allocator message.
QJsonObject Engine::runCapped(const QJsonObject& request)
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
            return cam(request);
        if (cmd == QLatin1String("stats"))
            return statistics(request);
        return isRun ? run(request) : exportExtractor(request);
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

QJsonObject Engine::run(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const Mode mode = parseMode(request.value(QStringLiteral("mode")));
    const featscope::ReturnNodes nodes = parseReturnNodes(request.value(QStringLiteral("returnNodes")));
    if (nodes.empty())
        throw featscope::Error("No return nodes chosen; tick at least one node.");
    // A run shows maps, so only tensors will do; say so before any work. (Without a description of this
    // mode, the extractor's own check decides.)
    if (!descriptions_[int(mode)].nodes.empty())
        featscope::requireValidReturnNodes(descriptions_[int(mode)], nodes, featscope::OutputValues::TensorsOnly);
    requireUnsafeOpsAllowed(request, "confirm that you trust it");
    const auto preprocessing =
        featscope::imaging::Preprocessing::fromRequest(request.value(QStringLiteral("preprocessing")).toObject());
    QString outputDir = request.value(QStringLiteral("outputDir")).toString();
    if (outputDir.isEmpty())
        outputDir = QDir::temp().filePath(QStringLiteral("featscope-engine"));
    if (!QDir().mkpath(outputDir))
        throw featscope::Error("Cannot create the output directory '" + outputDir.toStdString() + "'.");

    if (options_.debugRunDelayMs > 0)
        QThread::msleep(options_.debugRunDelayMs);

    // The extractor takes the model's arguments: say which one an image cannot fill before any work.
    const std::string image = request.value(QStringLiteral("image")).toString().toStdString();
    const featscope::ImageInputs imageInputs = [&] {
        try {
            return featscope::ImageInputs(module_->get_method("forward").function().getSchema());
        } catch (const featscope::Error& e) {
            throw featscope::Error("Cannot run '" + path_ + "' on an image: " + e.what());
        }
    }();
    // [1, C, H, W]: the batch the response's inputShape and messages describe.
    torch::Tensor input = featscope::imaging::loadImage(image, preprocessing).unsqueeze(0);
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
        result = extractor.forward(imageInputs({input[0]}));
    } catch (const std::exception& e) {
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
        throw featscope::Error("The extractor did not return a dict of tensors.");

    // The id names the output files: keep it from reaching outside outputDir ("../x", "a/b").
    QString runId = request.value(QStringLiteral("id")).toVariant().toString();
    runId.remove(QRegularExpression(QStringLiteral("[^A-Za-z0-9_-]")));
    runId = runId.left(32);
    QJsonArray outputs;
    int index = 0;
    for (const auto& item : result.toGenericDict()) {
        const std::string key = item.key().toStringRef();
        if (!item.value().isTensor())
            throw featscope::Error("Output '" + key + "' is not a tensor.");
        torch::Tensor t = item.value().toTensor().detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
        std::string node;
        for (const auto& n : nodes)
            if (n.key == key) {
                node = featscope::resolveNodeName(names(mode), n.node).value_or(n.node);
                break;
            }
        const QString file = QDir(outputDir).filePath(QStringLiteral("run%1-out%2.f32").arg(runId).arg(index++));
        QSaveFile out(file);
        if (!out.open(QIODevice::WriteOnly))
            throw featscope::Error("Cannot write '" + file.toStdString() + "': " + out.errorString().toStdString());
        out.write(reinterpret_cast<const char*>(t.data_ptr<float>()), qint64(t.numel() * sizeof(float)));
        if (!out.commit())
            throw featscope::Error("Cannot write '" + file.toStdString() + "': " + out.errorString().toStdString());
        QJsonObject o{{QStringLiteral("key"), qs(key)},
                      {QStringLiteral("node"), qs(node)},
                      {QStringLiteral("shape"), toJson(t.sizes().vec())},
                      {QStringLiteral("dtype"), QStringLiteral("float32")},
                      {QStringLiteral("file"), file}};
        if (t.numel() > 0) {
            o.insert(QStringLiteral("min"), t.min().item<double>());
            o.insert(QStringLiteral("max"), t.max().item<double>());
            o.insert(QStringLiteral("mean"), t.mean().item<double>());
            o.insert(QStringLiteral("std"), t.numel() > 1 ? t.std(/*unbiased=*/false).item<double>() : 0.0);
        }
        outputs.append(o);
    }
    return QJsonObject{{QStringLiteral("mode"), QString::fromLatin1(featscope::toString(mode))},
                       {QStringLiteral("inputShape"), toJson(input.sizes().vec())},
                       {QStringLiteral("outputs"), outputs},
                       {QStringLiteral("elapsedMs"), double(timer.elapsed())}};
}

// Grad-CAM and its relatives at one node, for the inspector's input view: the map travels inline (a grid of at
// most a few thousand numbers), with the model's top classes.
QJsonObject Engine::cam(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const std::string node = request.value(QStringLiteral("node")).toString().toStdString();
    if (node.empty())
        throw featscope::Error("A cam request needs the \"node\" to explain the model's answer at.");
    requireUnsafeOpsAllowed(request, "confirm that you trust it");
    featscope::CamRequest camRequest;
    const std::string method = request.value(QStringLiteral("method")).toString(QStringLiteral("gradcam")).toStdString();
    const auto parsedMethod = featscope::parseCamMethod(method);
    if (!parsedMethod)
        throw featscope::Error("Unknown CAM method '" + method + "'; use gradcam, gradcam++ or gradxact.");
    camRequest.method = *parsedMethod;
    const QJsonValue classIndex = request.value(QStringLiteral("classIndex"));
    if (!classIndex.isUndefined() && !classIndex.isNull()) {
        const double index = classIndex.toDouble(-1);
        if (!classIndex.isDouble() || index < 0 || index != std::floor(index))
            throw featscope::Error("\"classIndex\" must be a class number (0, 1, ...).");
        camRequest.classIndex = std::int64_t(index);
    }
    const std::string layout = request.value(QStringLiteral("layout")).toString().toStdString();
    if (!layout.empty()) {
        camRequest.layout = featscope::parseSpatialLayout(layout);
        if (!camRequest.layout)
            throw featscope::Error("\"layout\" must be nchw, nhwc or tokens, not '" + layout + "'.");
    }
    const auto preprocessing =
        featscope::imaging::Preprocessing::fromRequest(request.value(QStringLiteral("preprocessing")).toObject());
    const std::string image = request.value(QStringLiteral("image")).toString().toStdString();
    const torch::Tensor input = featscope::imaging::loadImage(image, preprocessing);
    camRequest.inputSize = featscope::InputSize{input.size(1), input.size(2)};
    const featscope::ImageInputs imageInputs(module_->get_method("forward").function().getSchema());
    // Building the gradient module names the model again: keep it while the node stays the same.
    const std::string resolved = featscope::resolveNodeName(names(Mode::Eval), node).value_or(node);
    if (!camModule_ || camNode_ != resolved) {
        camModule_.reset();
        camModule_ = featscope::createNodeGradientModule(*module_, resolved, extractionOptions_);
        camNode_ = resolved;
    }
    const featscope::CamResult result = featscope::computeCam(*camModule_, imageInputs({input}), camRequest);

    const torch::Tensor map = result.map.to(torch::kFloat32).contiguous();
    QJsonArray values;
    for (std::int64_t i = 0, n = map.numel(); i < n; ++i)
        values.append(double(map.data_ptr<float>()[i]));
    const torch::Tensor scores = result.scores.to(torch::kFloat32);
    const torch::Tensor shares = torch::softmax(scores, 0);
    const auto top = torch::topk(scores, std::min<std::int64_t>(5, scores.numel()));
    QJsonArray topClasses;
    for (std::int64_t i = 0; i < std::get<1>(top).numel(); ++i) {
        const std::int64_t index = std::get<1>(top)[i].item<std::int64_t>();
        topClasses.append(QJsonObject{{QStringLiteral("index"), double(index)},
                                      {QStringLiteral("score"), scores[index].item<double>()},
                                      {QStringLiteral("probability"), shares[index].item<double>()}});
    }
    return QJsonObject{{QStringLiteral("node"), qs(resolved)},
                       {QStringLiteral("method"), QString::fromLatin1(featscope::toString(camRequest.method))},
                       {QStringLiteral("classIndex"), double(result.classIndex)},
                       {QStringLiteral("layout"), QString::fromLatin1(featscope::toString(result.layout.kind))},
                       {QStringLiteral("classTokenDropped"), result.layout.classToken},
                       {QStringLiteral("height"), double(map.size(0))},
                       {QStringLiteral("width"), double(map.size(1))},
                       {QStringLiteral("map"), values},
                       {QStringLiteral("top"), topClasses},
                       {QStringLiteral("inputShape"), toJson(input.unsqueeze(0).sizes().vec())},
                       {QStringLiteral("elapsedMs"), double(timer.elapsed())}};
}

// What flows through every node (issue 15): one run summarising each tensor-valued node as it is computed,
// without keeping the tensors; a few numbers and 16 bins per node, so the answer travels inline.
QJsonObject Engine::statistics(const QJsonObject& request)
{
    requireModel();
    QElapsedTimer timer;
    timer.start();
    const Mode mode = parseMode(request.value(QStringLiteral("mode")));
    requireUnsafeOpsAllowed(request, "confirm that you trust it");
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
void Engine::requireUnsafeOpsAllowed(const QJsonObject& request, const std::string& allowHint) const
{
    if (!unsafeOps_.empty() && !request.value(QStringLiteral("allowUnsafeOps")).toBool())
        throw featscope::Error(featscope::describeUnsafeOps(unsafeOps_, path_, allowHint));
}

QJsonObject Engine::exportExtractor(const QJsonObject& request)
{
    requireModel();
    requireUnsafeOpsAllowed(request, "confirm that you trust it");
    const QString path = request.value(QStringLiteral("path")).toString();
    if (path.isEmpty())
        throw featscope::Error("Export needs a \"path\" to write the extractor to.");
    featscope::ReturnNodes train, eval;
    if (request.contains(QStringLiteral("returnNodes"))) {
        train = eval = parseReturnNodes(request.value(QStringLiteral("returnNodes")));
    } else {
        train = parseReturnNodes(request.value(QStringLiteral("trainReturnNodes")));
        eval = parseReturnNodes(request.value(QStringLiteral("evalReturnNodes")));
    }
    if (train.empty() && eval.empty())
        throw featscope::Error("No return nodes chosen; tick at least one node before exporting.");
    torch::jit::Module extractor = createExtractor(train, eval);
    // Saved in the mode the user works in, as torchvision's extractor keeps its source's training flag.
    if (parseMode(request.value(QStringLiteral("mode"))) == Mode::Train)
        extractor.train();
    else
        extractor.eval();
    featscope::saveModuleAtomically(extractor, path.toStdString());
    return QJsonObject{{QStringLiteral("path"), QFileInfo(path).absoluteFilePath()}};
}
