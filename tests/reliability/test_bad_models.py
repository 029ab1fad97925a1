"""Every file of the bad-model corpus gets a clear error from featscope-cli: exit 1, a message naming
the file, no signal, no abort, bounded memory. Also: ops that reach outside the model are refused, and
the reader process that reads each file first fails with a message naming the file.

/usr/bin/python3 test_bad_models.py --cli build/bin/featscope-cli
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Tuple

import torch

from measured_run import run_measured

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = None
MEMORY_BOUND_KB = 3 * 1024 * 1024  # the reader's cap is 2 GiB over the process's own size


class BadModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-bad-models-")
        os.chmod(cls.dir, 0o755)
        subprocess.run([sys.executable, os.path.join(HERE, "make_bad_models.py"), "--out", cls.dir], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def check_refused(self, name, *needles, user=None):
        path = os.path.join(self.dir, name)
        for command in (["nodes", path], ["extract", path, "--return", "conv", "-o", os.path.join(self.dir, "out.pt")]):
            code, stderr, rss = run_measured([CLI, *command], user=user)
            with self.subTest(file=name, command=command[0]):
                self.assertEqual(code, 1, f"exit {code}: {stderr}")
                self.assertIn(path, stderr)
                for needle in needles:
                    self.assertIn(needle, stderr)
                self.assertNotIn("terminate called", stderr)
                self.assertLess(rss, MEMORY_BOUND_KB, f"peak RSS {rss} KB")
                self.assertFalse(os.path.exists(os.path.join(self.dir, "out.pt")))

    def test_good_file_loads(self):
        code, stderr, _ = run_measured([CLI, "nodes", os.path.join(self.dir, "good.pt")])
        self.assertEqual(code, 0, stderr)

    def test_zero_bytes(self): self.check_refused("zero_bytes.pt", "empty")
    def test_truncated(self): self.check_refused("truncated.pt", "truncated or corrupt")
    def test_not_a_zip(self): self.check_refused("not_a_zip.pt", "not a TorchScript file")
    def test_random_bytes(self): self.check_refused("random.pt", "not a TorchScript file")
    def test_corrupt_central_directory(self): self.check_refused("corrupt_central_directory.pt")
    def test_entry_claims_gigabytes(self): self.check_refused("entry_claims_gigabytes.pt")
    def test_pickle_huge_string(self): self.check_refused("pickle_huge_string.pt")
    def test_pickle_deep_nesting(self): self.check_refused("pickle_deep_nesting.pt")
    def test_pickle_empty_stack(self): self.check_refused("pickle_empty_stack.pt")
    def test_pickle_huge_container(self): self.check_refused("pickle_huge_container.pt")
    def test_corrupt_code(self): self.check_refused("corrupt_code.pt")
    def test_state_dict(self): self.check_refused("state_dict.pth", "torch.save")
    def test_directory(self): self.check_refused("a_directory.pt", "directory")

    def test_unreadable(self):
        self.check_refused("unreadable.pt", "cannot be read", user="nobody" if os.geteuid() == 0 else None)

    def test_corrupt_debug_info(self): self.check_refused("corrupt_debug_info.pt", "Unknown opcode")
    def test_debug_pickle_that_corrupts_the_heap(self):
        self.check_refused("debug_pickle_bad_free.pt", "crashed while reading it")

    def test_terminal_escapes_in_the_file_are_shown_escaped(self):
        path = os.path.join(self.dir, "escape_in_message.pt")
        code, stderr, _ = run_measured([CLI, "nodes", path])
        self.assertEqual(code, 1, stderr)
        self.assertIn(path, stderr)
        self.assertNotIn("\x1b", stderr)
        self.assertIn("\\x1b[2J", stderr)


class SaverModel(torch.nn.Module):
    def __init__(self, canary: str):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        self.canary = canary

    def forward(self, x):
        y = self.conv(x)
        torch.save(y, self.canary)
        return y + 1


class SaveOnLoadModel(torch.nn.Module):
    """TorchScript runs __setstate__ inside torch.jit.load: this one writes the canary while loading."""

    def __init__(self, canary: str):
        super().__init__()
        self.canary = canary
        self.weight = torch.nn.Parameter(torch.ones(3))

    @torch.jit.export
    def __getstate__(self):
        return (self.canary, self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, torch.Tensor, bool]):
        self.canary = state[0]
        self.weight = state[1]
        torch.save(torch.zeros(1), state[0])
        self.training = state[2]

    def forward(self, x):
        return x * self.weight


class HarmlessLoadHookModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))

    @torch.jit.export
    def __getstate__(self):
        return (self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        self.weight = state[0]
        self.training = state[1]

    def forward(self, x):
        return x * self.weight


class UnsafeOpsTest(unittest.TestCase):
    def test_save_while_loading_is_refused_before_loading(self):
        with tempfile.TemporaryDirectory() as tmp:
            canary = os.path.join(tmp, "canary.pt")
            model = os.path.join(tmp, "save_on_load.pt")
            torch.jit.script(SaveOnLoadModel(canary)).save(model)
            self.assertFalse(os.path.exists(canary))
            out = os.path.join(tmp, "extractor.pt")
            # Refused even with --allow-unsafe-ops: that consent is about running forward, and loading alone would
            # already have written the file.
            for command in (["nodes", model], ["extract", model, "--return", "mul", "-o", out, "--allow-unsafe-ops"]):
                refused = subprocess.run([CLI, *command], capture_output=True, text=True)
                self.assertEqual(refused.returncode, 1, refused.stderr)
                self.assertIn(model, refused.stderr)
                self.assertIn("__setstate__", refused.stderr)
                self.assertIn("torch.save", refused.stderr)
                self.assertFalse(os.path.exists(canary), "loading ran the model's __setstate__")
                self.assertFalse(os.path.exists(out))
            # A __setstate__ that reaches nothing outside the model still loads.
            harmless = os.path.join(tmp, "harmless.pt")
            torch.jit.script(HarmlessLoadHookModel()).save(harmless)
            loaded = subprocess.run([CLI, "nodes", harmless], capture_output=True, text=True)
            self.assertEqual(loaded.returncode, 0, loaded.stderr)
            self.assertIn("mul", loaded.stdout)


    def test_save_in_forward_is_refused_unless_allowed(self):
        with tempfile.TemporaryDirectory() as tmp:
            canary = os.path.join(tmp, "canary.pt")
            model = os.path.join(tmp, "saver.pt")
            torch.jit.script(SaverModel(canary)).save(model)
            out = os.path.join(tmp, "extractor.pt")
            refused = subprocess.run([CLI, "extract", model, "--return", "add", "-o", out], capture_output=True, text=True)
            self.assertEqual(refused.returncode, 1, refused.stderr)
            self.assertIn("aten::save", refused.stderr)
            self.assertIn("--allow-unsafe-ops", refused.stderr)
            self.assertFalse(os.path.exists(out))
            self.assertFalse(os.path.exists(canary))

            allowed = subprocess.run([CLI, "extract", model, "--return", "add", "-o", out, "--allow-unsafe-ops"],
                                     capture_output=True, text=True)
            self.assertEqual(allowed.returncode, 0, allowed.stderr)
            self.assertFalse(os.path.exists(canary), "exporting must not run the model")
            torch.jit.load(out)(torch.randn(1, 3, 4, 4))
            self.assertTrue(os.path.exists(canary), "the exported extractor keeps the op the user allowed")


class ReaderProcessTest(unittest.TestCase):
    """The file is read first by a separate reader process: featscope-reader (found through FEATSCOPE_READER,
    beside the program or on PATH), or a fork while the program is single-threaded. Every way it can fail
    becomes a message naming the file."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-reader-")
        os.chmod(cls.dir, 0o755)
        cls.good = os.path.join(cls.dir, "good.pt")
        torch.jit.script(torch.nn.Conv2d(3, 4, 1)).save(cls.good)
        cls.reader = os.path.join(os.path.dirname(CLI), "featscope-reader")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def fake_reader(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as script:
            script.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def nodes(self, reader, cli=None):
        return subprocess.run([cli or CLI, "nodes", self.good], capture_output=True, text=True,
                              env={**os.environ, "FEATSCOPE_READER": reader} if reader else None)

    def test_the_reader_is_a_program_of_its_own(self):
        log = os.path.join(self.dir, "started.log")
        wrapper = self.fake_reader("logging_reader", f'echo "$$ $*" >> {log}\nexec {self.reader} "$@"')
        result = self.nodes(wrapper)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("weight", result.stdout)
        with open(log) as started:
            lines = started.read().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].endswith(" --request-on-stdin"), lines)

    def test_reader_that_exits_without_a_word(self):
        result = self.nodes(self.fake_reader("silent_reader", "exit 7"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(self.good, result.stderr)
        self.assertIn("stopped (exit status 7) without saying why", result.stderr)

    def test_reader_that_crashes(self):
        result = self.nodes(self.fake_reader("crashing_reader", "head -c 1 >/dev/null\nkill -SEGV $$"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(self.good, result.stderr)
        self.assertIn("crashed while reading it (Segmentation fault)", result.stderr)

    def test_reader_named_wrongly(self):
        missing = os.path.join(self.dir, "no_such_reader")
        result = self.nodes(missing)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(self.good, result.stderr)
        self.assertIn(f"FEATSCOPE_READER names '{missing}'", result.stderr)

    def test_single_threaded_cli_forks_its_reader(self):
        # The CLI loads before it starts threads, so its reader is a fork and needs no featscope-reader
        # beside it (the engine, which has threads, does: test_engine.py test_reader_missing).
        lonely = os.path.join(self.dir, "lonely")
        os.makedirs(lonely, exist_ok=True)
        cli = shutil.copy(CLI, lonely)
        result = subprocess.run([cli, "nodes", self.good], capture_output=True, text=True,
                                env={k: v for k, v in {**os.environ, "PATH": lonely}.items()
                                     if k != "FEATSCOPE_READER"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("weight", result.stdout)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    args, rest = parser.parse_known_args()
    CLI = os.path.abspath(args.cli)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
