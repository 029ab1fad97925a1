#!/usr/bin/python3
"""Images per second of `featscope-cli features` against the same job in Python with torchvision.

The job: every image of a folder -> decode -> preprocess -> node -> pool -> L2-normalize -> .npy.
Python does it the usual way: PIL, torchvision's create_feature_extractor on the eager model,
batches under torch.no_grad(), numpy.save. Both results must agree; the figures are printed.

A benchmark, not a test: run it on a quiet machine (figures taken beside other work are off by 2-40x).
The Fashion images come from tests/ecosystem/make_fashion_images.py (the build's
tests/ecosystem/fashion/gallery after a test run).

    throughput.py --cli featscope-cli --images DIR --work DIR             # Fashion CNN, 28x28 PNGs
    throughput.py --cli featscope-cli --work DIR --resnet50 256           # ResNet-50, 256x256 JPEGs

"end to end" times the whole command in a fresh process (start, imports, model load, extractor
build, all images, saving); "images/s" is the rate over the images alone (featscope-cli prints it;
Python: its loop).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ecosystem"))
import reference  # noqa: E402

CLI = None


def featscope(model, node, folder, out, batch, threads):
    start = time.perf_counter()
    r = subprocess.run([CLI, "features", model, "--return", node, "--l2-normalize", "--batch", str(batch),
                        "--threads", str(threads), "--restart", "-o", out, folder],
                       capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(r.stderr)
    rate = float(re.search(r"([\d.]+) images/s", r.stderr).group(1))
    return np.load(out), wall, rate


def python_job(kind, node, folder, out, batch, threads):
    """The torchvision way in a fresh interpreter (like the CLI: imports and model load included)."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--python-job", kind, "--node", node,
                        "--images", folder, "--work", WORK, "--out", out, "--batch", str(batch),
                        "--threads", str(threads)], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(r.stderr)
    return np.load(out), wall, float(r.stdout.split()[-1])


def run_python_job(args):
    """Body of --python-job: decode with PIL, torchvision's create_feature_extractor, batches, numpy.save."""
    from torchvision.models.feature_extraction import create_feature_extractor
    torch.set_num_threads(args.threads[0])
    paths = sorted(glob.glob(os.path.join(args.images, "**", "*.*"), recursive=True))
    if args.python_job == "fashion":
        model, meta = reference.fashion_model()
        mean, std = meta["mean"][0], meta["std"][0]

        def transform(image):
            return (torch.from_numpy(np.asarray(image.convert("L"), dtype=np.float32) / 255.0) - mean).div(std)[None]
    else:
        from torchvision import transforms
        from torchvision.models import resnet50 as make_resnet50
        model = make_resnet50()
        model.load_state_dict(torch.jit.load(os.path.join(WORK, "resnet50.pt")).state_dict())
        steps = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

        def transform(image):
            return steps(image.convert("RGB"))
    extractor = create_feature_extractor(model.eval(), {args.node: "f"}).eval()
    loop_start = time.perf_counter()
    rows = []
    with torch.no_grad():
        for i in range(0, len(paths), args.batch):
            x = torch.stack([transform(Image.open(p)) for p in paths[i:i + args.batch]])
            value = extractor(x)["f"]
            value = value.mean((2, 3)) if value.dim() == 4 else value
            rows.append(torch.nn.functional.normalize(value, dim=1).numpy())
    np.save(args.out, np.concatenate(rows))
    print(f"images/s {len(paths) / (time.perf_counter() - loop_start):.1f}")


def report(title, n, batch, rows):
    print(f"\n{title}: {n} images, batch {batch}")
    print(f"{'':32s}{'threads':>8s}{'images/s':>10s}{'end to end':>12s}")
    for name, threads, rate, wall in rows:
        print(f"{name:32s}{threads:8d}{rate:10.1f}{wall:11.2f}s")


def fashion(args):
    paths = sorted(glob.glob(os.path.join(args.images, "**", "*.png"), recursive=True))
    rows = []
    for threads in args.threads:
        ours, wall, rate = featscope(reference.MODEL, "features.block3", args.images,
                                     os.path.join(WORK, "featscope.npy"), args.batch, threads)
        theirs, py_wall, py_rate = python_job("fashion", "features.block3", args.images,
                                              os.path.join(WORK, "python.npy"), args.batch, threads)
        np.testing.assert_allclose(ours, theirs, atol=2e-5)
        rows += [("featscope-cli features", threads, rate, wall), ("Python, torchvision", threads, py_rate, py_wall)]
    report("Fashion CNN (fashion_cnn.pt), features.block3 avg-pooled, 28x28 PNG", len(paths), args.batch, rows)


def resnet50(args):
    from torchvision.models import resnet50 as make_resnet50
    folder = os.path.join(WORK, "rgb256")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(args.resnet50):
        path = os.path.join(folder, f"{i:05d}.jpg")
        if not os.path.exists(path):
            # smooth random colour fields, saved as ordinary JPEGs
            small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(small).resize((256, 256), Image.BICUBIC).save(path, quality=90)
    paths = sorted(glob.glob(os.path.join(folder, "*.jpg")))
    model_path = os.path.join(WORK, "resnet50.pt")
    torch.manual_seed(0)
    torch.jit.script(make_resnet50().eval()).save(model_path)
    rows = []
    for threads in args.threads:
        ours, wall, rate = featscope(model_path, "layer4", folder, os.path.join(WORK, "featscope.npy"),
                                     args.batch, threads)
        theirs, py_wall, py_rate = python_job("resnet50", "layer4", folder, os.path.join(WORK, "python.npy"),
                                              args.batch, threads)
        np.testing.assert_allclose(ours, theirs, atol=1e-3)
        rows += [("featscope-cli features", threads, rate, wall), ("Python, torchvision", threads, py_rate, py_wall)]
    report("ResNet-50 (random weights), layer4 avg-pooled, 256x256 JPEG", len(paths), args.batch, rows)


def main():
    global CLI, WORK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli")
    ap.add_argument("--images", help="folder of Fashion-MNIST PNGs (make_fashion_images.py)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--resnet50", type=int, metavar="N", help="also time ResNet-50 on N generated 256x256 JPEGs")
    ap.add_argument("--python-job", choices=["fashion", "resnet50"], help=argparse.SUPPRESS)
    ap.add_argument("--node", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    WORK = os.path.abspath(args.work)
    if args.python_job:
        return run_python_job(args)
    if not args.cli:
        ap.error("--cli is required")
    CLI = os.path.abspath(args.cli)
    os.makedirs(WORK, exist_ok=True)
    print(f"{os.cpu_count()} cores; torch {torch.__version__}")
    if args.images:
        fashion(args)
    if args.resnet50:
        resnet50(args)


if __name__ == "__main__":
    main()
