#pragma once

#include "ExitCodes.h"

#include <QJsonObject>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

/// Enforces the time cap of one request at a time. LibTorch work cannot be interrupted from outside,
/// so when the cap passes the watchdog answers the request itself (errorType "timeout") through
/// `reply` and ends the process with featscope::kExitEngineStoppedByTimeCap; the GUI restarts the engine.
class RequestWatchdog {
public:
    using Reply = std::function<void(const QJsonObject&)>;

    explicit RequestWatchdog(Reply reply);
    ~RequestWatchdog();
    RequestWatchdog(const RequestWatchdog&) = delete;
    RequestWatchdog& operator=(const RequestWatchdog&) = delete;

    /// Starts timing a request; `timeoutResponse` is sent if it is still running after `seconds`.
    void arm(double seconds, QJsonObject timeoutResponse);
    /// The request finished in time.
    void disarm();

private:
    void watch();

    Reply reply_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool armed_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point deadline_;
    QJsonObject timeoutResponse_;
    std::thread thread_;
};
