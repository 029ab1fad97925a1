#include "ResultsPanel.h"

#include <QComboBox>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTabWidget>
#include <QVBoxLayout>

namespace featscope::ui {

namespace {

const QList<QPair<QString, QCPColorGradient::GradientPreset>>& gradients()
{
    static const QList<QPair<QString, QCPColorGradient::GradientPreset>> list{
        {QStringLiteral("Thermal"), QCPColorGradient::gpThermal},
        {QStringLiteral("Hot"), QCPColorGradient::gpHot},
        {QStringLiteral("Grayscale"), QCPColorGradient::gpGrayscale},
        {QStringLiteral("Jet"), QCPColorGradient::gpJet},
        {QStringLiteral("Polar"), QCPColorGradient::gpPolar},
        {QStringLiteral("Night"), QCPColorGradient::gpNight},
        {QStringLiteral("Spectrum"), QCPColorGradient::gpSpectrum},
        {QStringLiteral("Ion"), QCPColorGradient::gpIon}};
    return list;
}

} // namespace

ResultsPanel::ResultsPanel(QWidget* parent)
    : QWidget(parent), m_gradient(new QComboBox), m_normalisation(new QComboBox), m_summary(new QLabel),
      m_tabs(new QTabWidget)
{
    for (const auto& g : gradients())
        m_gradient->addItem(g.first);
    m_gradient->setObjectName(QStringLiteral("colourMap"));
    m_normalisation->addItem(tr("Per channel"), int(Normalisation::PerChannel));
    m_normalisation->addItem(tr("Per node"), int(Normalisation::PerNode));
    m_normalisation->addItem(tr("Global (all outputs)"), int(Normalisation::Global));
    m_normalisation->setObjectName(QStringLiteral("normalisation"));
    m_normalisation->setToolTip(tr("Colour range: each map's own min/max, the output's, or all outputs'"));
    m_summary->setWordWrap(true);
    m_tabs->setObjectName(QStringLiteral("resultTabs"));
    m_tabs->setDocumentMode(true);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Colour map:")));
    controls->addWidget(m_gradient);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Normalise:")));
    controls->addWidget(m_normalisation);
    controls->addSpacing(12);
    controls->addWidget(m_summary, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(m_tabs, 1);

    connect(m_gradient, &QComboBox::currentIndexChanged, this, &ResultsPanel::applyDisplay);
    connect(m_normalisation, &QComboBox::currentIndexChanged, this, &ResultsPanel::applyDisplay);
    clear();
}

void ResultsPanel::clear(const QString& message)
{
    while (m_tabs->count() > 0) {
        QWidget* w = m_tabs->widget(0);
        m_tabs->removeTab(0);
        delete w;
    }
    showMessage(message.isEmpty() ? tr("No results yet: tick return nodes, choose an image and press Run (Ctrl+R).")
                                  : message,
                false);
}

void ResultsPanel::showMessage(const QString& message, bool error)
{
    m_summary->setText(message);
    m_summary->setStyleSheet(error ? QStringLiteral("color: #c62828; font-weight: bold;") : QString());
}

bool ResultsPanel::setResults(const QVector<RunOutput>& outputs, const QString& summary)
{
    clear();
    QStringList problems;
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    QVector<FeatureMapView*> views;
    for (const RunOutput& output : outputs) {
        QString error;
        FeatureTensor tensor = FeatureTensor::load(output, &error);
        if (tensor.isEmpty()) {
            problems.append(error);
            continue;
        }
        const auto r = tensor.range();
        lo = std::min(lo, r.first);
        hi = std::max(hi, r.second);
        auto* view = new FeatureMapView(output, std::move(tensor));
        views.append(view);
        m_tabs->addTab(view, QStringLiteral("%1  [%2]").arg(output.key, output.shapeText()));
    }
    m_globalRange = {lo, hi};
    applyDisplay();
    showMessage(problems.isEmpty() ? summary : summary + QLatin1Char(' ') + problems.join(QLatin1Char(' ')),
                !problems.isEmpty());
    return problems.isEmpty();
}

int ResultsPanel::outputCount() const { return m_tabs->count(); }

FeatureMapView* ResultsPanel::view(int index) const { return qobject_cast<FeatureMapView*>(m_tabs->widget(index)); }

FeatureMapView* ResultsPanel::currentView() const { return qobject_cast<FeatureMapView*>(m_tabs->currentWidget()); }

void ResultsPanel::applyDisplay()
{
    const auto preset = gradients().value(m_gradient->currentIndex()).second;
    const auto norm = Normalisation(m_normalisation->currentData().toInt());
    for (int i = 0; i < m_tabs->count(); ++i)
        if (FeatureMapView* v = view(i)) {
            v->setGradient(preset);
            v->setNormalisation(norm, m_globalRange);
        }
}

void ResultsPanel::setNormalisation(Normalisation normalisation)
{
    m_normalisation->setCurrentIndex(m_normalisation->findData(int(normalisation)));
}

Normalisation ResultsPanel::normalisation() const { return Normalisation(m_normalisation->currentData().toInt()); }

void ResultsPanel::setGradientName(const QString& name)
{
    const int index = m_gradient->findText(name);
    if (index >= 0)
        m_gradient->setCurrentIndex(index);
}

QString ResultsPanel::gradientName() const { return m_gradient->currentText(); }

bool ResultsPanel::exportPng(const QString& path, QString* error) const
{
    FeatureMapView* v = currentView();
    if (!v) {
        *error = tr("There are no maps to save; run the model first.");
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || !v->renderImage().save(&file, "PNG") || !file.commit()) {
        *error = tr("Cannot write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

QStringList ResultsPanel::exportNpy(const QString& directory, QString* error) const
{
    QStringList written;
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9_.-]"));
    for (int i = 0; i < m_tabs->count(); ++i) {
        FeatureMapView* v = view(i);
        QString name = v->output().key;
        name.replace(unsafe, QStringLiteral("_"));
        const QString path = QDir(directory).filePath(name + QStringLiteral(".npy"));
        const FeatureTensor& t = v->tensor();
        if (!writeNpy(path, t.shape(), t.data().constData(), t.data().size(), error)) {
            *error = tr("Cannot write %1: %2").arg(path, *error);
            return written;
        }
        written.append(path);
    }
    if (written.isEmpty())
        *error = tr("There are no tensors to save; run the model first.");
    return written;
}

} // namespace featscope::ui
