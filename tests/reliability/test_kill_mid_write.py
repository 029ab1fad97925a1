"""Killing featscope while it writes an exported model loses nothing: the file at the output path is the
old one, byte for byte, or the new one complete, never a mix or a truncated archive. Covers
`featscope-cli extract` and the engine's `export` (what the GUI's File > Export uses).

/usr/bin/python3 test_kill_mid_write.py --cli build/bin/featscope-cli --engine build/bin/featscope-engine
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import torch

CLI = ENGINE = None


class Wide(torch.nn.Module):
    """About 270 MB of weights, so that saving takes long enough to be killed in the middle."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(*[torch.nn.Linear(4096, 4096) for _ in range(4)])
        self.head = torch.nn.Linear(4096, 10)

    def forward(self, x):
        return self.head(self.layers(x))


def wait_for_temporary(output, process, timeout=120):
    """Returns once a temporary file for `output` exists and has data (the save has started)."""
    pattern = os.path.join(os.path.dirname(output), "." + os.path.basename(output) + ".tmp-*")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in glob.glob(pattern):
            try:
                if os.path.getsize(path) > 0:
                    return path
            except FileNotFoundError:
                pass
        if process.poll() is not None:
            return None
        time.sleep(0.002)
    raise AssertionError("the save never started")


class KillMidWriteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-kill-")
        torch.manual_seed(0)
        cls.model = os.path.join(cls.dir, "wide.pt")
        torch.jit.script(Wide().eval()).save(cls.model)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def make_old_file(self, output):
        subprocess.run([CLI, "extract", self.model, "--return", "head", "-o", output], check=True,
                       stdout=subprocess.DEVNULL)
        with open(output, "rb") as f:
            return f.read()

    def check_output(self, output, old_bytes, new_return):
        with open(output, "rb") as f:
            data = f.read()
        if data == old_bytes:
            return "old"
        # Not the old file: it must be the complete new extractor.
        extractor = torch.jit.load(output)
        out = extractor(torch.zeros(1, 4096))
        self.assertEqual(list(out.keys()), [new_return])
        return "new"

    def kill_while_saving(self, output, delays, start):
        """Starts a save into `output` once per delay and SIGKILLs it that long after its temporary file
        appears; each time the output must be the old file or the complete new one."""
        old = self.make_old_file(output)
        outcomes = []
        for delay in delays:
            process = start()
            if wait_for_temporary(output, process):
                time.sleep(delay)
                process.send_signal(signal.SIGKILL)
            process.wait()
            if process.stdin:
                process.stdin.close()
            with self.subTest(delay=delay):
                outcomes.append(self.check_output(output, old, "layers.2"))
            if outcomes[-1] == "new":
                old = self.make_old_file(output)
        print(f"outcomes by kill delay: {outcomes}", file=sys.stderr)
        self.assertIn("old", outcomes, "no kill landed inside a save: the test did not test anything")

    def test_cli_extract_killed_while_saving(self):
        output = os.path.join(self.dir, "cli-out.pt")
        self.kill_while_saving(output, (0.0, 0.01, 0.05, 0.1, 0.2), lambda: subprocess.Popen(
            [CLI, "extract", self.model, "--return", "layers.2", "-o", output],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # The next save cleans up the temporaries the killed ones left behind.
        subprocess.run([CLI, "extract", self.model, "--return", "layers.2", "-o", output], check=True,
                       stdout=subprocess.DEVNULL)
        self.assertEqual(glob.glob(os.path.join(self.dir, ".cli-out.pt.tmp-*")), [])
        self.assertEqual(self.check_output(output, b"", "layers.2"), "new")

    def test_engine_export_killed_while_saving(self):
        output = os.path.join(self.dir, "engine-out.pt")
        def start_engine_export():
            engine = subprocess.Popen([ENGINE], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL)
            engine.stdin.write((json.dumps({"id": 1, "cmd": "load", "path": self.model}) + "\n").encode())
            engine.stdin.write((json.dumps({"id": 2, "cmd": "export", "path": output,
                                            "returnNodes": [{"node": "layers.2"}]}) + "\n").encode())
            engine.stdin.flush()
            return engine

        self.kill_while_saving(output, (0.0, 0.05, 0.2), start_engine_export)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--engine", required=True)
    args, rest = parser.parse_known_args()
    CLI, ENGINE = os.path.abspath(args.cli), os.path.abspath(args.engine)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
