#pragma once

class QWidget;

namespace featscope::ui {

/// Spin boxes and combo boxes take the mouse wheel only when they have the keyboard focus; otherwise the
/// wheel goes on to the widget below (a scroll area scrolls) and no value changes by passing over a field.
/// Contract: applies to `root` itself and to every spin box and combo box below it at the time of the call;
/// sets their focus policy to Qt::StrongFocus so the wheel cannot give them focus either.
void takeWheelOnlyWhenFocused(QWidget* root);

} // namespace featscope::ui
