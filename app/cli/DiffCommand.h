#pragma once

// `featscope-cli diff`: two models run on the same image, compared node by node.

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const diffUsage;

/// Runs `diff`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runDiff(const std::vector<std::string>& args);

} // namespace featscope::cli
