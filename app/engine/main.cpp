// featscope-engine: loads and runs TorchScript models for the featscope GUI, one JSON request per line on
// stdin, one JSON response per line on stdout, a run's tensors as raw bytes right after its line
// (docs/engine-protocol.md). It runs in its own process so that a model which crashes or hangs LibTorch
// cannot take the GUI down.

#include "CommandLine.h"
#include "Engine.h"
#include "ExitCodes.h"
#include "RequestReader.h"
#include "RequestWatchdog.h"

#include <featscope/Errors.h>
#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>
#include <featscope/ProcessLimits.h>
#include <featscope/Runtime.h>
#include <featscope/protocol/ErrorKind.h>
#include <featscope/protocol/Framing.h>

#include <torch/csrc/jit/runtime/graph_executor.h>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>
#include <torch/version.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace {

void printHelp()
{
    std::printf(
        "Usage: featscope-engine [OPTIONS]\n"
        "Serves the featscope GUI: reads one JSON request per line on stdin and writes one JSON response per\n"
        "line on stdout (see docs/engine-protocol.md). It is started by the featscope GUI, not by users.\n"
        "Limits (a request that hits one gets an error naming the model and the limit):\n"
        "  --memory-limit-mb N     address-space cap of the whole engine (default: 75%% of physical memory; 0 = none)\n"
        "  --load-memory-mb N      memory reading one model may take (default: $FEATSCOPE_LOAD_MEMORY_MB, else\n"
        "                          2048 + 4x the file size)\n"
        "  --load-seconds N        time reading a model may take (default: $FEATSCOPE_LOAD_SECONDS, else 30 + 1 per\n"
        "                          20 MB); the whole load request, naming included, gets 30 s more\n"
        "  --run-memory-mb N       memory a run or export may add (default: $FEATSCOPE_RUN_MEMORY_MB, else half\n"
        "                          of physical memory; 0 = only the engine's cap)\n"
        "  --run-seconds N         time a run or export may take (default: $FEATSCOPE_RUN_SECONDS, else 120)\n"
        "A request past its time cap is answered with errorType \"timeout\" and the engine exits with status 3\n"
        "(LibTorch work cannot be interrupted); the GUI restarts it.\n"
        "Other:\n"
        "  --version               print the versions and the BLAS library in use\n"
        "  --ops-library PATH      load this library of custom TorchScript ops (repeatable); its code runs as\n"
        "                          trusted. torchvision's own is loaded by itself when a model calls its ops\n"
        "  --threads N             LibTorch intra-op threads (default: $OMP_NUM_THREADS, else every core this\n"
        "                          process may use)\n"
        "  --debug-run-delay-ms N  sleep before each run (for tests of cancel and crash handling)\n");
}

long long physicalMemoryMb()
{
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return 0;
    return static_cast<long long>(pages) * pageSize / (1024 * 1024);
}

QJsonObject timeoutResponse(const QJsonObject& request, double seconds, const QString& what, const char* variable)
{
    const QString path = request.value(QStringLiteral("path")).toString();
    return QJsonObject{
        {QStringLiteral("id"), request.value(QStringLiteral("id"))},
        {QStringLiteral("ok"), false},
        {QStringLiteral("errorType"), featscope::protocol::toString(featscope::protocol::ErrorKind::Timeout)},
        {QStringLiteral("error"),
         QStringLiteral("%1 took longer than the engine's %2 s limit, so the engine stopped it (and restarts). If the "
                        "model is trusted and just slow, raise the limit with %3.")
             .arg(what)
             .arg(seconds, 0, 'f', 0)
             .arg(QString::fromLatin1(variable))}};
}

} // namespace

