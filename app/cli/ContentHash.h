#pragma once

// Content hashes that identify models, settings and image lists in `features` outputs.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace featscope::cli {

/// 64-bit FNV-1a: identifies models, settings and image lists in OUT.json (not cryptographic).
class Fnv {
public:
    void add(const void* data, std::size_t size)
    {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= bytes[i];
            hash_ *= 1099511628211ull;
        }
    }
    void add(const std::string& text) { add(text.data(), text.size()); }
    /// The hash as 16 hex digits.
    std::string hex() const;

private:
    std::uint64_t hash_ = 14695981039346656037ull;
};

/// The FNV-1a hash of a file's bytes; throws featscope::Error naming the file when it cannot be read.
std::string fileHash(const std::string& path);

/// The FNV-1a hash of `paths`, one per line.
std::string listHash(const std::vector<std::string>& paths);

} // namespace featscope::cli
