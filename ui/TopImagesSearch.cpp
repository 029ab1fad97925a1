#include "TopImagesSearch.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QStandardPaths>
#include <QTimer>

namespace featscope::ui {

TopImagesSearch::TopImagesSearch(QObject* parent) : QObject(parent) {}

TopImagesSearch::~TopImagesSearch()
{
    if (m_process) {
        m_process->disconnect(this);
        m_process->kill();
        m_process->waitForFinished(2000);
    }
}

QString TopImagesSearch::defaultProgram()
{
    const QString fromEnv = qEnvironmentVariable("FEATSCOPE_CLI");
    if (!fromEnv.isEmpty())
        return fromEnv;
    // Installed or built, the CLI sits beside the inspector.
    return QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("featscope-cli"));
}

QString TopImagesSearch::outputPath(const TopImagesRequest& request) const
{
    QString folder = m_cacheFolder;
    if (folder.isEmpty())
        folder = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/top-images");
    QDir().mkpath(folder);
    const QByteArray key = QStringList{QFileInfo(request.model).absoluteFilePath(), request.node, request.score,
                                       QFileInfo(request.folder).absoluteFilePath()}
                               .join(QChar(0))
                               .toUtf8();
    return QDir(folder).filePath(QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha1).toHex().left(16))
                                 + QStringLiteral(".json"));
}

void TopImagesSearch::start(const TopImagesRequest& request)
{
    if (m_process)
        return; // one search at a time: the panel offers Find only when none runs
    m_request = request;
    m_output = outputPath(request);
    m_errors.clear();
    m_cancelled = false;
    QStringList args{QStringLiteral("top-images"), request.model, QStringLiteral("--return"), request.node,
                     QStringLiteral("-k"), QString::number(request.count), QStringLiteral("--channel"),
                     QString::number(request.channel), QStringLiteral("--score"), request.score,
                     QStringLiteral("--progress-lines"), QStringLiteral("-o"), m_output};
    if (request.allowUnsafeOps)
        args.append(QStringLiteral("--allow-unsafe-ops"));
    args.append(request.folder);
    m_process = new QProcess(this);
    connect(m_process, &QProcess::readyReadStandardError, this, &TopImagesSearch::readProgress);
    connect(m_process, &QProcess::finished, this, &TopImagesSearch::onFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            onFinished(-1, QProcess::CrashExit);
    });
    m_process->start(defaultProgram(), args);
}

void TopImagesSearch::cancel()
{
    if (!m_process)
        return;
    m_cancelled = true;
    // The CLI keeps its finished images on SIGTERM, as on Ctrl-C, after the batch in hand; one that does
    // not stop within 3 s is killed (batches written earlier are kept all the same).
    m_process->terminate();
    QPointer<QProcess> process(m_process);
    QTimer::singleShot(3000, this, [process] {
        if (process && process->state() != QProcess::NotRunning)
            process->kill();
    });
}

void TopImagesSearch::readProgress()
{
    if (!m_process)
        return;
    m_errors += m_process->readAllStandardError();
    qsizetype end;
    while ((end = m_errors.indexOf('\n')) >= 0) {
        const QByteArray line = m_errors.left(end);
        m_errors.remove(0, end + 1);
        const QList<QByteArray> parts = line.split(' ');
        if (parts.size() == 3 && parts[0] == "progress") {
            Q_EMIT progress(parts[1].toInt(), parts[2].toInt());
        } else if (!line.trimmed().isEmpty()) {
            m_messages.append(QString::fromUtf8(line));
        }
    }
}

void TopImagesSearch::onFinished(int exitCode, QProcess::ExitStatus status)
{
    QProcess* process = m_process;
    if (!process)
        return;
    readProgress();
    m_process = nullptr;
    process->deleteLater();
    const QString program = QFileInfo(defaultProgram()).fileName();
    QString message;
    TopImages result;
    if (m_cancelled) {
        message = tr("Cancelled; the images finished so far are kept, and the same search resumes after them.");
    } else if (exitCode == -1) {
        message = tr("Cannot start %1 (%2). Check the installation.").arg(defaultProgram(), process->errorString());
    } else if (status == QProcess::CrashExit) {
        message = tr("%1 stopped unexpectedly while searching %2; the model's code may have crashed. The images "
                     "finished so far are kept.").arg(program, m_request.folder);
    } else if (exitCode != 0) {
        // The CLI's error is its last line: "featscope-cli top-images: why, and what to do".
        message = m_messages.isEmpty() ? tr("%1 failed (exit status %2).").arg(program).arg(exitCode)
                                       : m_messages.last().remove(QStringLiteral("featscope-cli top-images: "));
    } else {
        QFile file(m_output);
        if (!file.open(QIODevice::ReadOnly))
            message = tr("Cannot read the search's result %1: %2").arg(m_output, file.errorString());
        else
            result = readTopImages(file.readAll(), m_request.channel, &message);
        result.folder = m_request.folder;
    }
    m_messages.clear();
    Q_EMIT finished(message.isEmpty(), message, result);
}

TopImages readTopImages(const QByteArray& json, int channel, QString* error)
{
    TopImages result;
    QJsonParseError parseError;
    const QJsonObject root = QJsonDocument::fromJson(json, &parseError).object();
    if (parseError.error != QJsonParseError::NoError || root.value(QStringLiteral("format")).toString() != QStringLiteral("featscope-top-images/1")) {
        *error = QObject::tr("The search's result is not featscope-cli top-images' JSON (%1).").arg(parseError.errorString());
        return {};
    }
    result.model = root.value(QStringLiteral("model")).toString();
    result.node = root.value(QStringLiteral("node")).toString();
    result.score = root.value(QStringLiteral("score")).toString();
    result.imagesRanked = root.value(QStringLiteral("images")).toInt();
    result.channel = channel;
    for (const QJsonValue& entry : root.value(QStringLiteral("channels")).toArray()) {
        if (entry.toObject().value(QStringLiteral("channel")).toInt(-1) != channel)
            continue;
        for (const QJsonValue& item : entry.toObject().value(QStringLiteral("top")).toArray()) {
            const QJsonObject object = item.toObject();
            TopImages::Image image;
            image.path = object.value(QStringLiteral("image")).toString();
            image.score = object.value(QStringLiteral("score")).toDouble();
            const QJsonObject map = object.value(QStringLiteral("map")).toObject();
            image.width = map.value(QStringLiteral("width")).toInt();
            image.height = map.value(QStringLiteral("height")).toInt();
            const QJsonArray values = map.value(QStringLiteral("values")).toArray();
            if (qsizetype(image.width) * image.height != values.size()) {
                *error = QObject::tr("The map of %1 in the search's result has %2 values for %3 x %4 cells.")
                             .arg(image.path).arg(values.size()).arg(image.height).arg(image.width);
                return {};
            }
            image.map.reserve(values.size());
            for (const QJsonValue& value : values)
                image.map.append(float(value.toDouble()));
            result.top.append(image);
        }
    }
    if (result.top.isEmpty())
        *error = QObject::tr("The search's result lists no image for channel %1.").arg(channel);
    return result;
}

} // namespace featscope::ui
