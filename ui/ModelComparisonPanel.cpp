#include "ModelComparisonPanel.h"

#include "ModelDocument.h"

#include <featscope/protocol/Messages.h>

#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace featscope::ui {

namespace {

enum Columns { NameColumn, ShapeColumn, MaxAbsColumn, MaxRelColumn, VerdictColumn, ColumnCount };

/// A cell that sorts by its number (missing numbers last), shown with 4 significant digits.
QTableWidgetItem* numberItem(const std::optional<double>& value)
{
    auto* item = new QTableWidgetItem;
    if (value)
        item->setData(Qt::DisplayRole, *value);
    else
        item->setText(QStringLiteral("–"));
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

const QColor kDivergent(0xff, 0xcd, 0xd2);
const QColor kAgreeing(0xc8, 0xe6, 0xc9);

} // namespace

ModelComparisonPanel::ModelComparisonPanel(ModelDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_summary(new QLabel), m_table(new QTableWidget(0, ColumnCount))
{
    setObjectName(QStringLiteral("comparisonPanel"));
    m_summary->setObjectName(QStringLiteral("comparisonSummary"));
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table->setObjectName(QStringLiteral("comparisonTable"));
    m_table->setHorizontalHeaderLabels({tr("Node"), tr("Shape (A / B)"), tr("Max |A − B|"), tr("Max relative"), tr("Verdict")});
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(NameColumn, QHeaderView::Stretch);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_summary);
    layout->addWidget(m_table, 1);
    connect(m_table, &QTableWidget::currentCellChanged, this, [this](int row) {
        if (row >= 0 && m_table->item(row, NameColumn))
            Q_EMIT nodeSelected(m_table->item(row, NameColumn)->text());
    });
    connect(document, &ModelDocument::comparisonChanged, this, &ModelComparisonPanel::showComparison);
    connect(document, &ModelDocument::modelChanged, this, &ModelComparisonPanel::showComparison);
    showComparison();
}

QHash<QString, QColor> ModelComparisonPanel::nodeColours() const
{
    QHash<QString, QColor> colours;
    for (const ModelComparison::Node& node : m_document->comparison().nodes)
        colours.insert(node.name, node.divergent ? kDivergent : kAgreeing);
    return colours;
}

void ModelComparisonPanel::showComparison()
{
    const ModelComparison& comparison = m_document->comparison();
    m_table->setSortingEnabled(false);
    m_table->setRowCount(int(comparison.nodes.size()));
    for (int row = 0; row < comparison.nodes.size(); ++row) {
        const ModelComparison::Node& node = comparison.nodes[row];
        m_table->setItem(row, NameColumn, new QTableWidgetItem(node.name));
        m_table->setItem(row, ShapeColumn, new QTableWidgetItem(node.shapeA == node.shapeB ? protocol::shapeText(node.shapeA)
                                                                 : protocol::shapeText(node.shapeA) + QStringLiteral(" / ") + protocol::shapeText(node.shapeB)));
        m_table->setItem(row, MaxAbsColumn, numberItem(node.maxAbs));
        m_table->setItem(row, MaxRelColumn, numberItem(node.maxRel));
        auto* verdict = new QTableWidgetItem(node.name == comparison.firstDivergent ? tr("first divergent")
                                             : node.divergent                     ? tr("divergent")
                                                                                  : tr("equal"));
        verdict->setBackground(node.divergent ? kDivergent : kAgreeing);
        m_table->setItem(row, VerdictColumn, verdict);
    }
    // Execution order until the user sorts by a column.
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
    m_table->setSortingEnabled(true);
    if (comparison.isEmpty()) {
        m_summary->setText(tr("File > Compare with Model… runs another model file (a checkpoint, an export, a quantised "
                              "copy) on the same image and compares every node the two share."));
    } else {
        QString text = tr("%1 against %2 on %3, %4 mode: %n shared node(s)", nullptr, int(comparison.nodes.size()))
                           .arg(QFileInfo(comparison.inputs.model).fileName(), QFileInfo(comparison.otherModel).fileName(),
                                QFileInfo(comparison.inputs.image).fileName(), modeName(comparison.inputs.mode));
        text += comparison.firstDivergent.isEmpty()
                    ? tr("; all equal within atol %1 + rtol %2 × |B|.").arg(comparison.atol).arg(comparison.rtol)
                    : tr("; the first to differ beyond atol %1 + rtol %2 × |B| is %3.").arg(comparison.atol).arg(comparison.rtol).arg(comparison.firstDivergent);
        if (!comparison.onlyInA.isEmpty() || !comparison.onlyInB.isEmpty())
            text += tr(" Only in A: %1. Only in B: %2.").arg(comparison.onlyInA.size()).arg(comparison.onlyInB.size());
        m_summary->setText(text);
    }
    Q_EMIT nodeColoursChanged(nodeColours());
}

} // namespace featscope::ui
