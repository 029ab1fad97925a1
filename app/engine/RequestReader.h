#pragma once

#include <QJsonValue>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

/// Reads the request lines of docs/engine-protocol.md on a thread of its own, so that a
/// {"cmd": "cancel", "id": N} reaches the engine while request N runs: it sets cancelFlag() when N is the
/// request being served (see started/finished) and is not passed on. Every other line waits in order
/// for next(). The thread ends with its input; the engine may exit while it still waits for a line.
class RequestReader {
public:
    explicit RequestReader(std::istream& input);
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    /// The next line that is not a cancel; nullopt once the input has ended.
    std::optional<std::string> next();
    /// Request `id` is being served from now on: clears the flag, and a cancel naming `id` sets it.
    void started(const QJsonValue& id);
    /// No request is being served: a late cancel changes nothing.
    void finished();
    /// Set while the request being served has been cancelled.
    const std::atomic<bool>& cancelFlag() const { return shared_->cancel; }

private:
    struct Shared {
        std::mutex mutex;
        std::condition_variable arrived;
        std::deque<std::string> lines;
        bool ended = false;
        bool serving = false;
        QJsonValue servingId;
        std::atomic<bool> cancel{false};
    };
    std::shared_ptr<Shared> shared_; ///< shared with the reading thread, which may outlive this object
};
