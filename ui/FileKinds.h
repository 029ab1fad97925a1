#pragma once

#include <QString>

namespace featscope::ui {

// Which files the inspector opens as models and as images: for drops and for the file dialogs' filters.

bool isModelFile(const QString& path);
bool isImageFile(const QString& path);
/// "TorchScript models (*.pt *.pth …);;All files (*)", for an open dialog.
QString modelFileFilter();
/// "Images (*.png *.jpg …)", for an open dialog.
QString imageFileFilter();

} // namespace featscope::ui
