#pragma once

#include <QColor>
#include <QHash>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace featscope::ui {

class ModelDocument;

/// "Model comparison": the open model against another file on one image, node by node: the largest absolute
/// and relative differences, which nodes diverge beyond the tolerance (the first one named), which exist in one
/// model only; the graph's boxes coloured by agreement.
class ModelComparisonPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelComparisonPanel(ModelDocument* document, QWidget* parent = nullptr);

    /// Light red for divergent nodes, light green for agreeing ones; empty without a comparison.
    QHash<QString, QColor> nodeColours() const;
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    void nodeSelected(const QString& name);
    void nodeColoursChanged(const QHash<QString, QColor>& colours);

private:
    void showComparison();

    ModelDocument* m_document;
    QLabel* m_summary;
    QTableWidget* m_table;
};

} // namespace featscope::ui
