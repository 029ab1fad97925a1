#pragma once

// Maps drawn as colours: the colour maps the inspector offers and one way of colouring values with them,
// shared by the feature maps, the CAM over the input and the top images.

#include <qcustomplot.h>

#include <QImage>
#include <QList>
#include <QPair>
#include <QString>

namespace featscope::ui {

/// The colour maps a user can choose, by name, in the order the menus list them.
const QList<QPair<QString, QCPColorGradient::GradientPreset>>& colourMaps();
/// The colour map called `name` (Thermal when there is none of that name).
QCPColorGradient colourMapNamed(const QString& name);

/// `values` (height x width, row-major) coloured by `gradient` over `range`: one pixel per value.
QImage colourised(const float* values, int width, int height, const QCPRange& range, const QCPColorGradient& gradient);

} // namespace featscope::ui
