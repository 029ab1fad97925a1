#pragma once

// Shared by the fuzz targets: a private scratch folder for the files a target must write, the build-time
// fixtures, and quiet logging so libFuzzer's own output stays readable.

#include <QtGlobal>

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace featscope::fuzz {

namespace fs = std::filesystem;

/// A folder of this process's own, removed at exit. Every path a fuzz input can name is mapped into it.
/// The name is never freed: the exit handler that removes the folder runs after static destructors.
inline const std::string& scratchFolder()
{
    static const std::string* const folder = [] {
        const char* tmp = std::getenv("TMPDIR");
        auto* name = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/featscope-fuzz-XXXXXX");
        if (!::mkdtemp(name->data()))
            throw std::runtime_error("cannot create a scratch folder in " + *name);
        std::atexit([] {
            std::error_code ignored;
            fs::remove_all(scratchFolder(), ignored);
        });
        return name;
    }();
    return *folder;
}

/// Build-time fixtures (fuzz/make_fixtures.py); FEATSCOPE_FUZZ_FIXTURES in the environment overrides the
/// folder compiled in, for binaries copied elsewhere.
inline std::string fixture(const std::string& name)
{
    const char* folder = std::getenv("FEATSCOPE_FUZZ_FIXTURES");
    return std::string(folder && *folder ? folder : FEATSCOPE_FUZZ_FIXTURES) + "/" + name;
}

inline void writeFile(const std::string& path, const void* data, std::size_t size)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), std::streamsize(size));
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

/// Removes what an input left in `folder`, keeping `keep` (file names), so inputs do not see each other's files.
inline void clearFolder(const std::string& folder, const std::set<std::string>& keep = {})
{
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(folder, ignored))
        if (!keep.count(entry.path().filename().string()))
            fs::remove_all(entry.path(), ignored);
}

/// Splits at every occurrence of `separator`.
inline std::vector<std::string> split(const std::string& text, const std::string& separator)
{
    std::vector<std::string> parts;
    std::size_t begin = 0;
    for (;;) {
        const std::size_t end = text.find(separator, begin);
        parts.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (end == std::string::npos)
            return parts;
        begin = end + separator.size();
    }
}

/// Qt warnings about unreadable images and the like are expected for every other input; printing them
/// would slow the fuzzers and bury libFuzzer's status lines.
inline void silenceQtMessages()
{
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString&) {
        if (type == QtFatalMsg)
            std::abort();
    });
}

/// featscope::loadModule reads a model in a forked child while the process is single-threaded, as
/// fuzz_model_load runs. A crash there is expected and handled (it becomes an error message), so the child
/// must die by the signal as in production, not run libFuzzer's and the sanitizers' crash handlers, which
/// would report the parent's input as a crash.
inline void restoreDefaultCrashHandlingInForkedChildren()
{
    pthread_atfork(nullptr, nullptr, [] {
        for (int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTRAP})
            std::signal(signal, SIG_DFL);
    });
}

} // namespace featscope::fuzz
