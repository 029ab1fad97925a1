#pragma once

// Decoding, resizing and centre-cropping an image as torchvision's transforms do it, before ToTensor and
// Normalize: the pixels a model gets, for featscope_imaging's tensors and for the inspector's input view.

#include <featscope/protocol/Preprocessing.h>

#include <QImage>
#include <QRectF>

#include <string>

namespace featscope::imaging {

/// An image on its way into a model.
struct PreprocessedImage {
    QImage original; ///< decoded, EXIF orientation applied, in the preprocessing's channels (Grayscale8 or RGB888)
    QImage input;    ///< resized and centre-cropped (zero-padded where the image is smaller): what the model sees
    /// The input's area in the original image's pixel coordinates; reaches past the image where padded.
    QRectF inputInOriginal;
};

/// Decodes `path` and applies Resize(resize) and CenterCrop(centerCrop) of `preprocessing`.
///
/// Contract: Resize sets the shorter side to `resize` and the longer to int(resize * long / short) (Qt's
/// smooth scaling in place of PIL's antialiased bilinear); CenterCrop starts at Python's
/// round((size - crop) / 2) (halves to even) and pads (crop - size) // 2 zero rows or columns before an
/// image that is smaller. Throws featscope::Error naming the file when it does not exist, cannot be
/// decoded, claims more than 20,000 pixels per side or would exceed 64 M pixels after resizing, and when
/// `preprocessing` fails validate(). Thread-safe.
PreprocessedImage preprocessImage(const std::string& path, const protocol::Preprocessing& preprocessing);

} // namespace featscope::imaging
