#include "ModuleReader.h"

#include "OpsLibraryLoading.h"

#include <featscope/Errors.h>
#include <featscope/ModuleLoader.h>
#include <featscope/OpsLibraries.h>
#include <featscope/ProcessLimits.h>
#include <featscope/UnsafeOps.h>
#include <featscope/sandbox/ModelFileMessages.h>
#include <featscope/sandbox/ReaderProtocol.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace featscope {
namespace {

static_assert(reader::kMaxMetadataMessage == kMaxModelMetadataBytes + 1, "the report carries one byte more than is accepted, as readModuleFile cuts it");

using messages::printableFirstLine;
using messages::kSaveHint;
using messages::quotedPath;

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Refuses what is not TorchScript, and code that torch::jit::load itself would run (__setstate__) when it
// can reach outside the model. Returns the archive's code.
std::vector<std::string> checkArchive(caffe2::serialize::PyTorchStreamReader& archive, const std::string& path)
{
    if (!archive.hasRecord("constants.pkl") && archive.hasRecord("data.pkl"))
        throw Error("Cannot open " + quotedPath(path) + ": it was saved with torch.save (a state_dict or pickled object), not as TorchScript. " + kSaveHint);
    std::vector<std::string> code = opslibraries::codeTexts(archive);
    const std::vector<std::string> calls = findUnsafeCallsRunAtLoad(code);
    if (calls.empty())
        return code;
    std::string list;
    for (const std::string& call : calls)
        list += (list.empty() ? "" : ", ") + call;
    throw Error("Cannot open " + quotedPath(path) + ": its __setstate__ code, which TorchScript runs while loading, "
                "can call " + list + ", which reach outside the model (files, processes or the network). featscope "
                "does not load such files, since loading alone would run that code. Ask the model's author for a "
                "version without it.");
}

// LibTorch 1.13 reads the string-table indices of a debug entry (code/*.debug_pkl) without bounds checks
// (SourceRangeDeserializer::deserialize_source), so a hostile index reads past a vector. Whether that
// crashes depends on what lies there, so touching the debug information here does not prove the parent
// can: check every index instead.
void checkDebugInformation(caffe2::serialize::PyTorchStreamReader& archive, const std::string& path)
{
    for (const std::string& name : archive.getAllRecords()) {
        if (!endsWith(name, ".debug_pkl"))
            continue;
        const auto corrupt = [&](const char* what) {
            throw Error("Cannot open " + quotedPath(path) + ": its debug information (" + name + ") is corrupt: " + what
                        + ". Save the model again.");
        };
        const auto record = archive.getRecord(name);
        const c10::IValue value = torch::jit::unpickle(static_cast<const char*>(std::get<0>(record).get()), std::get<1>(record));
        if (!value.isTuple())
            corrupt("not a tuple");
        const auto& top = value.toTupleRef().elements();
        if (top.size() != 3 || !top[0].isString() || top[0].toStringRef() != "FORMAT_WITH_STRING_TABLE")
            continue; // the older format holds its text inline, without indices
        if (!top[1].isTuple() || !top[2].isTuple())
            corrupt("no string table");
        const auto& table = top[1].toTupleRef().elements();
        for (const c10::IValue& text : table)
            if (!text.isString())
                corrupt("a string-table entry is not a string");
        const auto isIndex = [&](const c10::IValue& index) {
            return index.isInt() && index.toInt() >= 0 && static_cast<std::size_t>(index.toInt()) < table.size();
        };
        // Each entry: (byte offset, ((text indices, file-name index, first line), start, end), debug handle).
        for (const c10::IValue& entry : top[2].toTupleRef().elements()) {
            if (!entry.isTuple() || entry.toTupleRef().elements().size() < 2)
                corrupt("an entry is not a tuple");
            const c10::IValue& range = entry.toTupleRef().elements()[1];
            if (!range.isTuple() || range.toTupleRef().elements().size() != 3)
                corrupt("a source range is not a triple");
            const auto& parts = range.toTupleRef().elements();
            if (!parts[0].isTuple() || parts[0].toTupleRef().elements().size() != 3 || !parts[1].isInt() || !parts[2].isInt())
                corrupt("a source range is malformed");
            const auto& source = parts[0].toTupleRef().elements();
            if (!source[0].isIntList() || !isIndex(source[1]) || !source[2].isInt())
                corrupt("a source refers to a missing file name");
            for (const int64_t index : source[0].toIntList())
                if (!isIndex(c10::IValue(index)))
                    corrupt("a source refers to a missing piece of text");
        }
    }
}

// Debug information (the Python source behind each node) is unpickled lazily, the first time naming
// asks for it; touching every range here makes a hostile debug entry fail in this process.
void readDebugInformation(torch::jit::Block* block)
{
    for (torch::jit::Node* node : block->nodes()) {
        const auto& range = node->sourceRange();
        if (range.source())
            range.findSourceRangeThatGenerated();
        for (torch::jit::Block* inner : node->blocks())
            readDebugInformation(inner);
    }
}

} // namespace

