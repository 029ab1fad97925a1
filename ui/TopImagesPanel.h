#pragma once

#include "TopImagesSearch.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace featscope::ui {

class ModelDocument;

/// "Top images": which images of a folder excite one channel of a node most. The user picks the node, the
/// channel (the shown map's, by default), how many images and a folder; the search runs in featscope-cli
/// (TopImagesSearch) with progress and can be cancelled and resumed; the document keeps the result, shown
/// as thumbnails of the images as the model sees them with the channel's map over each, on one colour scale.
class TopImagesPanel : public QWidget {
    Q_OBJECT
public:
    explicit TopImagesPanel(ModelDocument* document, QWidget* parent = nullptr);

    TopImagesSearch* search() const { return m_search; }
    QListWidget* thumbnails() const { return m_thumbnails; }

    /// Preselects the node and channel the user looks at (a channel < 0 keeps the current one).
    void suggest(const QString& node, int channel);
    void setFolder(const QString& folder);
    /// Starts a search with the panel's choices; false, with the reason shown, when they are incomplete.
    bool find();
    /// Asks for the folder; tests answer it.
    void setFolderChooser(std::function<QString()> chooser) { m_chooseFolder = std::move(chooser); }

Q_SIGNALS:
    /// The user asked to open this image in the inspector (a double-click on a thumbnail).
    void imageChosen(const QString& path);

private:
    void showTopImages();
    void updateNodes();
    void setRunning(bool running);

    ModelDocument* m_document;
    TopImagesSearch* m_search;
    QComboBox* m_node;
    QSpinBox* m_channel;
    QSpinBox* m_count;
    QComboBox* m_score;
    QLineEdit* m_folder;
    QPushButton* m_find;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_status;
    QListWidget* m_thumbnails;
    std::function<QString()> m_chooseFolder;
};

} // namespace featscope::ui
