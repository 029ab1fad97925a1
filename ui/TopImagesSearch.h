#pragma once

#include "ModelDocument.h"

#include <QObject>
#include <QProcess>
#include <QStringList>

namespace featscope::ui {

/// What a top-images search asks for.
struct TopImagesRequest {
    QString model;
    QString node;
    int channel = 0;
    int count = 9; ///< images to keep
    QString score = QStringLiteral("mean");
    QString folder;
    bool allowUnsafeOps = false;
};

/// Runs `featscope-cli top-images` on a folder in its own process, as the engine runs models: a model's
/// code that crashes takes the search down, not the window. Its scores are kept in the user's cache per
/// model, node, score and folder, so that a cancelled search resumes after its finished images and
/// another channel or count of the same node reads them instead of running the model again.
class TopImagesSearch : public QObject {
    Q_OBJECT
public:
    explicit TopImagesSearch(QObject* parent = nullptr);
    ~TopImagesSearch() override;

    /// featscope-cli beside this program ($FEATSCOPE_CLI overrides it).
    static QString defaultProgram();
    /// Where the search's results and scores go (cached across searches); tests set their own folder.
    void setCacheFolder(const QString& folder) { m_cacheFolder = folder; }

    bool isRunning() const { return m_process != nullptr; }
    /// Starts a search; ignored while one runs.
    void start(const TopImagesRequest& request);
    /// Stops the search (finished() follows); its finished images are kept for the next one.
    void cancel();

Q_SIGNALS:
    void progress(int done, int total);
    /// `message` says why it failed or that it was cancelled; `result` is filled when `ok`.
    void finished(bool ok, const QString& message, const featscope::ui::TopImages& result);

private:
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void readProgress();
    QString outputPath(const TopImagesRequest& request) const;

    QProcess* m_process = nullptr;
    TopImagesRequest m_request;
    QString m_output;
    QString m_cacheFolder;
    QByteArray m_errors;   ///< stderr not yet split into lines
    QStringList m_messages; ///< stderr lines that are not progress
    bool m_cancelled = false;
};

/// Reads featscope-cli top-images' JSON for `channel`; an empty result and `error` set when it cannot.
TopImages readTopImages(const QByteArray& json, int channel, QString* error);

} // namespace featscope::ui
