#!/usr/bin/python3
"""An extractor is called exactly like its source model, and images reach inputs of any type.

1. Hand-written modules (scripted and traced) whose forward has defaults of each kind (None, float, int,
   str, tuple, bool), a List[Tensor] + Optional input (detection's shape), a Dict[str, Tensor] input and
   two required tensors: the exported extractor has the source's arguments (names, types, defaults,
   keyword-only markers) in both modes and optimized; every call that works on the source works on the
   extractor with the value a forward hook sees on the eager module, and every call the source refuses
   the extractor refuses.
2. `featscope-cli features` and the engine's run fill a List[Tensor] with the images (values equal a
   forward hook) and name the argument they cannot fill (Dict input, a second required tensor).
3. torchvision's maskrcnn_resnet50_fpn called as `extractor([image])`, torchaudio's wav2vec2_base
   (`waveforms` only) and ConvTasNet: extractor values equal forward hooks on the eager models; the engine
   names the argument an image went to when the model refuses it.

Run: /usr/bin/python3 test_signatures.py --cli featscope-cli --engine featscope-engine
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
from test_engine import read_response  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGE = os.path.join(ROOT, "resources", "images", "ankle_boot_0_rgb224.png")
CLI = ENGINE = None
# Exact preprocessing (no resize or crop), so Python computes the same input as featscope.
PLAIN = {"resize": 0, "center_crop": 0, "channels": 3, "mean": [0.5], "std": [0.5]}
torch.set_num_threads(2)


def run(args, expect_ok=True):
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if expect_ok and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def extract(model, out, *returns, optimize=False):
    run([CLI, "extract", model, *returns, "-o", out] + (["--optimize"] if optimize else []))
    return torch.jit.load(out)


def arguments(module):
    """forward's arguments after self, as everything a caller relies on."""
    return [(a.name, str(a.type), repr(a.default_value) if a.has_default_value() else "required", a.kwarg_only)
            for a in module.forward.schema.arguments[1:]]


