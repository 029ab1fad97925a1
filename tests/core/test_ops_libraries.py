"""Models that call custom TorchScript ops: torchvision's op library loaded by itself, --ops-library, and the
messages for an op no library registers (from the sandboxed reader as much as from the real load).

Run: /usr/bin/python3 test_ops_libraries.py --cli build/bin/featscope-cli
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

import torch
import torchvision
from torchvision.models.detection import maskrcnn_resnet50_fpn

CLI = None
torch.set_num_threads(2)
TORCHVISION_LIBRARY = os.path.join(os.path.dirname(torchvision.__file__), next(
    f for f in os.listdir(os.path.dirname(torchvision.__file__)) if f.startswith("_C.") and f.endswith(".so")))


class NmsNet(torch.nn.Module):
    """A convolution, then torchvision.ops.nms on boxes made from its output (a torchvision:: op)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        boxes = y.flatten(2)[0, :, :4].abs().cumsum(1)
        keep = torchvision.ops.nms(boxes, y.mean((0, 2, 3)), 0.5)
        return y + keep.numel()


def run(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})


def rewrite_archive(source, target, old, new):
    """A copy of a TorchScript archive whose code says `new` where it said `old`."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if "/code/" in item.filename and item.filename.endswith(".py"):
                data = data.replace(old.encode(), new.encode())
            zout.writestr(item, data)


class OpsLibrariesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-ops-test-")
        torch.manual_seed(0)
        cls.model = NmsNet().eval()
        cls.nms = os.path.join(cls.dir, "nms.pt")
        torch.jit.script(cls.model).save(cls.nms)
        # The same model calling an op that no library registers.
        cls.unknown = os.path.join(cls.dir, "unknown_op.pt")
        rewrite_archive(cls.nms, cls.unknown, "ops.torchvision.nms", "ops.featscope_test.nms")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertFails(self, result, *needles):
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("without saying why", result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stderr)

    def test_torchvision_ops_load_by_themselves_and_count_as_known(self):
        result = run("nodes", self.nms, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        names = json.loads(result.stdout)
        self.assertIn("nms", names["eval"])
        # Loading the library is said, as trusting its code.
        self.assertIn("note: loaded the op library '" + os.path.realpath(TORCHVISION_LIBRARY) + "'", result.stderr)
        self.assertIn("runs as trusted", result.stderr)
        # torchvision::nms is then no unknown custom op: extract needs no --allow-unsafe-ops.
        out = self.path("nms_extractor.pt")
        result = run("extract", self.nms, "--return", "conv", "--return", "add", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        x = torch.randn(1, 3, 6, 6)
        with torch.no_grad():
            ours = torch.jit.load(out)(x)
            self.assertTrue(torch.equal(ours["conv"], self.model.conv(x)))
            self.assertTrue(torch.equal(ours["add"], self.model(x)))

    def test_library_path_from_the_environment(self):
        result = run("nodes", self.nms, env={"FEATSCOPE_TORCHVISION_OPS": self.path("missing.so")})
        self.assertFails(result, "missing.so", "FEATSCOPE_TORCHVISION_OPS")
        linked = self.path("tv_ops.so")
        os.symlink(TORCHVISION_LIBRARY, linked)
        result = run("nodes", self.nms, env={"FEATSCOPE_TORCHVISION_OPS": linked})
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_missing_op_is_named_with_the_option(self):
        # The sandboxed reader meets the missing op first; its message must reach the user.
        for command in (["nodes", self.unknown], ["extract", self.unknown, "--return", "conv", "-o", self.path("x.pt")]):
            result = run(*command)
            self.assertFails(result, "featscope_test::nms", "--ops-library", "unknown_op.pt")
        self.assertFalse(os.path.exists(self.path("x.pt")))

    def test_op_missing_from_this_libtorch(self):
        newer = self.path("newer_op.pt")
        rewrite_archive(self.nms, newer, "torch.cumsum(", "torch.cumsum_from_the_future(")
        self.assertFails(run("nodes", newer), "aten::cumsum_from_the_future", "newer PyTorch")

    def test_ops_library_option(self):
        # A library given by hand is loaded (in the reader too) and reported; a bad path is named.
        result = run("nodes", self.nms, "--ops-library", TORCHVISION_LIBRARY)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("given with --ops-library", result.stderr)
        self.assertFails(run("nodes", self.nms, "--ops-library", self.path("none.so")), "none.so")
        not_a_library = self.path("text.so")
        with open(not_a_library, "w") as f:
            f.write("not a library")
        self.assertFails(run("nodes", self.nms, "--ops-library", not_a_library), "text.so", "shared library")

    def test_scripted_mask_rcnn_opens(self):
        torch.manual_seed(0)
        model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
        path = self.path("maskrcnn.pt")
        torch.jit.script(model).save(path)
        result = run("nodes", path, "--mode", "eval")
        self.assertEqual(result.returncode, 0, result.stderr)
        names = result.stdout.split()
        # FeaturePyramidNetwork is one of torchvision.ops' leaf modules.
        for name in ("images", "backbone.body.layer4.2.relu_2", "backbone.fpn"):
            self.assertIn(name, names)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    args, rest = parser.parse_known_args()
    CLI = os.path.abspath(args.cli)
    unittest.main(argv=[sys.argv[0]] + rest)
