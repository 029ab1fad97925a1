#include "StatisticsPanel.h"

#include "ModelDocument.h"
#include "NodeStatisticsModel.h"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>

namespace featscope::ui {

namespace {

/// Light blue (low) through pale yellow to orange (high): light enough that a box's text stays readable.
QColor boxColour(double fraction)
{
    static const QCPColorGradient gradient = [] {
        QCPColorGradient g;
        g.setColorStops({{0.0, QColor(0xd6, 0xea, 0xf8)}, {0.5, QColor(0xff, 0xf5, 0x9d)}, {1.0, QColor(0xff, 0x8a, 0x50)}});
        return g;
    }();
    return QColor::fromRgb(QCPColorGradient(gradient).color(fraction, QCPRange(0, 1)));
}

} // namespace

StatisticsPanel::StatisticsPanel(ModelDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_model(new NodeStatisticsModel(this)), m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView), m_histogram(new QCustomPlot), m_colourBy(new QComboBox), m_legend(new QLabel), m_summary(new QLabel),
      m_compute(new QPushButton(tr("Compute Statistics")))
{
    setObjectName(QStringLiteral("statisticsPanel"));
    m_compute->setObjectName(QStringLiteral("computeStatistics"));
    m_compute->setToolTip(tr("Run the model once and summarise every node, without keeping the tensors (Ctrl+Shift+R)"));
    m_colourBy->setObjectName(QStringLiteral("colourBy"));
    m_colourBy->addItem(tr("no colouring"), -1);
    m_colourBy->addItem(tr("mean"), int(NodeStatisticsModel::MeanColumn));
    m_colourBy->addItem(tr("std"), int(NodeStatisticsModel::StdColumn));
    m_colourBy->addItem(tr("max"), int(NodeStatisticsModel::MaxColumn));
    m_colourBy->addItem(tr("zeros (fraction)"), int(NodeStatisticsModel::ZerosColumn));
    m_colourBy->addItem(tr("dead channels"), int(NodeStatisticsModel::DeadColumn));
    m_legend->setObjectName(QStringLiteral("legend"));
    m_summary->setObjectName(QStringLiteral("statisticsSummary"));
    m_summary->setWordWrap(true);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(NodeStatisticsModel::SortRole);
    m_table->setModel(m_proxy);
    m_table->setObjectName(QStringLiteral("statisticsTable"));
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(NodeStatisticsModel::NameColumn, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(NodeStatisticsModel::NameColumn, QHeaderView::Stretch);
    m_histogram->setObjectName(QStringLiteral("statisticsHistogram"));
    m_histogram->setMinimumWidth(220);
    m_histogram->xAxis->setLabel(tr("value"));
    m_histogram->yAxis->setLabel(tr("elements"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_compute);
    controls->addWidget(new QLabel(tr("Colour graph by:")));
    controls->addWidget(m_colourBy);
    controls->addWidget(m_legend);
    controls->addWidget(m_summary, 1);
    auto* splitter = new QSplitter;
    splitter->addWidget(m_table);
    splitter->addWidget(m_histogram);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(splitter, 1);

    connect(m_compute, &QPushButton::clicked, this, &StatisticsPanel::computeRequested);
    connect(m_colourBy, &QComboBox::currentIndexChanged, this, [this] {
        updateLegend();
        Q_EMIT nodeColoursChanged(nodeColours());
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (!current.isValid())
            return;
        const int row = m_proxy->mapToSource(current).row();
        showHistogram(row);
        Q_EMIT nodeSelected(m_model->nodes().value(row).name);
    });
    connect(document, &ModelDocument::statisticsChanged, this, &StatisticsPanel::showStatistics);
    connect(document, &ModelDocument::modelChanged, this, &StatisticsPanel::showStatistics);
    showStatistics();
}

void StatisticsPanel::setColouring(int column) { m_colourBy->setCurrentIndex(std::max(0, m_colourBy->findData(column))); }

int StatisticsPanel::colouring() const { return m_colourBy->currentData().toInt(); }

QPair<double, double> StatisticsPanel::valueRange(int column) const
{
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int row = 0; row < m_model->rowCount(); ++row)
        if (const auto v = m_model->value(row, column)) {
            lo = std::min(lo, *v);
            hi = std::max(hi, *v);
        }
    return {lo, hi};
}

QHash<QString, QColor> StatisticsPanel::nodeColours() const
{
    QHash<QString, QColor> colours;
    const int column = colouring();
    if (column < 0)
        return colours;
    const auto [lo, hi] = valueRange(column);
    for (int row = 0; row < m_model->rowCount(); ++row)
        if (const auto v = m_model->value(row, column))
            colours.insert(m_model->nodes()[row].name, boxColour(hi > lo ? (*v - lo) / (hi - lo) : 0.5));
    return colours;
}

void StatisticsPanel::updateLegend()
{
    const int column = colouring();
    const auto [lo, hi] = valueRange(column);
    if (column < 0 || !std::isfinite(lo)) {
        m_legend->clear();
        m_legend->setToolTip({});
        return;
    }
    // "low [bar in the boxes' colours] high", drawn as one picture.
    const QString low = QString::number(lo, 'g', 3), high = QString::number(hi, 'g', 3);
    const QFontMetrics metrics(m_legend->font());
    const int barWidth = 100, gap = 6;
    const int lowWidth = metrics.horizontalAdvance(low), highWidth = metrics.horizontalAdvance(high);
    QPixmap legend(lowWidth + gap + barWidth + gap + highWidth, metrics.height());
    legend.fill(Qt::transparent);
    QPainter painter(&legend);
    painter.setFont(m_legend->font());
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRect(0, 0, lowWidth, legend.height()), Qt::AlignVCenter, low);
    for (int x = 0; x < barWidth; ++x) {
        painter.setPen(boxColour(double(x) / (barWidth - 1)));
        painter.drawLine(lowWidth + gap + x, 2, lowWidth + gap + x, legend.height() - 3);
    }
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRect(lowWidth + gap + barWidth + gap, 0, highWidth, legend.height()), Qt::AlignVCenter, high);
    painter.end();
    m_legend->setPixmap(legend);
    m_legend->setToolTip(tr("Box colours: %1 from %2 (blue) to %3 (orange)").arg(m_colourBy->currentText(), low, high));
}