int main(int argc, char** argv)
{
    // While this process has one thread, the first model reader is a quick fork (see loadModule).
    featscope::prepareModuleReader();
    // Keep the protocol channel clean: anything LibTorch or Qt prints to stdout goes to stderr instead.
    const int protocolFd = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    FILE* protocol = fdopen(protocolFd, "w");

    QCoreApplication app(argc, argv);
    Engine::Options options;
    long long memoryLimitMb = physicalMemoryMb() * 3 / 4;
    long long loadMemoryMb = featscope::limitFromEnvironment("FEATSCOPE_LOAD_MEMORY_MB", 0);
    long long loadSeconds = featscope::limitFromEnvironment("FEATSCOPE_LOAD_SECONDS", 0);
    long long runMemoryMb = featscope::limitFromEnvironment("FEATSCOPE_RUN_MEMORY_MB", physicalMemoryMb() / 2);
    long long runSeconds = featscope::limitFromEnvironment("FEATSCOPE_RUN_SECONDS", 120);
    long long threads = 0;
    try {
        const CommandLine line(std::vector<std::string>(argv + 1, argv + argc),
                               {"--memory-limit-mb", "--load-memory-mb", "--load-seconds", "--run-memory-mb",
                                "--run-seconds", "--threads", "--ops-library", "--debug-run-delay-ms"},
                               {"--help", "-h", "--version"});
        if (line.has("--help") || line.has("-h")) {
            dup2(protocolFd, STDOUT_FILENO);
            printHelp();
            return featscope::kExitSuccess;
        }
        if (line.has("--version")) {
            dup2(protocolFd, STDOUT_FILENO);
            std::printf("featscope-engine %s\nLibTorch %s\nBLAS: %s\n", FEATSCOPE_VERSION, TORCH_VERSION,
                        featscope::describeBlas().c_str());
            return featscope::kExitSuccess;
        }
        if (!line.positional().empty())
            throw UsageError{"unexpected argument '" + line.positional().front() + "'"};
        // Sizes and times up to 2^40 (a TB in MB, 34,000 years in seconds): enough, and no overflow in << 20.
        constexpr long long kMaxLimit = 1LL << 40;
        const auto number = [&line](const std::string& option, long long fallback, long long min, long long max) {
            return line.has(option) ? wholeNumber(line.value(option), option, min, max) : fallback;
        };
        memoryLimitMb = number("--memory-limit-mb", memoryLimitMb, 0, kMaxLimit);
        loadMemoryMb = number("--load-memory-mb", loadMemoryMb, 0, kMaxLimit);
        loadSeconds = number("--load-seconds", loadSeconds, 0, kMaxLimit);
        runMemoryMb = number("--run-memory-mb", runMemoryMb, 0, kMaxLimit);
        runSeconds = number("--run-seconds", runSeconds, 0, kMaxLimit);
        threads = number("--threads", threads, 1, 1024);
        options.debugRunDelayMs = int(number("--debug-run-delay-ms", options.debugRunDelayMs, 0, 3600 * 1000));
        for (const std::string& library : line.values("--ops-library"))
            featscope::loadOpsLibrary(library);
    } catch (const UsageError& error) {
        std::fprintf(stderr, "featscope-engine: %s (see --help)\n", error.message.c_str());
        return featscope::kExitUsage;
    } catch (const featscope::Error& error) {
        std::fprintf(stderr, "featscope-engine: %s\n", error.what());
        return featscope::kExitUsage;
    }
    if (memoryLimitMb > 0)
        featscope::capAddressSpace(static_cast<std::size_t>(memoryLimitMb) << 20);
    options.loadLimits.memoryBytes = static_cast<std::size_t>(std::max(0LL, loadMemoryMb)) << 20;
    options.loadLimits.seconds = static_cast<double>(std::max(0LL, loadSeconds));
    options.runMemoryBytes = static_cast<std::size_t>(std::max(0LL, runMemoryMb)) << 20;
    // After prepareModuleReader above: sizing LibTorch's pool starts threads, and the first reader is a fork.
    featscope::configureThreads(static_cast<int>(threads));
    // The window's runs are few and each new selection is a new graph: LibTorch's profiling executor spends the
    // first run of every new graph profiling it, the legacy executor does not, and repeated runs take the same
    // time under both (ResNet-50 and ViT-B/16, quiet machine, 2026-12-01: a new selection 450-525 -> 335-400 ms
    // on ViT-B/16, 72-98 -> 57-68 ms on ResNet-50; repeated runs equal). `hello` reports it.
    torch::jit::getProfilingMode() = false;
    // Without profiling, the executor still inlines every call of a new graph and runs its optimisation passes
    // over the result before the first run: on ViT-B/16 (multi-head attention's long functional code in each of
    // twelve layers) that was a new selection's first forward at 1.6x a warm one, one thread, in-process. With
    // graph optimisation off, each graph runs as written (leaf modules' methods through their own, already
    // warm, executors): the first forward is 1.09x, warm forwards equal within 3% on ResNet-50, DenseNet-121,
    // Swin-T, ViT-B/16 and ConvNeXt-T and bit-identical outputs. The setting is per thread: every request runs
    // on this one. `hello` reports both settings.
    torch::jit::setGraphExecutorOptimize(false);
    featscope::warnIfReferenceBlas("featscope-engine");

    std::mutex protocolMutex;
    // One message: the JSON line, then the payload parts it declares (protocol/Framing.h).
    auto reply = [&](const featscope::protocol::Frame& response) {
        const QByteArray line = featscope::protocol::encodeHeaderLine(response);
        std::fwrite(line.constData(), 1, std::size_t(line.size()), protocol);
        for (const QByteArray& part : response.payload)
            std::fwrite(part.constData(), 1, std::size_t(part.size()), protocol);
        std::fflush(protocol);
    };
    RequestWatchdog watchdog([&](const QJsonObject& response) {
        std::lock_guard<std::mutex> lock(protocolMutex);
        reply(featscope::protocol::Frame{response, {}});
    });

    // Requests are read on a thread of their own, so that a cancel reaches the run it names while it runs.
    RequestReader requests(std::cin);
    options.cancel = &requests.cancelFlag();
    Engine engine(options);
    while (const std::optional<std::string> next = requests.next()) {
        const std::string& line = *next;
        if (line.empty())
            continue;
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(line), &error);
        featscope::protocol::Frame response;
        if (!doc.isObject()) {
            response.header = QJsonObject{{QStringLiteral("ok"), false},
                                          {QStringLiteral("errorType"), featscope::protocol::toString(featscope::protocol::ErrorKind::Protocol)},
                                          {QStringLiteral("error"), QStringLiteral("Request is not a JSON object: %1")
                                                                        .arg(error.errorString())}};
        } else if (doc.object().value(QStringLiteral("cmd")).toString() == QLatin1String("quit")) {
            break;
        } else {
            const QJsonObject request = doc.object();
            const QString cmd = request.value(QStringLiteral("cmd")).toString();
            if (cmd == QLatin1String("load")) {
                const std::string path = request.value(QStringLiteral("path")).toString().toStdString();
                // Reading is capped at loadLimits.seconds by the sandboxed reader (an error; the engine goes on);
                // the whole request, naming and describing included, gets 30 s more before the engine stops itself.
                // A file read in this process (readInEngine, no model held) has only this cap: a hang stops the
                // engine, which held nothing.
                const double seconds = featscope::effectiveLoadLimits(path, options.loadLimits).seconds + 30;
                watchdog.arm(seconds, timeoutResponse(request, seconds,
                                                      QStringLiteral("Loading '%1'").arg(QString::fromStdString(path)),
                                                      "FEATSCOPE_LOAD_SECONDS"));
            } else if ((cmd == QLatin1String("run") || cmd == QLatin1String("export")) && runSeconds > 0) {
                watchdog.arm(double(runSeconds),
                             timeoutResponse(request, double(runSeconds),
                                             cmd == QLatin1String("run") ? QStringLiteral("Running the model")
                                                                         : QStringLiteral("Exporting the extractor"),
                                             "FEATSCOPE_RUN_SECONDS"));
            }
            response = engine.handle(request);
            watchdog.disarm();
        }
        {
            std::lock_guard<std::mutex> lock(protocolMutex);
            reply(response);
        }
        // The next load's reader process starts up while the GUI looks at this response.
        featscope::prepareModuleReader();
    }
    std::fclose(protocol);
    return featscope::kExitSuccess;
}
