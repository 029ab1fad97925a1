#pragma once

// How an interrupted `features` run resumes. OUT.npy.progress starts with a line naming the job
// ("featscope-features-progress 1 JOB"), then one line per finished image in list order ("ok\tPATH" or
// "skip\tPATH\tREASON"); OUT.npy.partial holds the rows of the ok ones. A line cut by a kill is
// dropped, and so is an ok image whose row did not reach the disk. The progress file is also the
// output's lock: one writer per output.

#include "FeaturesOutput.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace featscope::cli {

/// What an interrupted run left in OUT.npy.progress: every image it finished, in order.
struct Progress {
    std::vector<std::string> done;
    std::vector<bool> ok;
    std::vector<std::string> reasons; ///< why skipped images were skipped ("" for ok ones)
    std::size_t okCount() const { return std::size_t(std::count(ok.begin(), ok.end(), true)); }
};

/// What an earlier run of `job` finished of `images`, cut to what OUT.npy.partial holds; `cols` gets
/// the partial array's row width (0 when nothing is kept). Throws featscope::Error naming the files
/// when they come from another job or another image list.
Progress resumableProgress(const OutputFiles& files, const std::string& job, const std::vector<std::string>& images,
                           std::uint64_t& cols);

/// The progress line of one finished image.
std::string progressLine(const std::string& path, bool ok, const std::string& reason);

/// `text` on one line: line breaks and tabs become spaces (reasons go into tab-separated lines).
std::string oneLine(std::string text);

/// OUT.npy.progress, open for appending and locked (flock, released when closed or the process ends).
class ProgressFile {
public:
    /// Throws featscope::Error when another `features` writes the same output. With `restart`, forgets
    /// the unfinished results of an earlier run (OUT.npy.partial and the progress lines).
    ProgressFile(const OutputFiles& files, bool restart);
    ~ProgressFile();
    ProgressFile(const ProgressFile&) = delete;
    ProgressFile& operator=(const ProgressFile&) = delete;

    /// Replaces the content with `job`'s first line and the lines of `kept`, fsync'd.
    void rewrite(const std::string& job, const Progress& kept);
    /// Appends progress lines and flushes them; throws featscope::Error when the disk is full.
    void append(const std::string& lines);

private:
    std::string path_;
    int fd_ = -1;
    std::FILE* file_ = nullptr;
};

} // namespace featscope::cli
