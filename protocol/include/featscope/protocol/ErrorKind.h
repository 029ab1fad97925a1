#pragma once

#include <QString>

namespace featscope::protocol {

/// Why a request failed: a response's "errorType". The engine sets the first six and Cancelled (a run it
/// stopped on request); the client sets the rest, and Cancelled when it had to kill the engine to cancel.
/// Decisions are made on the kind, never on a message's words.
enum class ErrorKind {
    Error,       ///< the request cannot be done as asked (bad file, bad node, bad image...); the message says why
    UnknownNode, ///< a return node names no node; the response carries "suggestions"
    Memory,      ///< a memory cap was reached
    Torch,       ///< LibTorch failed while running the model
    Internal,    ///< a bug in the engine
    Protocol,    ///< the request line was not a request
    Timeout,     ///< the engine did not answer in time and was stopped
    Crash,       ///< the engine died while working on the request
    Start,       ///< the engine could not be started
    Cancelled    ///< the user cancelled (the engine stopped the run, or the client killed it); not an error to show
};

/// The protocol's name of a kind ("unknown_node", ...).
QString toString(ErrorKind kind);
/// Parses a response's "errorType"; anything unknown is ErrorKind::Error.
ErrorKind errorKindFromString(const QString& text);
/// True for the kinds after which the engine process may be gone (crash, timeout, cancel, failed start):
/// a cancelled load was always killed; a cancelled run may have been stopped by the engine itself.
bool engineIsGone(ErrorKind kind);

} // namespace featscope::protocol
