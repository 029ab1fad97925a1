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
/// request being served (the last line next() returned), or when N is still waiting in line (the flag is
/// then set as next() returns it); it is not passed on. Every other line waits in order for next(). The
/// thread ends with its input; the engine may exit while it still waits for a line.
class RequestReader {
public:
    explicit RequestReader(std::istream& input);
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    /// The next line that is not a cancel; nullopt once the input has ended. Its request is the one being
    /// served from then on (a cancel of the previous one no longer counts).
    std::optional<std::string> next();
    /// Set while the request being served has been cancelled.
    const std::atomic<bool>& cancelFlag() const { return shared_->cancel; }

private:
    struct Shared {
        std::mutex mutex;
        std::condition_variable arrived;
        struct Line {
            std::string text;
            QJsonValue id; ///< the request's "id", to match a cancel that arrives before it starts
        };
        std::deque<Line> lines;
        QJsonValue cancelledBeforeStart = QJsonValue::Undefined;
        bool ended = false;
        QJsonValue servingId = QJsonValue::Undefined;
        std::atomic<bool> cancel{false};
    };
    std::shared_ptr<Shared> shared_; ///< shared with the reading thread, which may outlive this object
};
