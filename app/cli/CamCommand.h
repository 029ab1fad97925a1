#pragma once

// `featscope-cli cam`: Grad-CAM, Grad-CAM++ or gradient x activation at a node, for one image.

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const camUsage;

/// Runs `cam`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runCam(const std::vector<std::string>& args);

} // namespace featscope::cli
