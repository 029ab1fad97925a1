#include "RequestReader.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <thread>

RequestReader::RequestReader(std::istream& input) : shared_(std::make_shared<Shared>())
{
    std::thread([shared = shared_, &input] {
        std::string line;
        while (std::getline(input, line)) {
            // Only a cancel is acted on here; every other line is parsed (and answered) by the engine's loop.
            const QJsonObject message = QJsonDocument::fromJson(QByteArray::fromStdString(line)).object();
            const QJsonValue id = message.value(QStringLiteral("id"));
            if (message.value(QStringLiteral("cmd")).toString() == QLatin1String("cancel")) {
                std::lock_guard<std::mutex> lock(shared->mutex);
                if (!id.isUndefined() && id == shared->servingId)
                    shared->cancel.store(true);
                // The request has not started yet (it waits behind another): next() sets the flag as it hands it out.
                else if (std::any_of(shared->lines.begin(), shared->lines.end(),
                                     [&id](const Shared::Line& queued) { return queued.id == id; }))
                    shared->cancelledBeforeStart = id;
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(shared->mutex);
                shared->lines.push_back({std::move(line), id});
            }
            shared->arrived.notify_one();
        }
        {
            std::lock_guard<std::mutex> lock(shared->mutex);
            shared->ended = true;
        }
        shared->arrived.notify_one();
    }).detach();
}

std::optional<std::string> RequestReader::next()
{
    std::unique_lock<std::mutex> lock(shared_->mutex);
    shared_->arrived.wait(lock, [this] { return !shared_->lines.empty() || shared_->ended; });
    if (shared_->lines.empty())
        return std::nullopt;
    Shared::Line line = std::move(shared_->lines.front());
    shared_->lines.pop_front();
    // From now on this line is the request being served, in the same step as it leaves the queue, so that a
    // cancel always finds it in one place or the other.
    shared_->servingId = line.id;
    const bool cancelled = !line.id.isUndefined() && line.id == shared_->cancelledBeforeStart;
    shared_->cancel.store(cancelled);
    if (cancelled)
        shared_->cancelledBeforeStart = QJsonValue::Undefined;
    return std::move(line.text);
}
