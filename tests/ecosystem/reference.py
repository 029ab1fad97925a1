"""The same descriptors as `featscope-cli features`, computed in Python with torchvision.

Shared by the ecosystem tests and the throughput comparison: torchvision's create_feature_extractor
on the eager FashionCNN (the training script's class) holding the bundled TorchScript model's weights,
PIL decoding, the preprocessing from the model's featscope.json, the same pooling and normalization.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision.models.feature_extraction import create_feature_extractor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
sys.path.insert(0, os.path.join(ROOT, "resources", "training"))
sys.path.insert(0, os.path.join(ROOT, "examples", "retrieval"))
from train_fashion_cnn import FashionCNN  # noqa: E402


def fashion_model():
    """The eager FashionCNN with the bundled model's weights (eval mode) and its featscope.json."""
    extra = {"featscope.json": ""}
    scripted = torch.jit.load(MODEL, _extra_files=extra)
    model = FashionCNN()
    model.load_state_dict(scripted.state_dict())
    return model.eval(), json.loads(extra["featscope.json"])


def load_gray(paths, meta):
    """[n, 1, 28, 28] normalized tensors of 28x28 grayscale images (no resizing needed)."""
    mean, std = meta["mean"][0], meta["std"][0]
    arrays = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0 for p in paths])
    return torch.from_numpy((arrays - mean) / std).unsqueeze(1)


def pool(value, mode, p=3.0):
    if value.dim() == 2:
        return value
    if mode == "none":
        return value.flatten(1)
    dims = (1,) if value.dim() == 3 else tuple(range(2, value.dim()))
    if mode == "avg":
        return value.mean(dims)
    if mode == "max":
        return value.amax(dims)
    if mode == "gem":
        return value.clamp_min(1e-6).pow(p).mean(dims).pow(1.0 / p)
    raise ValueError(mode)


def descriptors(paths, node, mode="avg", l2=False, batch=32):
    """float32 [n, d] descriptors of `paths` from `node` of the Fashion model, with torchvision."""
    model, meta = fashion_model()
    extractor = create_feature_extractor(model, {node: "f"}).eval()
    rows = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            value = pool(extractor(load_gray(paths[i:i + batch], meta))["f"], mode)
            if l2:
                value = torch.nn.functional.normalize(value, dim=1)
            rows.append(value.numpy())
    return np.concatenate(rows).astype(np.float32)
