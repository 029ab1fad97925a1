#pragma once

// `featscope-cli values`: what chosen nodes hold for one image, any type, as text.

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const valuesUsage;

/// Runs `values`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runValues(const std::vector<std::string>& args);

} // namespace featscope::cli
