#pragma once

// `featscope-cli top-images`: the images of a folder that activate a channel of a node most.

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const topImagesUsage;

/// Runs `top-images`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runTopImages(const std::vector<std::string>& args);

} // namespace featscope::cli
