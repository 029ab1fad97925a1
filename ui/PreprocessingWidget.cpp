#include "PreprocessingWidget.h"

#include "WheelGuard.h"

#include <featscope/Errors.h>

#include <QComboBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QSpinBox>

namespace featscope::ui {

namespace {

QString join(const std::vector<double>& values)
{
    QStringList parts;
    for (double v : values)
        parts.append(QString::number(v, 'g', 6));
    return parts.join(QStringLiteral(", "));
}

std::vector<double> parse(const QString& text, bool* ok)
{
    std::vector<double> out;
    *ok = true;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool valid = false;
        const double v = part.trimmed().toDouble(&valid);
        if (!valid) {
            *ok = false;
            return {};
        }
        out.push_back(v);
    }
    *ok = *ok && !out.empty();
    return out;
}

} // namespace

PreprocessingWidget::PreprocessingWidget(QWidget* parent)
    : QWidget(parent), m_resize(new QSpinBox), m_crop(new QSpinBox), m_channels(new QComboBox), m_mean(new QLineEdit),
      m_std(new QLineEdit)
{
    m_resize->setObjectName(QStringLiteral("resize"));
    m_crop->setObjectName(QStringLiteral("crop"));
    m_resize->setRange(0, 4096);
    m_resize->setSpecialValueText(tr("keep size"));
    m_resize->setSuffix(tr(" px"));
    m_resize->setToolTip(tr("Resize so the shorter side has this many pixels (0: keep)"));
    m_crop->setRange(0, 4096);
    m_crop->setSpecialValueText(tr("no crop"));
    m_crop->setSuffix(tr(" px"));
    m_crop->setToolTip(tr("Square centre crop (0: none)"));
    m_channels->addItem(tr("RGB (3)"), 3);
    m_channels->addItem(tr("Grayscale (1)"), 1);
    m_mean->setToolTip(tr("Per-channel mean subtracted after scaling pixels to [0, 1], comma separated"));
    m_std->setToolTip(tr("Per-channel standard deviation divided by, comma separated"));
    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    form->addRow(tr("Resize:"), m_resize);
    form->addRow(tr("Centre crop:"), m_crop);
    form->addRow(tr("Channels:"), m_channels);
    form->addRow(tr("Mean:"), m_mean);
    form->addRow(tr("Std:"), m_std);
    setValue(Preprocessing());
    takeWheelOnlyWhenFocused(this);
    for (QSpinBox* s : {m_resize, m_crop})
        connect(s, qOverload<int>(&QSpinBox::valueChanged), this, &PreprocessingWidget::changed);
    connect(m_channels, &QComboBox::currentIndexChanged, this, &PreprocessingWidget::changed);
    connect(m_mean, &QLineEdit::textEdited, this, &PreprocessingWidget::changed);
    connect(m_std, &QLineEdit::textEdited, this, &PreprocessingWidget::changed);
}

Preprocessing PreprocessingWidget::value() const
{
    Preprocessing p;
    p.resize = m_resize->value();
    p.centerCrop = m_crop->value();
    p.channels = m_channels->currentData().toInt();
    bool ok = false;
    const std::vector<double> mean = parse(m_mean->text(), &ok);
    if (ok)
        p.mean = mean;
    const std::vector<double> std = parse(m_std->text(), &ok);
    if (ok)
        p.std = std;
    return p;
}

void PreprocessingWidget::setValue(const Preprocessing& p)
{
    const QSignalBlocker b1(m_resize), b2(m_crop), b3(m_channels);
    m_resize->setValue(p.resize);
    m_crop->setValue(p.centerCrop);
    m_channels->setCurrentIndex(m_channels->findData(p.channels == 1 ? 1 : 3));
    m_mean->setText(join(p.mean));
    m_std->setText(join(p.std));
    Q_EMIT changed();
}

bool PreprocessingWidget::isValid(QString* error) const
{
    bool okMean = false, okStd = false;
    parse(m_mean->text(), &okMean);
    parse(m_std->text(), &okStd);
    QString message;
    if (!okMean)
        message = tr("Mean needs comma-separated numbers.");
    else if (!okStd)
        message = tr("Std needs comma-separated numbers.");
    else
        try {
            value().validate(); // the rule the engine and the CLI apply
        } catch (const featscope::Error& e) {
            message = QString::fromStdString(e.what());
        }
    if (error)
        *error = message;
    return message.isEmpty();
}

} // namespace featscope::ui
