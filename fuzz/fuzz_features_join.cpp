// The files `featscope-cli features-join` reads: each input holds one or more shards, each three sections
// (SHARD.npy, SHARD.paths.txt, SHARD.json) separated by "\n=====\n". They are written to a scratch folder
// and joined with runFeaturesJoin, exactly as the command line does.

#include "CommandLine.h"
#include "FeaturesCommand.h"
#include "FuzzSupport.h"

#include <featscope/Errors.h>

#include <QCoreApplication>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

namespace fuzz = featscope::fuzz;

constexpr std::size_t kMaxShards = 4;

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    static QCoreApplication app(*argc, *argv);
    fuzz::silenceQtMessages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string& folder = fuzz::scratchFolder();
    const std::vector<std::string> sections =
        fuzz::split(std::string(reinterpret_cast<const char*>(data), size), "\n=====\n");
    std::vector<std::string> args{"-o", folder + "/joined.npy"};
    for (std::size_t shard = 0; shard < kMaxShards && shard * 3 < sections.size(); ++shard) {
        const std::string base = folder + "/shard" + std::to_string(shard + 1);
        const char* suffixes[] = {".npy", ".paths.txt", ".json"};
        for (std::size_t part = 0; part < 3 && shard * 3 + part < sections.size(); ++part) {
            const std::string& content = sections[shard * 3 + part];
            fuzz::writeFile(base + suffixes[part], content.data(), content.size());
        }
        args.push_back(base + ".npy");
    }
    try {
        featscope::cli::runFeaturesJoin(args);
    } catch (const featscope::Error&) {
    } catch (const UsageError&) {
    }
    fuzz::clearFolder(folder);
    return 0;
}
