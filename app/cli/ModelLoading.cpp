#include "ModelLoading.h"

#include <featscope/Errors.h>
#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>
#include <featscope/Runtime.h>
#include <featscope/UnsafeOps.h>

#include <iostream>

namespace featscope::cli {

torch::jit::Module loadModel(const CommandLine& line, const std::string& path, const std::string& command)
{
    for (const std::string& library : line.values("--ops-library"))
        loadOpsLibrary(library);
    torch::jit::Module module = loadModule(path);
    for (const OpsLibrary& library : loadedOpsLibraries())
        std::cerr << "featscope-cli " << command << ": note: loaded the op library '" << library.path << "' (" << library.reason
                  << ", " << library.ops.size() << " ops); its code runs as trusted, like LibTorch's.\n";
    return module;
}

std::vector<torch::jit::Module> loadModelsToRun(const CommandLine& line, const std::vector<std::string>& paths,
                                                const std::string& command)
{
    const int requestedThreads = line.has("--threads") ? positiveInt(line.value("--threads"), "--threads") : 0;
    std::vector<torch::jit::Module> models;
    for (const std::string& path : paths) {
        models.push_back(loadModel(line, path, command));
        const auto unsafeOps = findUnsafeOps(models.back());
        if (!unsafeOps.empty() && !line.has("--allow-unsafe-ops"))
            throw Error(describeUnsafeOps(unsafeOps, path, "run again with --allow-unsafe-ops"));
    }
    configureThreads(requestedThreads);
    warnIfReferenceBlas(("featscope-cli " + command).c_str());
    return models;
}

Mode runMode(const CommandLine& line)
{
    const std::string mode = line.value("--mode", "eval");
    if (const auto parsed = modeFromString(mode))
        return *parsed;
    throw UsageError{"--mode must be train or eval, not '" + mode + "'"};
}

FeatureExtractionOptions extractionOptions(const CommandLine& line)
{
    FeatureExtractionOptions options;
    options.leafModules = line.values("--leaf-module");
    options.leafFunctions = line.values("--leaf-function");
    return options;
}

} // namespace featscope::cli
