#pragma once

// NumPy .npy version 1.0 files of little-endian float32 matrices [rows, cols], written and read
// without NumPy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).

#include <cstdint>
#include <string>

namespace featscope::cli {

/// Size of the header featscope writes: fixed, so the row count can be rewritten in place.
constexpr std::size_t kNpyHeaderSize = 128;

/// A complete 128-byte header (magic, version 1.0, dict padded with spaces, '\n') for a
/// C-order '<f4' array of shape (rows, cols).
std::string npyHeader(std::uint64_t rows, std::uint64_t cols);

/// The shape and data offset of a 2-D C-order '<f4' .npy file.
struct NpyMatrix {
    std::uint64_t rows = 0;
    std::uint64_t cols = 0;
    std::uint64_t dataOffset = 0;
};

/// Reads the header of `path`; throws featscope::Error unless it is a 2-D C-order float32 .npy
/// file whose size matches its shape (or, with `partial`, holds at least the header: rows is then
/// the number of complete rows in the file, whatever the header says).
NpyMatrix readNpyHeader(const std::string& path, bool partial = false);

} // namespace featscope::cli
