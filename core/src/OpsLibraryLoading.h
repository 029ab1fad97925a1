#pragma once

#include <caffe2/serialize/inline_container.h>

#include <set>
#include <string>
#include <vector>

// How loadModule and its reader process bring in the op libraries a model needs (see
// featscope/OpsLibraries.h for the public side). Both run the same steps on the same archive, so the
// reader proves the load that the parent then repeats.
namespace featscope::opslibraries {

/// The texts of an archive's code/*.py entries (the model's TorchScript source as saved).
std::vector<std::string> codeTexts(caffe2::serialize::PyTorchStreamReader& archive);

/// The op namespaces the code calls: NS in `ops.NS.name(...)`, as TorchScript's printer writes a call of a
/// registered op.
std::set<std::string> opNamespacesCalledIn(const std::vector<std::string>& codeTexts);

/// Loads torchvision's op library when the code calls torchvision's ops and none are registered yet.
/// Algorithm: look for `ops.torchvision.` in the code; find the library with torchvisionOpsLibrary().
/// Contract: does nothing when the library is not found; the load then fails on the missing op, and
/// describeMissingOp says what to do.
void loadOpsLibrariesCalledBy(const std::vector<std::string>& codeTexts);

/// For LibTorch's "Unknown builtin op: NS::name" (the first line of a failed torch::jit::load), a
/// message naming the op, the file and how to provide the op; empty for any other message.
std::string describeMissingOp(const std::string& libtorchMessage, const std::string& path);

/// The paths of the loaded op libraries, joined by '\n' (for the reader's request), and back.
std::string joinedLibraryPaths();
std::vector<std::string> splitLibraryPaths(const std::string& joined);

} // namespace featscope::opslibraries
