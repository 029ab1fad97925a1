#pragma once

// The side panel's small editors of the document: the model and its mode, the image and the run.

#include <QGroupBox>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace featscope::ui {

class ModelDocument;

/// "Model": what the open model is (class, parameters, inputs, node counts per mode, metadata) and the mode
/// its graph, names and runs use.
class ModelPanel : public QGroupBox {
    Q_OBJECT
public:
    explicit ModelPanel(ModelDocument* document, QWidget* parent = nullptr);

private:
    void showModel();

    ModelDocument* m_document;
    QLabel* m_label;
    QComboBox* m_mode;
};

/// "Image": the image a run reads, and the Run and Cancel buttons.
class ImagePanel : public QGroupBox {
    Q_OBJECT
public:
    explicit ImagePanel(ModelDocument* document, QWidget* parent = nullptr);

    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }

Q_SIGNALS:
    void browseRequested();

private:
    QLineEdit* m_path;
    QPushButton* m_run;
    QPushButton* m_cancel;
};

} // namespace featscope::ui
