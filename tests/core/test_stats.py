#!/usr/bin/python3
"""`featscope-cli stats` and `featscope-cli diff` against the eager torchvision model.

stats: on a seeded ResNet-50, every leaf module call's output, taken by a forward hook on the eager
model in eval and in train mode, has the statistics featscope prints for the node of the same name
(the i-th call of a module is `<path>_<i>`, torchvision's counter), and the nodes come in
execution order, one per name `featscope-cli nodes` lists.
diff: a copy with one conv's weights perturbed diverges first at that conv; an identical copy
nowhere; ResNet-18 against ResNet-50 reports the shape mismatches and the nodes of one model only.
Bad input: missing files, non-images, malformed command lines.

Run: /usr/bin/python3 test_stats.py --cli build/bin/featscope-cli --work DIR
"""
import copy
import json
import math
import os
import subprocess
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cam_models  # noqa: E402

CLI = WORK = None
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINS = 16
torch.set_num_threads(2)


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600)


def run_json(*args):
    result = run(*args, "--json", *(["--threads", "2"] if args[0] != "nodes" else []))
    if result.returncode != 0:
        raise AssertionError(f"featscope-cli {args[0]} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def reference_statistics(value):
    """What a statistics run reports for one value, computed here in float64 (histogram: torch.histc)."""
    value = value.detach()
    values = value.double()
    statistics = {
        "shape": list(value.shape),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std(unbiased=False)),
        "zeros": float((values == 0).double().mean()),
    }
    if value.dim() >= 2:
        others = [d for d in range(value.dim()) if d != 1]
        statistics["deadChannels"] = int((values.abs().amax(dim=others) == 0).sum())
    statistics["histogram"] = torch.histc(value.float(), BINS, statistics["min"], statistics["max"]).long().tolist()
    return statistics


