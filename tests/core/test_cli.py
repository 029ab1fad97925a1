"""featscope-cli end to end: bad input, errors, extractors used from Python against torchvision.

Run: /usr/bin/python3 test_cli.py --cli build/bin/featscope-cli
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np
import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

CLI = None
warnings.filterwarnings("ignore")
torch.set_num_threads(2)


class TinyNet(torch.nn.Module):
    """Covers what the bad-input tests need: a parameter read, a shape read, a loop, a train-only branch."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        y = self.relu(self.conv(x)) * self.scale
        n = x.shape
        for _ in range(x.size(0)):
            y = y + 1
        if self.training:
            y = torch.nn.functional.dropout(y, 0.5)
        else:
            y = y - 1
        return self.fc(y.mean((2, 3))), n


def scaled_sum(x, factor: float):
    return (x * factor).sum(1, keepdim=True) + 1


class WithHelper(torch.nn.Module):
    """Calls a plain Python function, for --leaf-function (torchvision's autowrap_functions)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(scaled_sum(self.conv(x), 2.0))


class HelperClassifier(torch.nn.Module):
    """Class scores through a plain Python function, for cam at a --leaf-function node."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(1, 3)

    def forward(self, x):
        return self.fc(torch.relu(scaled_sum(self.conv(x), 2.0)).mean((2, 3)))


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-cli-test-")
        torch.manual_seed(0)
        cls.tiny = os.path.join(cls.dir, "tiny.pt")
        torch.jit.script(TinyNet()).save(cls.tiny)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertFails(self, result, *needles, code=1):
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertTrue(result.stderr.strip(), "no message on stderr")
        self.assertNotIn("Traceback", result.stderr)
        self.assertNotIn("terminate called", result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stderr)

    # --- help and usage -------------------------------------------------------------------
    def test_help_on_every_command(self):
        for args in (["--help"], ["nodes", "--help"], ["extract", "--help"]):
            result = run(*args)
            self.assertEqual(result.returncode, 0, args)
            self.assertIn("Usage: featscope-cli", result.stdout)

    def test_unknown_command_and_option(self):
        self.assertFails(run("frobnicate"), "unknown command", code=2)
        self.assertFails(run("nodes", self.tiny, "--colour"), "unknown option", code=2)

    # --- bad model files ------------------------------------------------------------------
    def test_missing_file(self):
        missing = self.path("missing.pt")
        self.assertFails(run("nodes", missing), missing, "does not exist")

    def test_directory(self):
        self.assertFails(run("nodes", self.dir), self.dir, "directory")

    def test_empty_file(self):
        open(self.path("empty.pt"), "wb").close()
        self.assertFails(run("nodes", self.path("empty.pt")), "empty.pt", "empty", "torch.jit.script")

    def test_truncated_file(self):
        data = open(self.tiny, "rb").read()
        with open(self.path("truncated.pt"), "wb") as f:
            f.write(data[: len(data) // 2])
        self.assertFails(run("nodes", self.path("truncated.pt")), "truncated.pt", "truncated or corrupt")

    def test_random_bytes(self):
        with open(self.path("random.pt"), "wb") as f:
            f.write(os.urandom(4096))
        self.assertFails(run("nodes", self.path("random.pt")), "random.pt", "not a TorchScript file")

    def test_state_dict(self):
        torch.save(TinyNet().state_dict(), self.path("weights.pth"))
        self.assertFails(run("nodes", self.path("weights.pth")), "weights.pth", "torch.save", "torch.jit.script")
        torch.save(TinyNet().state_dict(), self.path("legacy.pth"), _use_new_zipfile_serialization=False)
        self.assertFails(run("nodes", self.path("legacy.pth")), "legacy.pth", "pickle", "torch.jit.script")

    # --- bad node choices -----------------------------------------------------------------
    def test_unknown_node_suggests_names(self):
        result = run("extract", self.tiny, "--return", "rleu", "-o", self.path("out.pt"))
        self.assertFails(result, "'rleu'", "closest names", "'relu'", self.tiny)
        self.assertFalse(os.path.exists(self.path("out.pt")))

    def test_node_that_is_not_a_tensor(self):
        # torchvision returns any node; the dict's value type is then the most specific one holding them.
        out = self.path("shape.pt")
        result = run("extract", self.tiny, "--return", "getattr=shape", "--return", "conv", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        extractor = torch.jit.load(out)
        self.assertIn("-> Dict(str, Union(Tensor, int[]))", str(extractor.forward.schema))
        x = torch.randn(2, 3, 8, 8)
        got = extractor(x)
        self.assertEqual(got["shape"], [2, 3, 8, 8])
        self.assertEqual(got["conv"].shape, (2, 4, 8, 8))
        only_shape = self.path("only_shape.pt")
        self.assertEqual(run("extract", self.tiny, "--return", "getattr=shape", "-o", only_shape).returncode, 0)
        self.assertIn("-> Dict(str, int[])", str(torch.jit.load(only_shape).forward.schema))

    def test_node_inside_a_loop(self):
        self.assertFails(run("extract", self.tiny, "--return", "add", "-o", self.path("out.pt")),
                         "'add'", "inside a loop")

    def test_duplicate_keys(self):
        self.assertFails(run("extract", self.tiny, "--return", "conv=a", "--return", "relu=a", "-o", self.path("o.pt")),
                         "'a'", "used twice")

    def test_return_mixed_with_train_return(self):
        self.assertFails(run("extract", self.tiny, "--return", "conv", "--train-return", "relu", "-o", self.path("o.pt")),
                         "cannot be mixed", code=2)

    def test_empty_and_long_names(self):
        self.assertFails(run("extract", self.tiny, "--return", "=key", "-o", self.path("o.pt")), "no node name")
        self.assertFails(run("extract", self.tiny, "--return", "x" * 10000, "-o", self.path("o.pt")), "longer than")
        self.assertFails(run("extract", self.tiny, "--return", "çonv", "-o", self.path("o.pt")), "closest names")

    # --- working extractors ---------------------------------------------------------------
    def test_train_and_eval_selections(self):
        out = self.path("modes.pt")
        result = run("extract", self.tiny, "--train-return", "dropout=y", "--eval-return", "sub=y", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        extractor = torch.jit.load(out)
        x = torch.randn(2, 3, 8, 8)
        eager = TinyNet()
        eager.load_state_dict(torch.jit.load(self.tiny).state_dict())
        eager.eval()
        with torch.no_grad():
            expected = eager.relu(eager.conv(x)) * eager.scale + 2 - 1
            self.assertTrue(torch.allclose(extractor.eval()(x)["y"], expected, atol=1e-6))
            train_out = extractor.train()(x)["y"]
        self.assertEqual(((train_out == 0).float().mean() > 0.2).item(), True)  # dropout ran

    def test_nodes_json_matches_torchvision(self):
        torch.manual_seed(0)
        model = torchvision.models.resnet18()
        path = self.path("resnet18.pt")
        torch.jit.script(model).save(path)
        result = run("nodes", path, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        import json
        ours = json.loads(result.stdout)
        train, eval_ = get_graph_node_names(model)
        self.assertEqual(ours["train"], train)
        self.assertEqual(ours["eval"], eval_)

    def test_extractor_keeps_the_source_order(self):
        # Children, parameters and buffers in the source model's order, as in torchvision's extractor.
        torch.manual_seed(0)
        model = torchvision.models.resnet18().eval()
        path = self.path("resnet18_order.pt")
        torch.jit.script(model).save(path)
        out = self.path("resnet18_order_extractor.pt")
        self.assertEqual(run("extract", path, "--return", "layer2", "--return", "fc", "-o", out).returncode, 0)
        ours = torch.jit.load(out)
        reference = create_feature_extractor(model, return_nodes=["layer2", "fc"])
        self.assertEqual([n for n, _ in ours.named_children()], [n for n, _ in reference.named_children()])
        self.assertEqual([n for n, _ in ours.named_parameters()], [n for n, _ in reference.named_parameters()])
        self.assertEqual([n for n, _ in ours.named_buffers()], [n for n, _ in reference.named_buffers()])
        self.assertEqual(list(ours.state_dict()), list(reference.state_dict()))

    def test_leaf_function(self):
        torch.manual_seed(0)
        model = WithHelper().eval()
        path = self.path("helper.pt")
        torch.jit.script(model).save(path)
        ref_train, ref_eval = get_graph_node_names(model, tracer_kwargs={"autowrap_functions": [scaled_sum]})
        result = run("nodes", path, "--json", "--leaf-function", "scaled_sum")
        self.assertEqual(result.returncode, 0, result.stderr)
        import json
        self.assertEqual(json.loads(result.stdout)["eval"], ref_eval)
        self.assertIn("scaled_sum", ref_eval)
        # Without it the function is traced through, as by torchvision.
        result = run("nodes", path, "--json")
        self.assertEqual(json.loads(result.stdout)["eval"], get_graph_node_names(model)[1])
        out = self.path("helper_extractor.pt")
        self.assertEqual(run("extract", path, "--leaf-function", "scaled_sum", "--return", "scaled_sum", "-o", out).returncode, 0)
        x = torch.randn(2, 3, 8, 8)
        with torch.no_grad():
            self.assertTrue(torch.equal(torch.jit.load(out)(x)["scaled_sum"], scaled_sum(model.conv(x), 2.0)))
        # cam names the graph with the same options: the function's node is there too (it was not).
        torch.jit.script(HelperClassifier().eval()).save(self.path("helper_classifier.pt"))
        image = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources", "images",
                             "ankle_boot_0_rgb224.png")
        cam_out = self.path("helper_cam.npy")
        result = run("cam", self.path("helper_classifier.pt"), image, "--node", "scaled_sum", "--leaf-function",
                     "scaled_sum", "-o", cam_out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(np.load(cam_out).shape, (224, 224))

    def test_resnet50_body_matches_torchvision_and_trains(self):
        torch.manual_seed(0)
        model = torchvision.models.resnet50().eval()
        path = self.path("resnet50.pt")
        torch.jit.script(model).save(path)
        body = self.path("resnet50_body.pt")
        args = ["extract", path, "-o", body]
        for v, k in enumerate([1, 2, 3, 4]):
            args += ["--return", f"layer{k}={v}"]
        result = run(*args)
        self.assertEqual(result.returncode, 0, result.stderr)

        ours = torch.jit.load(body).eval()
        reference = create_feature_extractor(model, return_nodes={f"layer{k}": str(v) for v, k in enumerate([1, 2, 3, 4])})
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            a, b = ours(x), reference(x)
        self.assertEqual(list(a.keys()), list(b.keys()))
        for key in b:
            self.assertTrue(torch.allclose(a[key], b[key], atol=1e-5, rtol=1e-5), key)

        ours.train()
        loss = sum(v.mean() for v in ours(x).values())
        loss.backward()
        grads = [p.grad for p in ours.parameters()]
        self.assertTrue(all(g is not None for g in grads))
        self.assertGreater(sum(g.abs().sum().item() for g in grads), 0)

        layer2 = self.path("resnet50_layer2.pt")
        self.assertEqual(run("extract", path, "--return", "layer2", "-o", layer2).returncode, 0)
        pruned = torch.jit.load(layer2)
        expected = create_feature_extractor(model, return_nodes=["layer2"])
        self.assertEqual(sum(p.numel() for p in pruned.parameters()), sum(p.numel() for p in expected.parameters()))
        # Only the stem and the first two stages are kept, in the source's order, as in torchvision's extractor.
        self.assertEqual([n for n, _ in pruned.named_children()], [n for n, _ in expected.named_children()])
        self.assertEqual([n for n, _ in pruned.named_children()], ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    args, rest = parser.parse_known_args()
    CLI = os.path.abspath(args.cli)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
