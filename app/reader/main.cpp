// featscope-reader: reads one model file for featscope's loadModule, in a process of its own, so that a
// hostile file crashes this process instead of the program that asked (core/src/ModuleReader.h).

#include "ModuleReader.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace {

constexpr const char* usage = R"(Usage: featscope-reader --request-on-stdin

featscope's model reader. featscope, featscope-cli and featscope-engine start it
to read a TorchScript file before loading it themselves, under a memory and a
time cap, so that a corrupt or hostile file cannot crash them. It takes one
request on stdin and reports on stdout; it is not meant to be run by hand.

Environment:
  FEATSCOPE_READER  path of this program, for featscope programs that cannot
                    find it beside themselves or on PATH

Options:
  -h, --help  show this help
)";

} // namespace

int main(int argc, char** argv)
{
    if (argc == 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0)) {
        std::fputs(usage, stdout);
        return 0;
    }
    if (argc != 2 || std::strcmp(argv[1], "--request-on-stdin") != 0) {
        std::fputs(usage, stderr);
        return 2;
    }
    // The report goes to the original stdout; anything LibTorch prints goes to stderr instead.
    const int reportFd = ::dup(STDOUT_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    // _Exit: the report is complete; LibTorch's static destructors would only delay the end of the process.
    std::_Exit(featscope::runModuleReader(STDIN_FILENO, reportFd));
}
