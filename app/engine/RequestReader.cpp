#include "RequestReader.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <thread>

RequestReader::RequestReader(std::istream& input) : shared_(std::make_shared<Shared>())
{
    std::thread([shared = shared_, &input] {
        std::string line;
        while (std::getline(input, line)) {
            // Only a cancel is acted on here; every other line is parsed (and answered) by the engine's loop.
            const QJsonObject message = QJsonDocument::fromJson(QByteArray::fromStdString(line)).object();
            if (message.value(QStringLiteral("cmd")).toString() == QLatin1String("cancel")) {
                std::lock_guard<std::mutex> lock(shared->mutex);
                if (shared->serving && message.value(QStringLiteral("id")) == shared->servingId)
                    shared->cancel.store(true);
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(shared->mutex);
                shared->lines.push_back(std::move(line));
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
    std::string line = std::move(shared_->lines.front());
    shared_->lines.pop_front();
    return line;
}

void RequestReader::started(const QJsonValue& id)
{
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->serving = true;
    shared_->servingId = id;
    shared_->cancel.store(false);
}

void RequestReader::finished()
{
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->serving = false;
    shared_->cancel.store(false);
}
