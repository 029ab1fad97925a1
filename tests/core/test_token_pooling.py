#!/usr/bin/python3
"""`featscope-cli features --pool avg|max|gem|cls` on token and channels-last values against the
same pooling in Python on the eager model's value (forward hook): ViT-B/16's encoder.ln
([N, 197, 768]: avg/max/gem over the 196 patch tokens, cls the class token) and Swin-T's norm
([N, 7, 7, 768], NHWC: pooled over H and W).

Run: /usr/bin/python3 test_token_pooling.py --cli build/bin/featscope-cli --work DIR
"""
import os
import subprocess
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cam_models  # noqa: E402

CLI = WORK = None
torch.set_num_threads(2)
GEM_P = 3.0


def pooled(value, pool, layout):
    """value: the node's value [N, ...] from the eager model."""
    if layout == "tokens":
        if pool == "cls":
            return value[:, 0]
        grid, dims = value[:, 1:], (1,)
    else:  # nhwc
        grid, dims = value, (1, 2)
    if pool == "avg":
        return grid.mean(dims)
    if pool == "max":
        return grid.amax(dims)
    return grid.clamp(min=1e-6).pow(GEM_P).mean(dims).pow(1.0 / GEM_P)


class TokenPoolingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.images = [cam_models.test_image(WORK, f"input{seed}.png", seed) for seed in range(2)]

    def compare(self, name, node, module_path, layout, pools):
        model = cam_models.make_model(name)
        path = cam_models.scripted_path(model, name, os.path.join(WORK, "models"))
        stored = {}
        handle = cam_models.module_at(model, module_path).register_forward_hook(
            lambda _m, _i, output: stored.__setitem__("value", output))
        with torch.no_grad():
            model(torch.cat([x for _, x in self.images]))
        handle.remove()
        for pool in pools:
            out = os.path.join(WORK, f"{name}-{pool}.npy")
            result = subprocess.run([CLI, "features", path, "--return", node, "--pool", pool, "--threads", "2",
                                     "--restart", "-o", out, *[image for image, _ in self.images]],
                                    capture_output=True, text=True, timeout=600)
            self.assertEqual(result.returncode, 0, result.stderr)
            ours = np.load(out)
            reference = pooled(stored["value"], pool, layout).numpy()
            self.assertEqual(ours.shape, reference.shape, pool)
            diff = float(np.abs(ours - reference).max())
            print(f"{name} {node} --pool {pool}: max abs diff {diff:.3g}")
            self.assertLessEqual(diff, 1e-4 * max(1.0, float(np.abs(reference).max())), pool)

    def test_vit_b_16_encoder_ln(self):
        self.compare("vit_b_16", "encoder.ln", "encoder.ln", "tokens", ["avg", "max", "gem", "cls"])

    def test_swin_t_norm(self):
        self.compare("swin_t", "norm", "norm", "nhwc", ["avg", "max", "gem"])


if __name__ == "__main__":
    cam_models.main(sys.modules[__name__])
