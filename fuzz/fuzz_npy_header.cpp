// .npy headers as featscope-cli reads them (features-join and resumed features runs): the first input byte
// chooses a full (even) or partial (odd) read, the rest is the file readNpyHeader opens.

#include "FuzzSupport.h"
#include "NpyFile.h"

#include <featscope/Errors.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace fuzz = featscope::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const bool partial = data[0] & 1;
    const std::string path = fuzz::scratchFolder() + "/input.npy";
    fuzz::writeFile(path, data + 1, size - 1);
    try {
        const featscope::cli::NpyMatrix matrix = featscope::cli::readNpyHeader(path, partial);
        const std::uint64_t fileSize = size - 1;
        // A header it accepts describes data inside the file: featscope then reads rows * cols floats from it.
        if (matrix.dataOffset > fileSize)
            std::abort();
        if (matrix.cols != 0 && matrix.rows > (fileSize - matrix.dataOffset) / 4 / matrix.cols)
            std::abort();
        // And it round-trips through the header featscope writes.
        const std::string written = featscope::cli::npyHeader(matrix.rows, matrix.cols);
        if (written.size() != featscope::cli::kNpyHeaderSize)
            std::abort();
    } catch (const featscope::Error&) {
    }
    return 0;
}
