#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QSettings>
#include <QStringList>

namespace featscope::ui {

/// featscope's persistent settings (QSettings, written atomically by Qt): window layout, recent files and,
/// per model file, the last selection, keys, preprocessing and image.
class SettingsStore {
public:
    static constexpr int kMaxRecent = 10;

    SettingsStore();

    QStringList recentFiles() const;
    void addRecentFile(const QString& path);

    QByteArray windowGeometry() const;
    QByteArray windowState() const;
    void setWindowLayout(const QByteArray& geometry, const QByteArray& state);

    /// State saved for the model at `path` (absolute), empty when none.
    QJsonObject modelState(const QString& path) const;
    void setModelState(const QString& path, const QJsonObject& state);

    /// Folder of the last file chosen in any file dialog (models, images, exports); empty at first.
    QString lastDirectory() const;
    /// Remembers the folder of `path` (a file) or `path` itself (a folder).
    void setLastDirectory(const QString& path);

    /// Writes pending changes now (QSettings also does so on its own).
    void sync() { m_settings.sync(); }

private:
    static QString modelKey(const QString& path);
    mutable QSettings m_settings;
};

} // namespace featscope::ui
