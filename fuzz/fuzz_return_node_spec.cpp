// Return-node specs as the CLI reads them: `featscope-cli extract` arguments (NUL-separated in the input)
// through CommandLine, every --return/--train-return/--eval-return value through
// featscope::parseReturnNodeSpec, and the node part through featscope::resolveNodeName (truncated names).

#include "CommandLine.h"
#include "FuzzSupport.h"

#include <featscope/Errors.h>
#include <featscope/FeatureExtraction.h>
#include <featscope/ReturnNodes.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Node names shaped like torchvision's, so truncated-name resolution has prefixes to match.
const std::vector<std::string> kNodeNames{"x", "conv1", "layer1.0.conv1", "layer1.0.relu", "layer1.0.relu_1",
                                          "layer1.0.add", "layer1", "layer2.1.downsample.0", "fc", "getattr",
                                          "features.1.0.features_1_0_layer_scale", "a.b.c", "=", "."};

void checkSpec(const std::string& spec)
{
    featscope::ReturnNode node;
    try {
        node = featscope::parseReturnNodeSpec(spec);
    } catch (const featscope::Error&) {
        return;
    }
    // What the parser promises: a non-empty node without '=', a non-empty key, NODE=KEY round-trips.
    const bool hasKey = spec.find('=') != std::string::npos;
    if (node.node.empty() || node.key.empty() || node.node.find('=') != std::string::npos
        || node.node.size() > 4096 || node.key.size() > 4096
        || (hasKey ? node.node + "=" + node.key != spec : node.key != node.node || node.node != spec))
        std::abort();
    const auto resolved = featscope::resolveNodeName(kNodeNames, node.node);
    if (resolved && std::find(kNodeNames.begin(), kNodeNames.end(), *resolved) == kNodeNames.end())
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string input(reinterpret_cast<const char*>(data), size);
    checkSpec(input);
    const std::vector<std::string> args = featscope::fuzz::split(input, std::string(1, '\0'));
    try {
        const CommandLine line(args, {"--return", "--train-return", "--eval-return", "--leaf-module", "-o", "--output"},
                               {"--optimize", "--allow-unsafe-ops"});
        for (const char* option : {"--return", "--train-return", "--eval-return"})
            for (const std::string& spec : line.values(option))
                checkSpec(spec);
        (void)line.value("-o");
    } catch (const UsageError&) {
    }
    return 0;
}
