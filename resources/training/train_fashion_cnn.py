#!/usr/bin/python3
"""Train featscope's bundled demo model: a small CNN on Fashion-MNIST (CPU, reproducible).

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz, idx format),
trains deterministically (fixed seeds, torch.use_deterministic_algorithms, 2 threads) and writes

  resources/models/fashion_cnn.pt   TorchScript (torch.jit.script) with _extra_files["featscope.json"]
  resources/models/fashion_cnn.md   architecture, accuracy, command and seed

Run from the repository root:  /usr/bin/python3 resources/training/train_fashion_cnn.py
"""
import argparse
import gzip
import json
import os
import platform
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DATA_DIR = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCES = os.path.dirname(HERE)


def read_idx(path):
    """Reads an idx1/idx3 ubyte file (optionally gzipped) into a uint8 numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_split(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels


class ConvBlock(nn.Module):
    """conv 3x3 -> batch norm -> ReLU -> 2x2 max pool (halves the resolution)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.relu(self.bn(self.conv(x))))


class FashionCNN(nn.Module):
    """1x28x28 -> block1 (32x14x14) -> block2 (64x7x7) -> block3 (128x3x3) -> flatten -> fc (10)."""

    def __init__(self, num_classes: int = 10, widths=(32, 64, 128), dropout: float = 0.25):
        super().__init__()
        c1, c2, c3 = widths
        self.features = nn.Sequential(OrderedDict([
            ("block1", ConvBlock(1, c1)),
            ("block2", ConvBlock(c1, c2)),
            ("block3", ConvBlock(c2, c3)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("dropout", nn.Dropout(dropout)),
            ("fc", nn.Linear(c3 * 3 * 3, num_classes)),
        ]))

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DATA_DIR)
    ap.add_argument("--out", default=os.path.join(RESOURCES, "models"))
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_img, train_lbl = load_split(args.data, "train")
    test_img, test_lbl = load_split(args.data, "test")
    train_f = torch.from_numpy(train_img.astype(np.float32) / 255.0)
    mean = float(train_f.mean())
    std = float(train_f.std())
    x_train = ((train_f - mean) / std).unsqueeze(1)
    y_train = torch.from_numpy(train_lbl.astype(np.int64))
    x_test = ((torch.from_numpy(test_img.astype(np.float32) / 255.0) - mean) / std).unsqueeze(1)
    y_test = torch.from_numpy(test_lbl.astype(np.int64))
    print(f"train {tuple(x_train.shape)} test {tuple(x_test.shape)} mean {mean:.4f} std {std:.4f}", flush=True)

    model = FashionCNN(len(CLASSES))
    n_params = sum(p.numel() for p in model.parameters())
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)

    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x_train), args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5  # random horizontal flip
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs} loss {total_loss / len(x_train):.4f} "
              f"test acc {acc * 100:.2f}% ({time.time() - t0:.1f} s)", flush=True)

    model.eval()
    test_acc = evaluate(model, x_test, y_test)
    train_time = time.time() - t_start

    meta = {
        "input_size": [28, 28],
        "channels": 1,
        "mean": [round(mean, 6)],
        "std": [round(std, 6)],
        "resize": 28,
        "center_crop": 28,
        "classes": CLASSES,
    }
    os.makedirs(args.out, exist_ok=True)
    scripted = torch.jit.script(model)
    pt_path = os.path.join(args.out, "fashion_cnn.pt")
    scripted.save(pt_path, _extra_files={"featscope.json": json.dumps(meta, indent=2)})

    # Sanity check: the saved file reproduces the eager model's test accuracy.
    reloaded = torch.jit.load(pt_path)
    reloaded_acc = evaluate(reloaded, x_test, y_test)
    assert abs(reloaded_acc - test_acc) < 1e-9, (reloaded_acc, test_acc)

    md = f"""# fashion_cnn.pt

Small CNN bundled with featscope as a demo model. TorchScript (`torch.jit.script`), saved in eval mode.
Preprocessing metadata is stored inside the archive as the extra file `featscope.json`.

## Architecture ({n_params:,} parameters)

```
{model}
```

forward: `features` -> `torch.flatten(x, 1)` -> `classifier`.
Input `1x1x28x28` float, grayscale in [0, 1] normalized with mean {mean:.4f} / std {std:.4f}
(computed on the training split). Output: 10 logits.

Classes: {", ".join(CLASSES)}.

## Training

- Data: Fashion-MNIST from Debian's `dataset-fashion-mnist` (`{args.data}`), 60,000 train / 10,000 test.
- SGD (Nesterov momentum 0.9, weight decay 5e-4), one-cycle LR with max {args.lr}, batch {args.batch_size},
  {args.epochs} epochs, random horizontal flips.
- Reproducible: seed {args.seed} (`torch.manual_seed`, shuffling generator), `torch.use_deterministic_algorithms(True)`,
  {args.threads} threads, CPU only.
- Test accuracy: **{test_acc * 100:.2f}%** (10,000 test images).
- Training time: {train_time / 60:.1f} min on {args.threads} CPU threads ({platform.processor() or platform.machine()}),
  torch {torch.__version__}.

Command (from the repository root):

```
/usr/bin/python3 resources/training/train_fashion_cnn.py --epochs {args.epochs} --seed {args.seed}
```
"""
    with open(os.path.join(args.out, "fashion_cnn.md"), "w") as f:
        f.write(md)
    print(f"params {n_params}  test accuracy {test_acc * 100:.2f}%  total time {train_time:.1f} s  -> {pt_path}")


if __name__ == "__main__":
    main()
