#!/usr/bin/python3
"""`featscope-cli cam` against a Python Grad-CAM with forward/backward hooks on the eager model.

ResNet-50 at layer4 (NCHW; Grad-CAM, Grad-CAM++, gradient x activation), ViT-B/16 at
encoder.layers.encoder_layer_11.ln (tokens: class token dropped, 14 x 14 grid), Swin-T and
ConvNeXt-T at NHWC block outputs: the layout detected and the map equal to the hooks' map. Also the
PNG overlay, --class by name on the bundled model, and errors for nodes without a grid.

Run: /usr/bin/python3 test_cam.py --cli build/bin/featscope-cli --work DIR
"""
import os
import re
import subprocess
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cam_models  # noqa: E402

CLI = WORK = None
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
torch.set_num_threads(2)


def hooked_activation_and_gradient(model, module_path, x, class_index=None):
    """The module's output and d(score)/d(output) from hooks, as pytorch-grad-cam takes them."""
    stored = {}

    def forward_hook(_module, _inputs, output):
        stored["activation"] = output.detach()
        output.register_hook(lambda grad: stored.__setitem__("gradient", grad.detach()))

    handle = cam_models.module_at(model, module_path).register_forward_hook(forward_hook)
    try:
        scores = model(x)
        index = int(scores[0].argmax()) if class_index is None else class_index
        model.zero_grad()
        scores[0, index].backward()
    finally:
        handle.remove()
    return stored["activation"][0], stored["gradient"][0], index, scores[0].detach()


def cam(activation, gradient, method):
    """activation, gradient: [C, H, W]. pytorch-grad-cam's formulas."""
    if method == "gradcam":
        weights = gradient.mean((1, 2), keepdim=True)
        weighted = activation * weights
    elif method == "gradcam++":
        g2, g3 = gradient**2, gradient**3
        sum_a = activation.sum((1, 2), keepdim=True)
        alpha = g2 / (2 * g2 + sum_a * g3 + 1e-7)
        alpha = torch.where(gradient != 0, alpha, torch.zeros_like(alpha))
        weights = (alpha * gradient.clamp(min=0)).sum((1, 2), keepdim=True)
        weighted = activation * weights
    else:
        weighted = activation * gradient
    return weighted.sum(0).clamp(min=0).numpy()


def tokens_to_grid(value, class_token=True):
    """[T, C] -> [C, H, W], the class token dropped."""
    tokens = value[1:] if class_token else value
    side = int(round(tokens.shape[0] ** 0.5))
    return tokens.reshape(side, side, -1).permute(2, 0, 1)


def run_cam(model_path, image, node, out, *extra):
    result = subprocess.run([CLI, "cam", model_path, image, "--node", node, "-o", out, "--threads", "2", *extra],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"featscope-cli cam failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


class CamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.image, cls.x = cam_models.test_image(WORK)

    def check_equal(self, ours, reference, what):
        self.assertEqual(ours.shape, reference.shape, what)
        self.assertEqual(ours.dtype, np.float32, what)
        scale = float(np.abs(reference).max())
        self.assertGreater(scale, 0.0, f"{what}: the reference map is all zero, the test would prove nothing")
        diff = float(np.abs(ours - reference).max())
        print(f"{what}: max abs diff {diff:.3g} (map max {scale:.4g}, relative {diff / scale:.2g})")
        self.assertLessEqual(diff, 1e-3 * scale, what)

    def compare(self, name, node, module_path, methods, layout, to_grid):
        model = cam_models.make_model(name)
        path = cam_models.scripted_path(model, name, os.path.join(WORK, "models"))
        activation, gradient, index, scores = hooked_activation_and_gradient(model, module_path, self.x)
        activation, gradient = to_grid(activation), to_grid(gradient)
        for method in methods:
            out = os.path.join(WORK, f"{name}-{method}.npy")
            stdout = run_cam(path, self.image, node, out, "--method", method)
            self.assertIn(f"class {index}: score", stdout)
            score = float(re.search(r"class \d+: score (\S+)", stdout).group(1))
            self.assertAlmostEqual(score, float(scores[index]), delta=1e-3 * max(1.0, abs(float(scores[index]))))
            self.assertIn(layout, stdout)
            self.check_equal(np.load(out), cam(activation, gradient, method), f"{name} {node} {method}")

    def test_resnet50_layer4(self):
        self.compare("resnet50", "layer4", "layer4", ["gradcam", "gradcam++", "gradxact"],
                     "layout nchw, grid 7 x 7", lambda value: value)

    def test_vit_b_16_last_block(self):
        self.compare("vit_b_16", "encoder.layers.encoder_layer_11.ln", "encoder.layers.encoder_layer_11.ln_1",
                     ["gradcam", "gradxact"], "layout tokens, grid 14 x 14 (class token dropped)", tokens_to_grid)

    def test_swin_t_nhwc(self):
        self.compare("swin_t", "features.5.5", "features.5.5", ["gradcam"], "layout nhwc, grid 14 x 14",
                     lambda value: value.permute(2, 0, 1))

    def test_convnext_tiny_nhwc(self):
        self.compare("convnext_tiny", "features.5.2.block.2", "features.5.2.block.2", ["gradcam"],
                     "layout nhwc, grid 14 x 14", lambda value: value.permute(2, 0, 1))

    def test_chosen_class_png_and_labels(self):
        model = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
        image = os.path.join(ROOT, "resources", "images", "ankle_boot_0.png")
        out = os.path.join(WORK, "fashion.png")
        stdout = run_cam(model, image, "features.block2", out, "--class", "Sneaker", "--method", "gradcam++")
        self.assertIn("class 7 'Sneaker': score", stdout)
        self.assertIn("top-5:", stdout)
        self.assertIn("'Ankle boot'", stdout)
        from PIL import Image
        with Image.open(out) as png:
            self.assertEqual(png.size, (28, 28))
            pixels = np.asarray(png.convert("RGB"), dtype=np.int32)
        self.assertGreater(pixels.std(), 5.0, "the overlay is flat")

    def test_errors(self):
        model = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
        image = os.path.join(ROOT, "resources", "images", "ankle_boot_0.png")
        out = os.path.join(WORK, "never.npy")
        cases = [
            (["--node", "classifier"], 1, "has no spatial grid"),
            (["--node", "features.block2", "--class", "10"], 1, "out of range"),
            (["--node", "features.block2", "--layout", "tokens"], 1, "cannot be read in layout tokens"),
            (["--node", "no.such.node"], 1, "There is no node"),
            (["--node", "features.block2", "--method", "cam"], 2, "--method must be"),
        ]
        for args, status, message in cases:
            result = subprocess.run([CLI, "cam", model, image, *args, "-o", out], capture_output=True, text=True, timeout=120)
            self.assertEqual(result.returncode, status, (args, result.stderr))
            self.assertIn(message, result.stderr, args)
            self.assertFalse(os.path.exists(out), args)


if __name__ == "__main__":
    cam_models.main(sys.modules[__name__])
