#pragma once

// `featscope-cli features` (batch image descriptors to .npy) and `featscope-cli features-join`.

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const featuresUsage;
extern const char* const featuresJoinUsage;

/// Runs `features`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runFeatures(const std::vector<std::string>& args);

/// Runs `features-join`: concatenates the outputs of all `--shard I/N` runs of one job.
int runFeaturesJoin(const std::vector<std::string>& args);

} // namespace featscope::cli
