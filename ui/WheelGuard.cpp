#include "WheelGuard.h"

#include <QAbstractSpinBox>
#include <QComboBox>
#include <QEvent>
#include <QWidget>

namespace featscope::ui {

namespace {

class WheelFilter : public QObject {
public:
    using QObject::QObject;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override
    {
        if (event->type() != QEvent::Wheel)
            return false;
        auto* widget = qobject_cast<QWidget*>(watched);
        if (!widget || widget->hasFocus())
            return false;
        // Filtered but not accepted: QApplication hands the event on to the parent widgets.
        event->ignore();
        return true;
    }
};

bool takesValueFromWheel(QWidget* widget)
{
    return qobject_cast<QAbstractSpinBox*>(widget) || qobject_cast<QComboBox*>(widget);
}

void guard(QWidget* widget)
{
    static WheelFilter* filter = new WheelFilter; // one stateless filter for the whole application
    widget->setFocusPolicy(Qt::StrongFocus);
    widget->removeEventFilter(filter); // idempotent: installing twice would filter twice
    widget->installEventFilter(filter);
}

} // namespace

void takeWheelOnlyWhenFocused(QWidget* root)
{
    if (takesValueFromWheel(root))
        guard(root);
    for (QWidget* child : root->findChildren<QWidget*>())
        if (takesValueFromWheel(child))
            guard(child);
}

} // namespace featscope::ui
