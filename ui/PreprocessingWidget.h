#pragma once

#include "ModelInfo.h"

#include <QWidget>

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace featscope::ui {

/// Editor for the image preprocessing sent with each run (resize, centre crop, channels, mean/std).
class PreprocessingWidget : public QWidget {
    Q_OBJECT
public:
    explicit PreprocessingWidget(QWidget* parent = nullptr);

    Preprocessing value() const;
    void setValue(const Preprocessing& value);
    /// Whether mean/std parse as numbers and the values pass Preprocessing::validate (the engine's and
    /// the CLI's rule); `error` gets the reason.
    bool isValid(QString* error = nullptr) const;

Q_SIGNALS:
    void changed();

private:
    QSpinBox* m_resize;
    QSpinBox* m_crop;
    QComboBox* m_channels;
    QLineEdit* m_mean;
    QLineEdit* m_std;
};

} // namespace featscope::ui