def hooked_leaf_statistics(model, x):
    """{node name: statistics} of every leaf module call, in call order, from forward hooks."""
    calls, recorded, handles = {}, {}, []

    def hook(path):
        def record(_module, _inputs, output):
            count = calls.get(path, 0)
            calls[path] = count + 1
            recorded[path if count == 0 else f"{path}_{count}"] = reference_statistics(output)
        return record

    for path, module in model.named_modules():
        if path and not list(module.children()):
            handles.append(module.register_forward_hook(hook(path)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return recorded


class StatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.image, cls.x = cam_models.test_image(WORK)
        cls.resnet50 = cam_models.make_model("resnet50")
        cls.resnet50_path = cam_models.scripted_path(cls.resnet50, "resnet50", os.path.join(WORK, "models"))

    def check_against_hooks(self, mode):
        model = copy.deepcopy(self.resnet50).train(mode == "train")
        reference = hooked_leaf_statistics(model, self.x)
        ours = run_json("stats", self.resnet50_path, self.image, "--mode", mode)
        names = [node["name"] for node in ours["nodes"]]
        self.assertEqual(names, run_json("nodes", self.resnet50_path, "--mode", mode)[mode],
                         "one entry per node of the mode, in execution order")
        self.assertEqual(ours["skipped"], [])
        by_name = {node["name"]: node for node in ours["nodes"]}
        self.assertEqual(len(reference), 4 + 16 * 9 + 4 * 2 + 2, "leaf calls of ResNet-50: stem, blocks, downsamples, pool and fc")
        self.assertEqual([n for n in names if n in reference], list(reference), "leaf nodes in call order")
        worst = {}
        for name, expected in reference.items():
            node = by_name[name]
            self.assertEqual(node["shape"], expected["shape"], name)
            scale = max(abs(expected["min"]), abs(expected["max"]), 1e-12)
            for key in ("min", "max", "mean", "std"):
                error = abs(node[key] - expected[key]) / scale
                worst[key] = max(worst.get(key, 0.0), error)
                self.assertLessEqual(error, 2e-4, f"{mode} {name} {key}: {node[key]} vs {expected[key]}")
            self.assertAlmostEqual(node["zeros"], expected["zeros"], delta=1e-4, msg=f"{mode} {name} zeros")
            self.assertEqual(node["channelDim"], 1, name)
            self.assertEqual(node["deadChannels"], expected["deadChannels"], f"{mode} {name} deadChannels")
            self.assertEqual(len(node["histogram"]), BINS)
            self.assertEqual(sum(node["histogram"]), math.prod(expected["shape"]), name)
            moved = sum(abs(a - b) for a, b in zip(node["histogram"], expected["histogram"])) / 2
            self.assertLessEqual(moved, 1e-3 * math.prod(expected["shape"]) + 2, f"{mode} {name} histogram")
        # The test proves something only if it saw ReLU zeros and spread-out values.
        self.assertGreater(by_name["layer4.2.relu_2"]["zeros"], 0.1)
        self.assertGreater(by_name["layer1.0.conv1"]["std"], 0.0)
        print(f"{mode}: {len(reference)} leaf calls, worst error relative to each node's scale: "
              + ", ".join(f"{key} {value:.2g}" for key, value in worst.items()))

    def test_resnet50_eval_matches_hooks(self):
        self.check_against_hooks("eval")

    def test_resnet50_train_matches_hooks(self):
        self.check_against_hooks("train")

    def test_dead_channels_and_layouts(self):
        """A conv whose filters 0 and 2 are zero feeds a ReLU: two dead channels; ViT-style tokens
        [N, T, C] count channels on the last dimension."""
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
                self.relu = torch.nn.ReLU()

            def forward(self, x):
                y = self.relu(self.conv(x))
                return y.flatten(2).transpose(1, 2)

        net = Net().eval()
        with torch.no_grad():
            net.conv.weight[0] = 0
            net.conv.weight[2] = 0
            net.conv.weight[1] = -net.conv.weight[1].abs()  # negative on a positive image: all zero after ReLU
        path = os.path.join(WORK, "dead_channels.pt")
        # Unnormalised pixels (0 to 1): a filter of negative weights gives only values <= 0.
        preprocessing = {"input_size": 224, "channels": 3, "mean": [0, 0, 0], "std": [1, 1, 1]}
        torch.jit.save(torch.jit.script(net), path, _extra_files={"featscope.json": json.dumps(preprocessing)})
        nodes = {node["name"]: node for node in run_json("stats", path, self.image)["nodes"]}
        self.assertEqual(nodes["conv"]["deadChannels"], 2)
        self.assertEqual(nodes["relu"]["deadChannels"], 3)
        self.assertGreaterEqual(nodes["relu"]["zeros"], 0.75)
        self.assertEqual(nodes["transpose"]["shape"], [1, 224 * 224, 4])
        self.assertEqual(nodes["transpose"]["channelDim"], 2)
        self.assertEqual(nodes["transpose"]["deadChannels"], 3)

    def test_table_output(self):
        result = run("stats", self.resnet50_path, self.image, "--threads", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertTrue(lines[0].startswith("node "), lines[0])
        self.assertTrue(any(line.startswith("layer4.2.relu_2 ") and "[1, 2048, 7, 7]" in line for line in lines))


class DiffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.image, _ = cam_models.test_image(WORK)
        folder = os.path.join(WORK, "models")
        cls.model = cam_models.make_model("resnet50")
        cls.path = cam_models.scripted_path(cls.model, "resnet50", folder)

    def save(self, model, name):
        path = os.path.join(WORK, name + ".pt")
        torch.jit.save(torch.jit.script(model), path,
                       _extra_files={"featscope.json": json.dumps(cam_models.PREPROCESSING)})
        return path

    def test_perturbed_layer_is_first_divergent(self):
        perturbed = copy.deepcopy(self.model)
        with torch.no_grad():
            weight = perturbed.layer3[1].conv2.weight
            weight += 0.01 * weight.abs().mean() * torch.randn(weight.shape, generator=torch.Generator().manual_seed(1))
        result = run_json("diff", self.path, self.save(perturbed, "resnet50-perturbed"), self.image)
        self.assertEqual(result["firstDivergent"], "layer3.1.conv2")
        self.assertEqual(result["onlyInA"], [])
        self.assertEqual(result["onlyInB"], [])
        names = [node["name"] for node in result["nodes"]]
        self.assertEqual(names, run_json("nodes", self.path, "--mode", "eval")["eval"])
        first = names.index("layer3.1.conv2")
        self.assertTrue(all(node["maxAbs"] == 0.0 for node in result["nodes"][:first]), "same weights, same values")
        self.assertGreater(result["nodes"][first]["maxRel"], 1e-3)
        self.assertTrue(result["nodes"][-1]["divergent"], "the change reaches the output")

    def test_identical_copy_has_no_divergent_node(self):
        result = run_json("diff", self.path, self.save(self.model, "resnet50-copy"), self.image)
        self.assertIsNone(result["firstDivergent"])
        self.assertEqual(len(result["nodes"]), len(run_json("nodes", self.path, "--mode", "eval")["eval"]))
        self.assertTrue(all(node["maxAbs"] == 0.0 and not node["divergent"] for node in result["nodes"]))

    def test_other_architecture_reports_shapes_and_own_nodes(self):
        resnet18 = self.save(cam_models.make_model("resnet18"), "resnet18")
        result = run_json("diff", resnet18, self.path, self.image)
        nodes = {node["name"]: node for node in result["nodes"]}
        self.assertEqual(result["firstDivergent"], "conv1", "other random weights from the first conv on")
        self.assertEqual(nodes["x"]["maxAbs"], 0.0)
        # BasicBlock adds after bn2, Bottleneck after bn3: same name, other widths.
        mismatch = nodes["layer1.0.add"]
        self.assertEqual((mismatch["shapeA"], mismatch["shapeB"]), ([1, 64, 56, 56], [1, 256, 56, 56]))
        self.assertTrue(mismatch["divergent"])
        self.assertIsNone(mismatch["maxAbs"])
        self.assertEqual((nodes["fc"]["shapeA"], nodes["fc"]["shapeB"]), ([1, 1000], [1, 1000]))
        self.assertIn("layer1.0.conv3", result["onlyInB"])
        self.assertIn("layer1.0.downsample.0", result["onlyInB"])
        self.assertNotIn("layer1.0.conv3", nodes)

    def test_table_output(self):
        result = run("diff", self.path, self.path, self.image, "--threads", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no divergent node", result.stdout)


class BadInputTest(unittest.TestCase):
    model = os.path.join(ROOT, "resources", "models", "fashion_cnn.pt")
    image = os.path.join(ROOT, "resources", "images", "ankle_boot_0.png")

    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)

    def assertFails(self, result, *needles, code=1):
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertNotIn("terminate called", result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stderr)

    def test_bundled_model_runs(self):
        nodes = run_json("stats", self.model, self.image)["nodes"]
        self.assertEqual(nodes[0]["name"], "x")
        self.assertEqual(nodes[0]["shape"], [1, 1, 28, 28])

    def test_missing_files(self):
        missing = os.path.join(WORK, "missing.pt")
        self.assertFails(run("stats", missing, self.image), missing, "does not exist")
        self.assertFails(run("diff", self.model, missing, self.image), missing, "does not exist")
        missing_image = os.path.join(WORK, "missing.png")
        self.assertFails(run("stats", self.model, missing_image), missing_image)
        self.assertFails(run("diff", self.model, self.model, missing_image), missing_image)

    def test_not_an_image(self):
        text = os.path.join(WORK, "not-an-image.png")
        with open(text, "w") as f:
            f.write("not a png\n")
        self.assertFails(run("stats", self.model, text), text)
        self.assertFails(run("diff", self.model, self.model, text), text)
        self.assertFails(run("stats", self.model, self.model), self.model)

    def test_malformed_command_lines(self):
        self.assertFails(run("stats", self.model, self.image, "--colour"), "unknown option", "Usage: featscope-cli stats", code=2)
        self.assertFails(run("stats", self.model), "give MODEL.pt and one IMAGE", code=2)
        self.assertFails(run("stats", self.model, self.image, "--mode", "both"), "--mode must be train or eval", code=2)
        self.assertFails(run("diff", self.model, self.image), "give A.pt, B.pt and one IMAGE", code=2)
        self.assertFails(run("diff", self.model, self.model, self.image, "--atol", "-1"), "--atol needs", code=2)
        self.assertFails(run("diff", self.model, self.model, self.image, "--rtol", "x"), "--rtol needs", code=2)


if __name__ == "__main__":
    cam_models.main(sys.modules[__name__])
