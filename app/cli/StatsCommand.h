#pragma once

// `featscope-cli stats`: what flows through every node of a model for one image.

#include "CommandLine.h"

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const statsUsage;

/// Runs `stats`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runStats(const std::vector<std::string>& args);

} // namespace featscope::cli