def plain_image():
    """The image as featscope's PLAIN preprocessing makes it: [3, H, W]."""
    rgb = np.asarray(Image.open(IMAGE).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy((rgb - 0.5) / 0.5).permute(2, 0, 1).contiguous()


def hooked(module, leaf, *args, **kwargs):
    """The output of submodule `leaf` when the eager `module` runs on the call."""
    seen = []
    handle = module.get_submodule(leaf).register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.no_grad():
            module(*args, **kwargs)
    finally:
        handle.remove()
    assert len(seen) == 1, f"{leaf} ran {len(seen)} times"
    return seen[0]


class Defaults(torch.nn.Module):
    """Every default reaches the `act` leaf's input, so a wrong default changes the hooked value."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.act = torch.nn.Hardtanh(-100.0, 100.0)

    def forward(self, x: torch.Tensor, extra: Optional[torch.Tensor] = None, scale: float = 2.5, steps: int = -3,
                mode: str = "sum", size: Tuple[int, float] = (2, 0.5), flag: bool = True) -> torch.Tensor:
        y = self.conv(x) * scale + steps + size[0] * size[1] + len(mode) + float(flag)
        if extra is not None:
            y = y + extra
        if self.training:
            y = y * 2
        return self.act(y)


@torch.jit.script
class ImageBatch:
    """A TorchScript object that is not a module, as torchvision's ImageList."""

    def __init__(self, tensors: torch.Tensor):
        self.tensors = tensors


class Detection(torch.nn.Module):
    """torchvision's detection signature, forward(images, targets=None), an ImageList-like object and
    GeneralizedRCNN's write to a module attribute (`self._has_warned = True`)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self._has_warned = False

    def forward(self, images: List[torch.Tensor],
                targets: Optional[List[Dict[str, torch.Tensor]]] = None) -> Dict[str, torch.Tensor]:
        batch = ImageBatch(torch.stack(images))
        out = self.conv(batch.tensors)
        if not self._has_warned:
            self._has_warned = True
        return {"mean": out.mean()}


class DictInput(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.conv(inputs["image"])


class TwoTensors(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + y


def seeded(cls):
    torch.manual_seed(0)
    return cls().eval()


class Engine:
    def __init__(self):
        self.process = subprocess.Popen([ENGINE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.next_id = 0

    def request(self, cmd, **fields):
        self.next_id += 1
        self.process.stdin.write((json.dumps({"id": self.next_id, "cmd": cmd, **fields}) + "\n").encode())
        self.process.stdin.flush()
        response = read_response(self.process.stdout)
        assert response["id"] == self.next_id, response
        return response

    def close(self):
        self.process.stdin.close()
        self.process.wait(60)
        self.process.stdout.close()


class HandWrittenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertSameCalls(self, eager, extractor, key, leaf, calls, refused):
        for args, kwargs in calls:
            with self.subTest(call=(len(args), sorted(kwargs))):
                expected = hooked(eager, leaf, *args, **kwargs)
                with torch.no_grad():
                    got = extractor(*args, **kwargs)[key]
                self.assertTrue(torch.equal(got, expected), (got - expected).abs().max())
        for args, kwargs in refused:
            with self.subTest(refused=(len(args), sorted(kwargs))):
                self.assertRaises(Exception, eager, *args, **kwargs)
                self.assertRaises(RuntimeError, extractor, *args, **kwargs)

    def test_defaults_of_each_kind_in_both_modes_scripted_and_optimized(self):
        eager = seeded(Defaults)
        scripted = torch.jit.script(eager)
        model = self.path("defaults.pt")
        scripted.save(model)
        x = torch.randn(2, 3, 8, 8)
        extra = torch.randn(2, 4, 6, 6)
        calls = [((x,), {}), ((x, None), {}), ((x, extra), {}), ((x,), {"scale": 0.5, "mode": "product"}),
                 ((x, extra, 1.0, 4, "max", (1, 1.5), False), {}),
                 ((), {"x": x, "flag": False, "size": (3, 2.0), "steps": 7, "extra": extra})]
        refused = [((), {}), ((x,), {"nope": 1}), ((x,), {"scale": "high"}), ((x, None, 1.0, 1, "a", (1, 1.0), True, 9), {})]
        self.assertEqual([a[:3] for a in arguments(scripted)],
                         [("x", "Tensor", "required"), ("extra", "Optional[Tensor]", "None"), ("scale", "float", "2.5"),
                          ("steps", "int", "-3"), ("mode", "str", "'sum'"), ("size", "Tuple[int, float]", "(2, 0.5)"),
                          ("flag", "bool", "True")])
        both = extract(model, self.path("both.pt"), "--return", "act")
        split = extract(model, self.path("split.pt"), "--train-return", "conv", "--eval-return", "act")
        optimized = extract(model, self.path("optimized.pt"), "--return", "act", optimize=True)
        for name, extractor in [("both", both), ("split", split), ("optimized", optimized)]:
            with self.subTest(extractor=name):
                self.assertEqual(arguments(extractor), arguments(scripted))
                self.assertSameCalls(eager.eval(), extractor.eval(), "act", "act", calls, refused)
        for name, extractor in [("both", both), ("split", split)]:
            key, leaf = ("act", "act") if name == "both" else ("conv", "conv")
            with self.subTest(extractor=name, mode="train"):
                self.assertSameCalls(eager.train(), extractor.train(), key, leaf, calls, refused)
        eager.eval()

    def test_traced_modules_keep_names_and_input_types(self):
        x, y = torch.randn(1, 3, 8, 8), torch.randn(1, 4, 6, 6)
        cases = [("two", seeded(TwoTensors), (x, y), ["x", "y"]),
                 ("detection", seeded(Detection), ([x[0], x[0]],), ["images"])]
        for name, eager, example, names in cases:
            with self.subTest(model=name):
                traced = torch.jit.trace(eager, example, strict=False)
                model = self.path(f"traced_{name}.pt")
                traced.save(model)
                extractor = extract(model, self.path(f"traced_{name}_fe.pt"), "--return", "conv")
                self.assertEqual([a[0] for a in arguments(traced)], names)
                self.assertEqual(arguments(extractor), arguments(traced))
                self.assertSameCalls(eager, extractor, "conv", "conv", [(example, {})], [((), {})])

    def test_input_types_extract_and_run(self):
        img = plain_image()
        cases = {
            "detection": (seeded(Detection), [((([img, img],), {})), (([img],), {"targets": None})]),
            "dict_input": (seeded(DictInput), [(({"image": img[None]},), {})]),
            "two_tensors": (seeded(TwoTensors), [((img[None], torch.ones(1, 4, 222, 222)), {})]),
        }
        for name, (eager, calls) in cases.items():
            with self.subTest(model=name):
                model = self.path(f"{name}.pt")
                scripted = torch.jit.script(eager)
                torch.jit.save(scripted, model, _extra_files={"featscope.json": json.dumps(PLAIN)})
                extractor = extract(model, self.path(f"{name}_fe.pt"), "--return", "conv")
                self.assertEqual(arguments(extractor), arguments(scripted))
                self.assertSameCalls(eager, extractor, "conv", "conv", calls, [((), {})])

        # features: each image fills one element of the list; rows are the hook's pooled values.
        out = self.path("detection.npy")
        run([CLI, "features", self.path("detection.pt"), "--return", "conv", "-o", out, IMAGE, IMAGE])
        expected = hooked(cases["detection"][0], "conv", [img, img]).mean(dim=(2, 3))
        self.assertTrue(np.allclose(np.load(out), expected.numpy(), atol=1e-5))
        for name, needle in [("dict_input", "first argument 'inputs' (Dict[str, Tensor])"),
                             ("two_tensors", "also needs argument 'y' (Tensor)")]:
            with self.subTest(features=name):
                r = run([CLI, "features", self.path(f"{name}.pt"), "--return", "conv", "-o", self.path(f"{name}.npy"),
                         IMAGE], expect_ok=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertIn(self.path(f"{name}.pt"), r.stderr)

        # The engine's run (what the inspector shows): the same list input, the same messages.
        engine = Engine()
        try:
            preprocessing = {"resize": 0, "centerCrop": 0, "channels": 3, "mean": [0.5], "std": [0.5]}
            self.assertTrue(engine.request("load", path=self.path("detection.pt"))["ok"])
            response = engine.request("run", image=IMAGE, preprocessing=preprocessing,
                                      returnNodes=[{"node": "conv", "key": "c"}])
            self.assertTrue(response["ok"], response)
            output = response["outputs"][0]
            values = np.frombuffer(output["values"], dtype="<f4").reshape(output["shape"])
            self.assertTrue(np.allclose(values, hooked(cases["detection"][0], "conv", [img]).numpy(), atol=1e-5))
            for name, needle in [("dict_input", "first argument 'inputs' (Dict[str, Tensor])"),
                                 ("two_tensors", "also needs argument 'y' (Tensor)")]:
                with self.subTest(engine=name):
                    self.assertTrue(engine.request("load", path=self.path(f"{name}.pt"))["ok"])
                    response = engine.request("run", image=IMAGE, preprocessing=preprocessing,
                                              returnNodes=[{"node": "conv"}])
                    self.assertFalse(response["ok"], response)
                    self.assertEqual(response["errorType"], "error")
                    self.assertIn(needle, response["error"])
        finally:
            engine.close()


class MaskRcnnTest(unittest.TestCase):
    def test_maskrcnn_resnet50_fpn_called_with_a_list_of_images(self):
        import torchvision
        torch.manual_seed(0)
        # min_size/max_size 320 instead of 800/1333 keep the test fast; the code is torchvision's.
        eager = torchvision.models.detection.maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, min_size=320, max_size=320).eval()
        scripted = torch.jit.script(eager)
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "maskrcnn.pt")
            scripted.save(model)
            extractor = extract(model, os.path.join(tmp, "maskrcnn_fe.pt"),
                                "--return", "backbone.body.layer2=c3", "--return", "backbone.body.layer4=c5")
        self.assertEqual(arguments(scripted), [("images", "List[Tensor]", "required", False),
                                               ("targets", "Optional[List[Dict[str, Tensor]]]", "None", False)])
        self.assertEqual(arguments(extractor), arguments(scripted))
        extractor.eval()
        image = torch.rand(3, 240, 200)
        for args, kwargs in [(([image],), {}), ((), {"images": [image]}), (([image], None), {})]:
            with torch.no_grad():
                got = extractor(*args, **kwargs)
            for key, leaf in [("c3", "backbone.body.layer2"), ("c5", "backbone.body.layer4")]:
                with self.subTest(call=(len(args), sorted(kwargs)), key=key):
                    self.assertTrue(torch.equal(got[key], hooked(eager, leaf, *args, **kwargs)))


class TorchaudioTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torchaudio
        cls.torchaudio = torchaudio
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_wav2vec2_base_called_with_waveforms_only(self):
        torch.manual_seed(0)
        eager = self.torchaudio.models.wav2vec2_base().eval()
        scripted = torch.jit.script(eager)
        model = os.path.join(self.dir, "wav2vec2_base.pt")
        scripted.save(model)
        self.assertEqual(arguments(scripted), [("waveforms", "Tensor", "required", False),
                                               ("lengths", "Optional[Tensor]", "None", False)])
        # Train mode drops layers at random (a data-dependent branch), so its output is taken before them.
        extractor = extract(model, os.path.join(self.dir, "wav2vec2_fe.pt"), "--train-return",
                            "encoder.feature_projection=layer5", "--eval-return", "encoder.transformer.layers.5=layer5")
        self.assertEqual(arguments(extractor), arguments(scripted))
        extractor.eval()
        waveforms = torch.randn(2, 8000)
        lengths = torch.tensor([8000, 6000])
        leaf = "encoder.transformer.layers.5.final_layer_norm"
        for args, kwargs in [((waveforms,), {}), ((), {"waveforms": waveforms}), ((waveforms, lengths), {}),
                             ((waveforms,), {"lengths": lengths})]:
            with self.subTest(call=(len(args), sorted(kwargs))):
                with torch.no_grad():
                    got = extractor(*args, **kwargs)["layer5"]
                expected = hooked(eager, leaf, *args, **kwargs)
                self.assertTrue(torch.equal(got, expected), (got - expected).abs().max())

    def test_conv_tasnet(self):
        torch.manual_seed(0)
        # ConvTasNet's own code with a smaller mask generator than the default (2 x 3 instead of 3 x 8 blocks).
        eager = self.torchaudio.models.ConvTasNet(msk_num_layers=3, msk_num_stacks=2).eval()
        scripted = torch.jit.script(eager)
        model = os.path.join(self.dir, "conv_tasnet.pt")
        scripted.save(model)
        extractor = extract(model, os.path.join(self.dir, "conv_tasnet_fe.pt"), "--return", "encoder",
                            "--return", "mask_generator.output_conv=mask")
        self.assertEqual(arguments(extractor), [("input", "Tensor", "required", False)])
        mixture = torch.randn(1, 1, 4000)
        for args, kwargs in [((mixture,), {}), ((), {"input": mixture})]:
            with torch.no_grad():
                got = extractor(*args, **kwargs)
            for key, leaf in [("encoder", "encoder"), ("mask", "mask_generator.output_conv")]:
                with self.subTest(call=sorted(kwargs), key=key):
                    self.assertTrue(torch.equal(got[key], hooked(eager, leaf, *args, **kwargs)))

        # The inspector loads it and names the argument the image went to when the model refuses images.
        engine = Engine()
        try:
            loaded = engine.request("load", path=model)
            self.assertTrue(loaded["ok"], loaded)
            self.assertEqual(loaded["inputs"], ["input"])
            response = engine.request("run", image=IMAGE, returnNodes=[{"node": "encoder"}])
            self.assertFalse(response["ok"], response)
            self.assertIn("its input 'input' got 1x3x224x224", response["error"])
        finally:
            engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--engine", required=True)
    options, rest = parser.parse_known_args()
    CLI, ENGINE = os.path.abspath(options.cli), os.path.abspath(options.engine)
    unittest.main(argv=[sys.argv[0]] + rest)
