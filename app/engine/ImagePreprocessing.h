#pragma once

#include <QJsonObject>
#include <QString>
#include <QVector>

#include <torch/types.h>

/// Preprocessing of one input image, as torchvision's transforms do it (Resize, CenterCrop, Normalize).
struct ImagePreprocessing {
    int resize = 256;      ///< shorter side after resizing; 0 keeps the size
    int centerCrop = 224;  ///< side of the square centre crop; 0 keeps the whole image
    int channels = 3;      ///< 1 (grayscale) or 3 (RGB)
    QVector<double> mean{0.485, 0.456, 0.406};
    QVector<double> std{0.229, 0.224, 0.225};

    /// Reads the protocol's "preprocessing" object; missing fields keep their defaults.
    static ImagePreprocessing fromJson(const QJsonObject& object);
    /// Reads a model's featscope.json extra file ({input_size, channels, mean, std, resize, center_crop}).
    static ImagePreprocessing fromModelMetadata(const QJsonObject& object);
    QJsonObject toJson() const;
};

/// Decodes `path` and returns a [1, C, H, W] float tensor; throws featscope::Error with a clear message.
torch::Tensor loadImageTensor(const QString& path, const ImagePreprocessing& options);
