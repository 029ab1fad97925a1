// featscope-engine: loads and runs TorchScript models for the featscope GUI, one JSON request per line on
// stdin, one JSON response per line on stdout (docs/engine-protocol.md). It runs in its own process so that
// a model which crashes or hangs LibTorch cannot take the GUI down.

#include "Engine.h"

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>

#include <torch/torch.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

void printHelp()
{
    std::printf(
        "Usage: featscope-engine [--memory-limit-mb N] [--threads N] [--debug-run-delay-ms N]\n"
        "Serves the featscope GUI: reads one JSON request per line on stdin and writes one JSON response per\n"
        "line on stdout (see docs/engine-protocol.md). It is started by the featscope GUI, not by users.\n"
        "  --memory-limit-mb N   address-space cap (default: 75%% of physical memory; 0 = none)\n"
        "  --threads N           LibTorch intra-op threads (default: LibTorch's choice)\n"
        "  --debug-run-delay-ms N  sleep before each run (for tests of cancel and crash handling)\n");
}

long long defaultMemoryLimitMb()
{
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return 0;
    return (static_cast<long long>(pages) * pageSize / (1024 * 1024)) * 3 / 4;
}

} // namespace

int main(int argc, char** argv)
{
    // Keep the protocol channel clean: anything LibTorch or Qt prints to stdout goes to stderr instead.
    const int protocolFd = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    FILE* protocol = fdopen(protocolFd, "w");

    QCoreApplication app(argc, argv);
    Engine::Options options;
    long long memoryLimitMb = defaultMemoryLimitMb();
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&](const char* name) -> long long {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "featscope-engine: %s needs a number\n", name);
                std::exit(2);
            }
            return std::atoll(argv[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            dup2(protocolFd, STDOUT_FILENO);
            printHelp();
            return 0;
        } else if (arg == "--memory-limit-mb") {
            memoryLimitMb = value("--memory-limit-mb");
        } else if (arg == "--threads") {
            torch::set_num_threads(static_cast<int>(std::max(1LL, value("--threads"))));
        } else if (arg == "--debug-run-delay-ms") {
            options.debugRunDelayMs = static_cast<int>(value("--debug-run-delay-ms"));
        } else {
            std::fprintf(stderr, "featscope-engine: unknown option '%s' (see --help)\n", arg.c_str());
            return 2;
        }
    }
    if (memoryLimitMb > 0) {
        rlimit limit{};
        limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(memoryLimitMb) * 1024 * 1024;
        setrlimit(RLIMIT_AS, &limit);
    }

    Engine engine(options);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty())
            continue;
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(line), &error);
        QJsonObject response;
        if (!doc.isObject()) {
            response = QJsonObject{{QStringLiteral("ok"), false},
                                   {QStringLiteral("errorType"), QStringLiteral("protocol")},
                                   {QStringLiteral("error"), QStringLiteral("Request is not a JSON object: %1")
                                                                 .arg(error.errorString())}};
        } else if (doc.object().value(QStringLiteral("cmd")).toString() == QLatin1String("quit")) {
            break;
        } else {
            response = engine.handle(doc.object());
        }
        const QByteArray out = QJsonDocument(response).toJson(QJsonDocument::Compact);
        std::fwrite(out.constData(), 1, std::size_t(out.size()), protocol);
        std::fputc('\n', protocol);
        std::fflush(protocol);
    }
    std::fclose(protocol);
    return 0;
}
