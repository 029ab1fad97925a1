#pragma once

#include "FeatureMapView.h"

#include <QWidget>

class QComboBox;
class QPushButton;
class QLabel;
class QTabWidget;
class QTableWidget;

namespace featscope::ui {

class ModelDocument;

/// The outputs of the last run, one tab of heatmaps per tensor (a node whose value holds several tensors, such
/// as an FPN's dict of levels, gives one tab each), with shared colour controls; values that are no tensors
/// (ints, shapes, None) are listed as text in a last tab.
class ResultsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ResultsPanel(QWidget* parent = nullptr);

    /// Shows `outputs` as maps and `texts` as text; `summary` describes the run; `context` says how to read
    /// them, `layouts` what the user chose per node. Returns false (and shows why) when values cannot be read.
    bool setResults(const QVector<RunOutput>& outputs, const QVector<RunText>& texts, const QString& summary,
                    const MapContext& context = {}, const QHash<QString, QString>& layouts = {});
    /// Shows the document's last run, read with its input size, classes and layouts.
    bool showResults(const ModelDocument& document);
    void clear(const QString& message = {});
    /// Marks the shown maps as computed from other inputs than the current ones (`reason`; empty: up to date).
    void setOutOfDate(const QString& reason);
    bool isOutOfDate() const { return !m_outOfDate.isEmpty(); }
    QString outOfDateReason() const { return m_outOfDate; }
    void showMessage(const QString& message, bool error);

    /// Tensor outputs shown as maps: tabs 0 to outputCount() - 1.
    int outputCount() const;
    FeatureMapView* view(int index) const;
    /// The last run's values that are no tensors (output, node, type, value); null when it had none.
    QTableWidget* textOutputs() const { return m_texts; }
    FeatureMapView* currentView() const;
    /// The current output's large map for the input view; empty when there is none.
    MapOverlay currentOverlay() const;
    QTabWidget* tabs() const { return m_tabs; }

    /// Keeps the shown outputs as the reference the next runs are compared with (another image, say); `label`
    /// names it. Every output of the same key and shape then offers this run, the reference and their difference.
    void pinReference(const QString& label);
    void clearReference();
    bool hasReference() const { return !m_reference.isEmpty(); }

    void setNormalisation(Normalisation normalisation);
    Normalisation normalisation() const;
    void setGradientName(const QString& name);
    QString gradientName() const;

    /// Saves the shown maps of the current output as PNG (atomically).
    bool exportPng(const QString& path, QString* error) const;
    /// Saves every output as <dir>/<key>.npy (atomically); returns the written paths.
    QStringList exportNpy(const QString& directory, QString* error) const;

Q_SIGNALS:
    /// The colour map or the normalisation changed.
    void displayChanged();
    /// The current output's overlay (FeatureMapView::overlay) changed, or another output became current.
    void overlayChanged();
    /// The user chose `layout` for `node`'s maps ("" for the detected one).
    void layoutChosen(const QString& node, const QString& layout);

private:
    void applyDisplay();

    QComboBox* m_gradient;
    QComboBox* m_normalisation;
    QLabel* m_summary;
    QLabel* m_staleBanner;
    QString m_outOfDate;
    QTabWidget* m_tabs;
    QTableWidget* m_texts = nullptr; ///< the last tab, when the run had values that are no tensors
    QPushButton* m_pin;
    QPushButton* m_unpin;
    QHash<QString, FeatureTensor> m_reference; ///< by output key
    QString m_referenceLabel;
    QString m_shownImage; ///< the image of the shown outputs, to name a pinned reference
    QPair<float, float> m_globalRange{0.f, 1.f};
};

} // namespace featscope::ui