void StatisticsPanel::showStatistics()
{
    const StatisticsSet& statistics = m_document->statistics();
    m_model->setNodes(statistics.nodes);
    m_histogram->clearPlottables();
    m_histogram->replot(QCustomPlot::rpQueuedReplot);
    if (statistics.isEmpty()) {
        m_summary->setText(tr("Summarise every node of the model on the image: shape, min, max, mean, std, zeros, dead channels."));
    } else {
        QString text = tr("%n node(s) · %1 mode · %2 · %3 ms", nullptr, int(statistics.nodes.size()))
                           .arg(modeName(statistics.inputs.mode), QFileInfo(statistics.inputs.image).fileName())
                           .arg(statistics.elapsedMs);
        if (!statistics.skipped.isEmpty())
            text += tr(" · %n node(s) inside loops or branches have no single value", nullptr, int(statistics.skipped.size()));
        m_summary->setText(text);
        showHistogram(0); // until a row is chosen, the input's
    }
    updateLegend();
    Q_EMIT nodeColoursChanged(nodeColours());
}

void StatisticsPanel::showHistogram(int row)
{
    m_histogram->clearPlottables();
    const NodeSummary node = m_model->nodes().value(row);
    if (node.histogram.isEmpty() || !node.min || !node.max) {
        m_histogram->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    // Counts of a node span orders of magnitude; the axis starts at zero all the same (bars are counts).
    auto* bars = new QCPBars(m_histogram->xAxis, m_histogram->yAxis);
    bars->setPen(Qt::NoPen);
    bars->setBrush(QColor(0x42, 0x7a, 0xb5));
    const int bins = int(node.histogram.size());
    const double width = (*node.max - *node.min) / bins;
    const double step = width > 0 ? width : 1.0;
    for (int i = 0; i < bins; ++i)
        bars->addData(*node.min + (i + 0.5) * step, double(node.histogram[i]));
    bars->setWidth(step);
    m_histogram->xAxis->setRange(*node.min, *node.min + bins * step);
    bars->rescaleValueAxis(false, true);
    m_histogram->xAxis->setLabel(tr("value of %1").arg(node.name));
    m_histogram->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace featscope::ui
