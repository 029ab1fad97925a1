#include "ModelLoading.h"

#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>

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

FeatureExtractionOptions extractionOptions(const CommandLine& line)
{
    FeatureExtractionOptions options;
    options.leafModules = line.values("--leaf-module");
    options.leafFunctions = line.values("--leaf-function");
    return options;
}

} // namespace featscope::cli
