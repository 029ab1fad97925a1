#!/usr/bin/python3
"""Writes what the fuzz targets need: a tiny TorchScript model and image (--fixtures DIR, at build
time), and the seed corpora of fuzz/corpus/ (--seeds DIR, run by hand when the seeds change).

The model is small on purpose: the engine-protocol target runs it on every "run" request."""

import argparse
import io
import json
import os
import struct
import zipfile

import torch
import torch.nn as nn

PREPROCESSING = {"input_size": [8, 8], "channels": 1, "mean": [0.5], "std": [0.5]}


class TinyCnn(nn.Module):
    """Conv, ReLU, pool, dropout (so train and eval differ), an augmented assignment, a linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.dropout = nn.Dropout(0.5)
        self.classifier = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        x = self.features(x)
        y = x
        y += 1.0
        return self.classifier(torch.flatten(self.dropout(y), 1))


class TinyLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if self.training:
            return self.fc(x) * 2.0
        return self.fc(x).relu()


def tiny_cnn_bytes():
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(TinyCnn().eval()), buffer,
                   _extra_files={"featscope.json": json.dumps(PREPROCESSING)})
    return buffer.getvalue()


def tiny_linear_bytes():
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(TinyLinear()), buffer)
    return buffer.getvalue()


def png_bytes(width, height, mode):
    from PIL import Image
    image = Image.new(mode, (width, height))
    image.putdata([tuple((x * 37 + y * 11 + c * 5) % 256 for c in range(len(mode))) if len(mode) > 1
                   else (x * 37 + y * 11) % 256 for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width, height):
    from PIL import Image
    image = Image.new("RGB", (width, height), (120, 30, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=50)
    return buffer.getvalue()


def npy_bytes(rows, cols, header_dict=None):
    if header_dict is None:
        header_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header = header_dict.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() \
        + struct.pack("<%df" % (rows * cols), *[float(i) for i in range(rows * cols)])


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# Must match the records fuzz_model_load.cpp rebuilds archives from: tiny_cnn.pt's, sorted by name, without
# the version record (the archive writer adds that one itself).
def archive_records(archive):
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return sorted((info.filename, z.read(info.filename)) for info in z.infolist()
                      if not info.filename.endswith("/version"))


def write_seeds(seeds):
    # Return-node specs: the arguments of `featscope-cli extract`, NUL-separated.
    specs = ["--return\0layer1=stage1", "--return=layer4\0--eval-return\0fc", "--train-return\0a.b.c=\0-o\0x.pt",
             "=key", "node=key=more", "--\0--return", "--leaf-module\0torch.nn.Conv2d\0--return\0features.0"]
    for i, spec in enumerate(specs):
        write(os.path.join(seeds, "fuzz_return_node_spec"), "seed%d" % i, spec)

    # Engine protocol: a session of request lines against the preloaded tiny model.
    pre = {"resize": 8, "centerCrop": 8, "channels": 1, "mean": [0.5], "std": [0.5]}
    sessions = [
        [{"id": 1, "cmd": "hello"}],
        [{"id": 2, "cmd": "run", "mode": "eval", "image": "tiny_image.png", "preprocessing": pre,
          "returnNodes": [{"node": "features.0", "key": "a"}, {"node": "feat"}, {"node": "classifier", "key": "a"}, {"node": ""}]}],
        [{"id": 3, "cmd": "run", "mode": "eval", "image": "tiny_image.png",
          "returnNodes": [{"node": "features", "key": "f"}, {"node": "classifier"}], "preprocessing": pre}],
        [{"id": "t", "cmd": "run", "mode": "train", "image": "tiny_image.png",
          "returnNodes": [{"node": "dropout"}, {"node": "add"}], "preprocessing": pre}],
        [{"id": 4, "cmd": "export", "path": "extractor.pt", "trainReturnNodes": [{"node": "features.1"}],
          "evalReturnNodes": [{"node": "flatten", "key": "x"}]},
         {"id": 5, "cmd": "load", "path": "extractor.pt", "leafModules": ["torch.nn.modules.conv.Conv2d"]},
         {"id": 6, "cmd": "run", "image": "tiny_image.png", "preprocessing": pre, "returnNodes": [{"node": "x"}]}],
        [{"id": 7, "cmd": "load", "path": "tiny_cnn.pt"}, {"id": 8, "cmd": "quit"}, {"id": 9, "cmd": "hello"}],
    ]
    for i, session in enumerate(sessions):
        write(os.path.join(seeds, "fuzz_engine_protocol"), "seed%d" % i,
              "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in session))
    write(os.path.join(seeds, "fuzz_engine_protocol"), "seed_not_json", "{\"id\":1,\"cmd\":\n[1,2]\n")

    # Preprocessing: one line of JSON options, then the image bytes.
    images = [png_bytes(8, 8, "L"), png_bytes(5, 3, "RGB"), png_bytes(2, 7, "RGBA"), jpeg_bytes(9, 4)]
    options = [pre, {"resize": 0, "centerCrop": 4, "channels": 3},
               {"input_size": [8, 8], "channels": 1, "mean": 0.5, "std": [0.25]},
               {"input_size": 6, "resize": 12, "center_crop": 0, "mean": [0.1, 0.2, 0.3], "std": [1, 2, 3]}]
    for i, (option, image) in enumerate(zip(options, images)):
        write(os.path.join(seeds, "fuzz_image_preprocessing"), "seed%d" % i, json.dumps(option).encode() + b"\n" + image)

    # .npy headers: the first byte chooses full (even) or partial (odd) reading.
    npys = [b"\0" + npy_bytes(2, 3), b"\1" + npy_bytes(2, 3)[:-5], b"\0" + npy_bytes(0, 4),
            b"\0" + npy_bytes(1, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 1), }")]
    for i, data in enumerate(npys):
        write(os.path.join(seeds, "fuzz_npy_header"), "seed%d" % i, data)

    # features-join: shards as sections (npy, paths, json) separated by the harness's marker.
    marker = b"\n=====\n"

    def shard(index, count, rows, cols):
        meta = {"format": "featscope-features/1", "rows": rows, "dim": cols, "images": rows,
                "shard": [index, count], "settings_fnv1a64": "00ff", "image_list_fnv1a64": "11ee",
                "all_images": 4, "skipped": [{"path": "bad.png", "reason": "decode"}] if index == 2 else []}
        paths = "".join("img%d_%d.png\n" % (index, r) for r in range(rows))
        return [npy_bytes(rows, cols), paths.encode(), json.dumps(meta).encode()]

    joins = [shard(1, 1, 2, 3), shard(1, 2, 2, 3) + shard(2, 2, 1, 3), shard(2, 2, 0, 3) + shard(1, 2, 3, 3)]
    for i, sections in enumerate(joins):
        write(os.path.join(seeds, "fuzz_features_join"), "seed%d" % i, marker.join(sections))

    # Engine stdout framing: a piece-size byte, then messages (a JSON line and the payload parts it declares).
    def message(header, parts=()):
        if parts:
            header = {**header, "payload": [len(p) for p in parts]}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + b"".join(parts)

    def output(key, shape):
        return {"key": key, "node": key, "shape": shape, "dtype": "float32", "min": 0, "max": 1, "mean": 0.5, "std": 0.5}

    values = struct.pack("<6f", 0, 1, 2, 3, 4, 5)
    frames = [
        message({"id": 1, "ok": True, "protocol": 1}),
        message({"id": 2, "ok": True, "mode": "eval", "inputShape": [1, 1, 8, 8], "elapsedMs": 3,
                 "outputs": [output("a", [1, 2, 3]), output("empty", [1, 0, 4]), output("s", [])]},
                [values, b"", values[:4]]),
        message({"id": 3, "ok": False, "error": "no", "errorType": "unknown_node", "suggestions": ["conv"]}),
        message({"id": 4, "ok": True, "outputs": [output("a", [1, 2, 3])]}, [values[:20]]),
        message({"id": 5, "ok": True, "payload": [16, 1e12]}) + values,
        message({"event": "progress"}) + message({"id": 6, "ok": True, "path": "/x.pt"}),
    ]
    for i, frame in enumerate(frames):
        write(os.path.join(seeds, "fuzz_frame_decoder"), "seed%d" % i, bytes([i * 7 + 1]) + frame)

    # Model loading: whole archives, and record replacements of tiny_cnn.pt (selector byte + payload).
    model = tiny_cnn_bytes()
    write(os.path.join(seeds, "fuzz_model_load"), "tiny_cnn.pt", model)
    write(os.path.join(seeds, "fuzz_model_load"), "tiny_linear.pt", tiny_linear_bytes())
    for index, (name, data) in enumerate(archive_records(model)):
        if len(data) <= 4096:
            write(os.path.join(seeds, "fuzz_model_load"), "record%d_%s" % (index, name.replace("/", "_")),
                  bytes([index]) + data)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fixtures", help="folder for tiny_cnn.pt and tiny_image.png")
    parser.add_argument("--seeds", help="folder that receives one seed folder per fuzz target")
    args = parser.parse_args()
    if args.fixtures:
        write(args.fixtures, "tiny_cnn.pt", tiny_cnn_bytes())
        write(args.fixtures, "tiny_image.png", png_bytes(8, 8, "L"))
    if args.seeds:
        write_seeds(args.seeds)


if __name__ == "__main__":
    main()
