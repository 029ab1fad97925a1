#include "RequestWatchdog.h"

#include <unistd.h>

RequestWatchdog::RequestWatchdog(Reply reply) : reply_(std::move(reply)), thread_([this] { watch(); }) {}

RequestWatchdog::~RequestWatchdog()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void RequestWatchdog::arm(double seconds, QJsonObject timeoutResponse)
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        armed_ = true;
        deadline_ = std::chrono::steady_clock::now()
            + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
        timeoutResponse_ = std::move(timeoutResponse);
    }
    changed_.notify_all();
}

void RequestWatchdog::disarm()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        armed_ = false;
    }
    changed_.notify_all();
}

void RequestWatchdog::watch()
{
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        if (!armed_) {
            changed_.wait(lock);
            continue;
        }
        if (changed_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ && !stopping_
            && std::chrono::steady_clock::now() >= deadline_) {
            // Still holding the lock: disarm() blocks, so the late request cannot answer as well.
            reply_(timeoutResponse_);
            ::_exit(featscope::kExitEngineStoppedByTimeCap);
        }
    }
}
