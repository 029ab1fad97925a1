#!/usr/bin/python3
"""`featscope-cli features` and `features-join` end to end on the bundled Fashion-MNIST model.

Values against torchvision's create_feature_extractor, every pooling mode, the .npy/.paths.txt/.json
outputs, resuming after SIGKILL and Ctrl-C, shards joined equal to one run, up-to-date runs, bad
images (skip vs --strict), ImageNet defaults for models without featscope.json, the progress bar on a
terminal, and command-line errors.

Run: /usr/bin/python3 test_features.py --cli build/bin/featscope-cli --images DIR --work DIR
(DIR from make_fashion_images.py).
"""
import argparse
import glob
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
import unittest

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

CLI = IMAGES = WORK = None
MODEL = reference.MODEL
torch.set_num_threads(2)


class SavesFiles(torch.nn.Module):
    """A model whose code can write a file: features refuses it unless told otherwise."""

    def forward(self, x):
        if bool(x.sum() > 1e30):
            torch.save(x, "/tmp/featscope-test-leak.pt")
        return x.mean((2, 3))


def run(*args, timeout=600, **kwargs):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, **kwargs)


def load(npy):
    base = npy[:-4]
    with open(base + ".paths.txt", encoding="utf-8") as f:
        paths = f.read().splitlines()
    with open(base + ".json", encoding="utf-8") as f:
        meta = json.load(f)
    return np.load(npy), paths, meta


class FeaturesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gallery = os.path.join(IMAGES, "gallery")
        cls.all = sorted(glob.glob(os.path.join(cls.gallery, "*", "*.png")))
        cls.bags = os.path.join(cls.gallery, "bag")
        cls.dir = os.path.join(WORK, "features")
        shutil.rmtree(cls.dir, ignore_errors=True)
        os.makedirs(cls.dir)
        cls.full = os.path.join(cls.dir, "full.npy")
        r = run("features", MODEL, "--return", "features.block3", "--l2-normalize", "-o", cls.full, cls.gallery)
        assert r.returncode == 0, r.stderr
        cls.full_stderr = r.stderr

    def out(self, name):
        return os.path.join(self.dir, name)

    def test_outputs_match_torchvision(self):
        rows, paths, meta = load(self.full)
        self.assertEqual(rows.dtype, np.float32)
        self.assertEqual(rows.shape, (len(self.all), 128))
        self.assertEqual(paths, sorted(paths))
        self.assertEqual([os.path.abspath(p) for p in paths], self.all)
        self.assertEqual((meta["rows"], meta["dim"], meta["images"], meta["skipped"]), (2000, 128, 2000, []))
        self.assertEqual(meta["settings"]["return"], "features.block3")
        self.assertEqual(meta["settings"]["preprocessing"]["channels"], 1)
        expected = reference.descriptors(self.all, "features.block3", "avg", l2=True)
        np.testing.assert_allclose(rows, expected, atol=2e-5)
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
        self.assertIn("images/s", self.full_stderr)

    def test_pooling_modes_and_2d_outputs(self):
        paths = sorted(glob.glob(os.path.join(self.bags, "*.png")))
        for node, mode, dim in [("features.block2", "max", 64), ("features.block3", "gem", 128),
                                ("features.block1", "none", 32 * 14 * 14), ("classifier.fc", "avg", 10)]:
            with self.subTest(node=node, pool=mode):
                out = self.out(f"pool-{mode}.npy")
                r = run("features", MODEL, "--return", node, "--pool", mode, "--batch", "7", "-o", out, self.bags)
                self.assertEqual(r.returncode, 0, r.stderr)
                rows, got_paths, _ = load(out)
                self.assertEqual(rows.shape, (len(paths), dim))
                np.testing.assert_allclose(rows, reference.descriptors(paths, node, mode), rtol=1e-4, atol=1e-4)

    def test_up_to_date_run_does_nothing(self):
        before = os.stat(self.full).st_mtime_ns
        r = run("features", MODEL, "--return", "features.block3", "--l2-normalize", "-o", self.full, self.gallery)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("up to date", r.stderr)
        self.assertEqual(os.stat(self.full).st_mtime_ns, before)
        # Different settings recompute.
        out = self.out("copy.npy")
        shutil.copy(self.full, out)
        for ext in (".paths.txt", ".json"):
            shutil.copy(self.full[:-4] + ext, out[:-4] + ext)
        r = run("features", MODEL, "--return", "features.block3", "-o", out, self.bags)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("up to date", r.stderr)
        self.assertEqual(load(out)[0].shape, (200, 128))

    def interrupted_then_resumed(self, name, sig):
        """Starts a slow run (batch 1, one thread), stops it with `sig` midway, resumes it."""
        out = self.out(name + ".npy")
        args = ["features", MODEL, "--return", "features.block3", "--l2-normalize", "-o", out, self.gallery]
        progress = out + ".progress"
        for attempt in range(5):
            for f in glob.glob(out[:-4] + "*"):
                os.remove(f)
            process = subprocess.Popen([CLI, *args, "--batch", "1", "--threads", "1"],
                                       stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 120
            while time.time() < deadline and process.poll() is None:
                if os.path.exists(progress) and os.path.getsize(progress) > 40 * 300:
                    break
                time.sleep(0.002)
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=120)
            if not os.path.exists(out):
                break
        self.assertFalse(os.path.exists(out), "the run finished before it could be interrupted")
        if sig == signal.SIGINT:
            self.assertEqual(process.returncode, 130, stderr)
            self.assertIn("run the same command again to resume", stderr)
        self.assertTrue(os.path.exists(out + ".partial"))
        r = run(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resuming after", r.stderr)
        done = int(r.stderr.split("resuming after ")[1].split()[0])
        self.assertGreater(done, 0)
        self.assertLess(done, 2000)
        self.assertIn(f"; {2000 - done} images in", r.stderr)  # only the rest was computed
        self.assertFalse(os.path.exists(out + ".partial") or os.path.exists(progress))
        rows, paths, meta = load(out)
        full, full_paths, full_meta = load(self.full)
        self.assertEqual(paths, full_paths)
        np.testing.assert_allclose(rows, full, atol=1e-5)
        self.assertEqual(meta["job"], full_meta["job"])

    def test_resume_after_sigkill(self):
        self.interrupted_then_resumed("killed", signal.SIGKILL)

    def test_resume_after_ctrl_c(self):
        self.interrupted_then_resumed("interrupted", signal.SIGINT)

    def test_one_writer_per_output(self):
        out = self.out("locked.npy")
        args = ["features", MODEL, "--return", "features.block3", "-o", out, self.gallery]
        first = subprocess.Popen([CLI, *args, "--batch", "1", "--threads", "1"], stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and first.poll() is None:
                if os.path.exists(out + ".progress") and os.path.getsize(out + ".progress") > 100:
                    break
                time.sleep(0.002)
            self.assertIsNone(first.poll(), "the first run ended too early")
            first.send_signal(signal.SIGSTOP)  # it keeps its lock while stopped, however fast the machine
            r = run(*args)
            self.assertEqual(r.returncode, 1)
            self.assertIn("is writing", r.stderr)
        finally:
            first.kill()
            first.wait()

    def test_resume_refuses_other_settings(self):
        out = self.out("other.npy")
        with open(out + ".progress", "w") as f:
            f.write("featscope-features-progress 1 0123456789abcdef\n")
        r = run("features", MODEL, "--return", "features.block3", "-o", out, self.bags)
        self.assertEqual(r.returncode, 1)
        self.assertIn("different command", r.stderr)
        self.assertIn("--restart", r.stderr)
        r = run("features", MODEL, "--return", "features.block3", "--restart", "-o", out, self.bags)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_shards_join_to_the_single_run(self):
        shards = [self.out(f"shard{i}.npy") for i in (1, 2, 3)]
        for i, out in enumerate(shards, 1):
            r = run("features", MODEL, "--return", "features.block3", "--l2-normalize", "--shard", f"{i}/3",
                    "--batch", "64", "-o", out, self.gallery)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(load(out)[0].shape[0], [666, 667, 667][i - 1])
        joined = self.out("joined.npy")
        r = run("features-join", "-o", joined, *reversed(shards))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows, paths, meta = load(joined)
        full, full_paths, full_meta = load(self.full)
        self.assertEqual(paths, full_paths)
        np.testing.assert_allclose(rows, full, atol=1e-5)
        self.assertEqual(meta["job"], full_meta["job"])
        self.assertEqual(meta["shard"], [1, 1])
        # The joined output counts as the single run: running it is a no-op.
        r = run("features", MODEL, "--return", "features.block3", "--l2-normalize", "-o", joined, self.gallery)
        self.assertIn("up to date", r.stderr)
        # Missing shards and mixed jobs are refused.
        r = run("features-join", "-o", self.out("bad.npy"), shards[0], shards[2])
        self.assertEqual(r.returncode, 1)
        self.assertIn("2/3 missing", r.stderr)
        other = self.out("other-shard.npy")
        run("features", MODEL, "--return", "features.block2", "--shard", "2/3", "-o", other, self.gallery)
        r = run("features-join", "-o", self.out("bad.npy"), shards[0], other, shards[2])
        self.assertEqual(r.returncode, 1)
        self.assertIn("different models or settings", r.stderr)

    def bad_folder(self):
        folder = self.out("mixed")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.join(folder, ".hidden"))
        good = sorted(glob.glob(os.path.join(self.bags, "*.png")))[:3]
        for i, path in enumerate(good):
            shutil.copy(path, os.path.join(folder, f"{i}_good.png"))
        with open(good[0], "rb") as f:
            data = f.read()
        with open(os.path.join(folder, "1_truncated.png"), "wb") as f:
            f.write(data[: len(data) // 2])
        with open(os.path.join(folder, "2_text.jpg"), "w") as f:
            f.write("not an image\n")
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("ignored: no image extension\n")
        shutil.copy(good[0], os.path.join(folder, ".hidden", "ignored.png"))
        return folder

    def test_bad_images_are_skipped_with_a_warning(self):
        folder = self.bad_folder()
        out = self.out("mixed.npy")
        r = run("features", MODEL, "--return", "features.block3", "-o", out, folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: skipped", r.stderr)
        self.assertIn("1_truncated.png", r.stderr)
        self.assertIn("2_text.jpg", r.stderr)
        rows, paths, meta = load(out)
        self.assertEqual(rows.shape, (3, 128))
        self.assertEqual([os.path.basename(p) for p in paths], ["0_good.png", "1_good.png", "2_good.png"])
        self.assertEqual(sorted(os.path.basename(s["path"]) for s in meta["skipped"]), ["1_truncated.png", "2_text.jpg"])
        self.assertEqual(meta["images"], 5)

    def test_strict_stops_and_resumes_once_fixed(self):
        folder = self.bad_folder()
        out = self.out("strict.npy")
        r = run("features", MODEL, "--return", "features.block3", "--strict", "--batch", "1", "-o", out, folder)
        self.assertEqual(r.returncode, 1)
        self.assertIn("1_truncated.png", r.stderr)
        self.assertFalse(os.path.exists(out))
        os.remove(os.path.join(folder, "1_truncated.png"))
        os.remove(os.path.join(folder, "2_text.jpg"))
        r = run("features", MODEL, "--return", "features.block3", "--strict", "-o", out, folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resuming after 2 of 3", r.stderr)
        self.assertEqual(load(out)[0].shape, (3, 128))

    def test_imagenet_defaults_without_metadata(self):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
        model = self.out("rgb.pt")
        torch.jit.script(net.eval()).save(model)
        folder = self.out("rgb")
        os.makedirs(folder, exist_ok=True)
        rng = np.random.default_rng(0)
        arrays = [rng.integers(0, 256, (300, 256, 3), dtype=np.uint8), rng.integers(0, 256, (256, 280, 3), dtype=np.uint8)]
        Image.fromarray(arrays[0]).save(os.path.join(folder, "a.png"))
        Image.fromarray(arrays[1][:, :, 0]).save(os.path.join(folder, "b.png"))  # grayscale file, RGB model
        out = self.out("rgb.npy")
        r = run("features", model, "--return", "2", "--pool", "none", "-o", out, folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows, _, meta = load(out)
        self.assertEqual(meta["settings"]["preprocessing"]["center_crop"], 224)
        # Shorter side already 256: resizing keeps the image, the centre crop is exact.
        from torchvision import transforms
        t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        x = torch.stack([t(Image.open(os.path.join(folder, n)).convert("RGB")) for n in ("a.png", "b.png")])
        with torch.no_grad():
            expected = net(x).flatten(1).numpy()
        np.testing.assert_allclose(rows, expected, rtol=1e-4, atol=1e-4)

    def test_models_with_unsafe_ops_need_consent(self):
        model = self.out("unsafe.pt")
        torch.jit.script(SavesFiles()).save(model)
        folder = self.out("two")
        os.makedirs(folder, exist_ok=True)
        for path in sorted(glob.glob(os.path.join(self.bags, "*.png")))[:2]:
            shutil.copy(path, folder)
        out = self.out("unsafe.npy")
        r = run("features", model, "--return", "mean", "-o", out, folder)
        self.assertEqual(r.returncode, 1)
        self.assertIn("aten::save", r.stderr)
        self.assertIn("--allow-unsafe-ops", r.stderr)
        self.assertFalse(os.path.exists(out))
        r = run("features", model, "--return", "mean", "--allow-unsafe-ops", "-o", out, folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(load(out)[0].shape, (2, 3))

    def test_progress_bar_on_a_terminal(self):
        master, slave = pty.openpty()
        process = subprocess.Popen([CLI, "features", MODEL, "--return", "features.block3", "--batch", "16",
                                    "-o", self.out("tty.npy"), self.bags], stderr=slave, stdout=subprocess.DEVNULL)
        os.close(slave)
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        process.wait(timeout=120)
        os.close(master)
        text = output.decode(errors="replace")
        self.assertEqual(process.returncode, 0, text)
        self.assertIn("\r[", text)
        self.assertIn("200/200 100%", text)
        # Not on a terminal: no bar.
        self.assertNotIn("\r[", self.full_stderr)

    def test_command_line_errors(self):
        cases = [
            (["features", MODEL, "-o", self.out("e.npy"), self.bags], 2, "--return NODE"),
            (["features", MODEL, "--return", "features.block3", "-o", self.out("e.npy")], 2, "at least one image"),
            (["features", MODEL, "--return", "features.block3", self.bags], 2, "missing -o"),
            (["features", MODEL, "--return", "features.block3", "--pool", "sum", "-o", self.out("e.npy"), self.bags], 2, "avg, max, gem, cls or none"),
            (["features", MODEL, "--return", "features.block3", "--shard", "4/3", "-o", self.out("e.npy"), self.bags], 2, "1 <= I <= N"),
            (["features", MODEL, "--return", "features.block3", "--shard", "2", "-o", self.out("e.npy"), self.bags], 2, "I/N"),
            (["features", MODEL, "--return", "features.block3", "--batch", "0", "-o", self.out("e.npy"), self.bags], 2, "--batch"),
            (["features", MODEL, "--return", "features.blok3", "-o", self.out("e.npy"), self.bags], 1, "features.block3"),
            (["features", MODEL, "--return", "features.block3", "-o", self.out("e.npy"), self.out("nope")], 1, "does not exist"),
            (["features", MODEL, "--return", "features.block3", "-o", self.out("e.npy"), self.dir + "/../features/mixed/notes.txt"], 1, "notes.txt"),
            (["features", self.out("missing.pt"), "--return", "x", "-o", self.out("e.npy"), self.bags], 1, "does not exist"),
            (["features", MODEL, "--return", "features.block3", "-o", self.out("no/such/dir/e.npy"), self.bags], 1, "does not exist"),
        ]
        self.bad_folder()
        for args, code, text in cases:
            with self.subTest(args=args[3:]):
                r = run(*args)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(text, r.stderr)
        r = run("features", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--shard I/N", r.stdout)


def main():
    global CLI, IMAGES, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    CLI, IMAGES, WORK = os.path.abspath(args.cli), os.path.abspath(args.images), os.path.abspath(args.work)
    os.makedirs(WORK, exist_ok=True)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
