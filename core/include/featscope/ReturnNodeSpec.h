#pragma once

#include <featscope/FeatureExtraction.h>

#include <string>

namespace featscope {

/// Parses "NODE" or "NODE=KEY" (the key defaults to the node name); throws featscope::Error.
ReturnNode parseReturnNodeSpec(const std::string& spec);

} // namespace featscope