torch::jit::Module readModuleFile(const std::string& path, const std::string& opsLibraries, const ReadSteps& steps)
{
    std::vector<std::string> code;
    try {
        caffe2::serialize::PyTorchStreamReader archive(path);
        code = checkArchive(archive, path);
        checkDebugInformation(archive, path);
        if (archive.hasRecord(kModelMetadataRecord)) {
            const auto record = archive.getRecord(kModelMetadataRecord);
            steps.metadataRead(std::string(static_cast<const char*>(std::get<0>(record).get()),
                                           std::min(std::get<1>(record), kMaxModelMetadataBytes + 1)));
        }
    } catch (const c10::Error& error) {
        throw Error("Cannot open " + quotedPath(path) + ": the archive is truncated or corrupt ("
                    + printableFirstLine(error.what_without_backtrace()) + "). Save the model again.");
    }
    for (const std::string& library : opslibraries::splitLibraryPaths(opsLibraries))
        loadOpsLibrary(library);
    opslibraries::loadOpsLibrariesCalledBy(code);
    torch::jit::Module module;
    try {
        module = torch::jit::load(path, torch::kCPU);
    } catch (const std::exception& error) {
        const std::string missingOp = opslibraries::describeMissingOp(error.what(), path);
        if (missingOp.empty())
            throw;
        throw Error(missingOp);
    }
    steps.archiveRead();
    for (const torch::jit::Module& submodule : module.modules())
        for (const torch::jit::Method& method : submodule.get_methods())
            readDebugInformation(method.graph()->block());
    return module;
}

int runModuleReader(int requestFd, int reportFd)
{
    const rlimit noCore{0, 0};
    ::setrlimit(RLIMIT_CORE, &noCore);
    std::string failure;
    try {
        const std::optional<reader::ReadRequest> received = reader::receiveRequest(requestFd);
        if (!received)
            return 0;
        const reader::ReadRequest& request = *received;
        reader::sendAll(reportFd, std::string(1, reader::kRequestReceived));
        // The parent stops the reader at the time cap; the alarm stops it should the parent be gone.
        ::alarm(static_cast<unsigned>(request.seconds) + 10);
        capAddressSpace(currentAddressSpace() + request.memoryBytes);
        readModuleFile(request.path, request.opsLibraries,
                       {[&](const std::string& metadata) { reader::sendAll(reportFd, reader::metadataMessage(metadata)); },
                        [&] { reader::sendAll(reportFd, std::string(1, reader::kArchiveRead)); }});
        reader::sendAll(reportFd, std::string(1, reader::kReadAll));
        return 0;
    } catch (const Error& error) {
        failure = reader::kError + std::string(error.what());
    } catch (const c10::Error& error) {
        failure = reader::kTorchError + printableFirstLine(error.what_without_backtrace());
    } catch (const std::bad_alloc&) {
        failure = reader::kOutOfMemory;
    } catch (const std::exception& error) {
        failure = reader::kTorchError + printableFirstLine(error.what());
    }
    if (isOutOfMemoryMessage(failure.c_str()))
        failure = reader::kOutOfMemory;
    reader::sendAll(reportFd, failure);
    return 1;
}

} // namespace featscope
