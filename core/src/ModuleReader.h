#pragma once

namespace featscope {

/// The whole job of the featscope-reader executable (and of a forked reader), which loadModule starts to
/// read a model file before reading it in its own process. Internal: app/reader and core only.
///
/// Reads one request from `requestFd` (a file, a memory cap, a time cap), then, under that cap and without core
/// dumps, reads the archive as loadModule will (its structure, the code run at load time, every debug
/// entry, torch::jit::load) and reports each step and any error on `reportFd`. A file that crashes
/// LibTorch takes only this process down. The format is in
/// core/sandbox/include/featscope/sandbox/ReaderProtocol.h.
/// Returns the process's exit status: 0 when the file was read completely or no request came.
int runModuleReader(int requestFd, int reportFd);

} // namespace featscope
