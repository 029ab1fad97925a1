#pragma once

// Files written complete or not at all. One rule for every file featscope writes outside Qt
// (extractors, .npy arrays, their .paths.txt and .json, CAM overlays): the GUI uses QSaveFile.

#include <functional>
#include <string>

namespace featscope {

/// Writes `path` through a temporary file, so that `path` is either the old file or the new one, also
/// when the process is killed or the disk fills up.
///
/// Contract: `write` receives the temporary's path, ".NAME.tmp-PID" in `path`'s folder (hidden, so
/// folder scans skip it; same file system, so the rename is atomic), and writes it completely. The
/// temporary is then fsync'd and renamed over `path`. Temporaries of this name left behind by killed
/// processes (PID no longer running) are removed first. When the folder is missing, `write` throws or
/// any step fails, the temporary is removed and featscope::Error is thrown naming `path` and, for
/// `write`'s exception, its message; the old `path`, if any, is unchanged.
void writeFileAtomically(const std::string& path, const std::function<void(const std::string& temporaryPath)>& write);

/// writeFileAtomically with `content` as the file's bytes.
void writeFileAtomically(const std::string& path, const std::string& content);

} // namespace featscope
