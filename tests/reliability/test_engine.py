"""The engine process against the bad-input corpus and its own limits: every bad model, image or node
name gets an error response naming the problem, the engine stays up (no signal, no abort), and the
load/run memory and time caps stop what would otherwise take the machine.

/usr/bin/python3 test_engine.py --engine build/bin/featscope-engine
"""
import argparse
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINE = None
EXIT_AFTER_TIME_CAP = 3  # docs/engine-protocol.md, app/common/ExitCodes.h
# Set by EngineTest.setUpClass from the engine's hello: False in AddressSanitizer builds, which cannot cap
# address space (docs/engine-protocol.md#limits).
ADDRESS_SPACE_CAPS = True
# Environment for every engine of the suite. Under ASan: crashes stay signals (ASan's own handler would
# turn a reader's stack overflow into exit 1, and its report on LibTorch's bad free() ends in abort), and allocations up to 8 GB succeed so that the hostile
# 4 GB string is slow to read, as it is in a normal build.
ENGINE_ENV = {}

BAD_MODELS = {
    "zero_bytes.pt": "empty",
    "truncated.pt": "truncated or corrupt",
    "not_a_zip.pt": "not a TorchScript file",
    "random.pt": "not a TorchScript file",
    "corrupt_central_directory.pt": "",
    "entry_claims_gigabytes.pt": "",
    "pickle_huge_string.pt": "",
    "pickle_deep_nesting.pt": "crashed while reading it",
    "pickle_empty_stack.pt": "",
    "pickle_huge_container.pt": "",
    "corrupt_code.pt": "",
    "corrupt_debug_info.pt": "Unknown opcode",
    "debug_pickle_bad_free.pt": "crashed while reading it",
    "state_dict.pth": "torch.save",
    "a_directory.pt": "directory",
    "does_not_exist.pt": "does not exist",
}


def read_response(stream):
    """One message of docs/engine-protocol.md ("Framing") from the engine's stdout (a binary stream): the JSON
    line, then the payload parts it declares; a run's outputs get their parts as "values" (little-endian
    float32 bytes). Returns None at the end of the stream."""
    line = stream.readline()
    if not line:
        return None
    response = json.loads(line)
    parts = []
    for size in response.get("payload", []):
        part = stream.read(size)
        if len(part) != size:
            raise AssertionError(f"the engine declared {size} payload bytes and sent {len(part)}")
        parts.append(part)
    outputs = response.get("outputs", []) if parts else []
    if len(outputs) != len(parts):
        raise AssertionError(f"{len(outputs)} outputs but {len(parts)} payload parts: {response}")
    for output, part in zip(outputs, parts):
        output["values"] = part
    return response


class Engine:
    """One featscope-engine process spoken to over its protocol."""

    def __init__(self, *args, env=None, engine=None, unset=(), prefix=()):
        environment = {**os.environ, **ENGINE_ENV, **(env or {})}
        for name in unset:
            environment.pop(name, None)
        self.process = subprocess.Popen([*prefix, engine or ENGINE, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
        self.next_id = 1

    def request(self, cmd, timeout=120, **fields):
        request_id = self.next_id
        self.next_id += 1
        self.process.stdin.write((json.dumps({"id": request_id, "cmd": cmd, **fields}) + "\n").encode())
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"no answer to {cmd} within {timeout} s")
        response = read_response(self.process.stdout)
        if response is None:
            raise AssertionError(f"the engine ended while serving {cmd}: exit {self.process.wait()}, "
                                 f"stderr: {self.process.stderr.read().decode(errors='replace')[-2000:]}")
        assert response["id"] == request_id, response
        return response

    def close(self):
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait(30)
        self.process.stdout.close()
        self.process.stderr.close()
        return self.process.returncode


class EngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="featscope-engine-reliability-")
        os.chmod(cls.dir, 0o755)
        for script in ("make_bad_models.py", "make_bad_images.py"):
            subprocess.run([sys.executable, os.path.join(HERE, script), "--out", cls.dir], check=True)
        cls.good = os.path.join(cls.dir, "good.pt")
        global ADDRESS_SPACE_CAPS
        probe = Engine()
        ADDRESS_SPACE_CAPS = probe.request("hello")["addressSpaceCaps"]
        probe.close()
        if not ADDRESS_SPACE_CAPS:
            ENGINE_ENV["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "")
                                          + ":handle_segv=0:abort_on_error=1:max_allocation_size_mb=8192")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.engine = None

    def tearDown(self):
        if self.engine:
            if self.engine.process.poll() is None:
                self.engine.process.kill()
            self.engine.close()

    def start(self, *args, env=None):
        self.engine = Engine(*args, env=env)
        return self.engine

    def assertAlive(self, engine):
        self.assertEqual(engine.request("hello")["ok"], True)
        self.assertIsNone(engine.process.poll())

    def test_threads_default_to_every_core_the_process_may_use(self):
        """LibTorch alone counts physical cores (1 on a 2-vCPU machine) and then runs 1x1 convolutions on a
        slow path; the engine sizes its pool from its CPU affinity unless told otherwise."""
        thread_variables = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
        cores = len(os.sched_getaffinity(0))
        cases = [("default", {}, (), cores),
                 ("--threads 1", {}, ("--threads", "1"), 1),
                 ("OMP_NUM_THREADS=1", {"OMP_NUM_THREADS": "1"}, (), 1)]
        for label, env, args, expected in cases:
            with self.subTest(label):
                engine = Engine(*args, env=env, unset=() if env else thread_variables)
                try:
                    hello = engine.request("hello")
                    self.assertEqual(hello["threads"], expected, hello)
                    self.assertEqual(hello["availableCores"], cores, hello)
                    self.assertTrue(hello["blas"], hello)
                    # A new selection's first run must not pay for profiling or graph optimisation (issue 11).
                    self.assertIs(hello["profilingExecutor"], False, hello)
                    self.assertIs(hello["graphOptimization"], False, hello)
                finally:
                    engine.close()
        if shutil.which("taskset") and cores > 1:
            engine = Engine(unset=thread_variables, prefix=("taskset", "-c", "0"))
            try:
                hello = engine.request("hello")
                self.assertEqual((hello["threads"], hello["availableCores"]), (1, 1), hello)
            finally:
                engine.close()

    def test_bad_models_get_errors_and_the_engine_keeps_the_loaded_model(self):
        engine = self.start()
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        for name, needle in BAD_MODELS.items():
            path = os.path.join(self.dir, name)
            with self.subTest(file=name):
                response = engine.request("load", path=path)
                self.assertFalse(response["ok"], response)
                self.assertIn(path, response["error"])
                self.assertIn(needle, response["error"])
                self.assertAlive(engine)
        # The model loaded before the bad ones is still there and runs.
        run = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "conv"}])
        self.assertTrue(run["ok"], run)
        self.assertEqual(engine.close(), 0)

    def test_a_fresh_engine_asked_to_read_the_file_itself_reads_it_alone(self):
        """readInEngine (docs/engine-protocol.md): an engine with no model to lose reads the file in its own
        process, one read instead of the reader's and its own; one that holds a model always lets the reader
        read first."""
        engine = self.start()
        first = engine.request("load", path=self.good, readInEngine=True)
        self.assertTrue(first["ok"], first)
        self.assertFalse(first["sandboxedRead"])
        second = engine.request("load", path=self.good, readInEngine=True)
        self.assertTrue(second["ok"], second)
        self.assertTrue(second["sandboxedRead"])
        self.assertEqual(first["graphs"], second["graphs"])
        run = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "conv"}])
        self.assertTrue(run["ok"], run)
        other = Engine()
        try:
            self.assertTrue(other.request("load", path=self.good)["sandboxedRead"])
        finally:
            self.assertEqual(other.close(), 0)

    def test_bad_models_read_in_a_fresh_engine_get_the_readers_errors(self):
        # A file that crashes LibTorch crashes an engine that reads it itself: the caller that asked has nothing
        # to lose and asks again without readInEngine (ui/EngineClient.cpp). Every other failure is worded as
        # the sandboxed reader words it.
        engine = self.start()
        for name, needle in BAD_MODELS.items():
            if needle == "crashed while reading it":
                continue
            path = os.path.join(self.dir, name)
            with self.subTest(file=name):
                response = engine.request("load", path=path, readInEngine=True)
                self.assertFalse(response["ok"], response)
                self.assertIn(path, response["error"])
                self.assertIn(needle, response["error"])
                self.assertAlive(engine)

    def test_images(self):
        engine = self.start()
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        for name in ["gray.png", "gray.jpg", "rgba.png", "gray16.png", "one_pixel.png", "palette.png", "cmyk.jpg",
                     "wide.png"]:
            with self.subTest(image=name):
                response = engine.request("run", image=os.path.join(self.dir, name), returnNodes=[{"node": "conv"}])
                self.assertTrue(response["ok"], response)
                self.assertEqual(response["inputShape"], [1, 3, 224, 224])
        for name in ["corrupt.jpg", "corrupt.png", "truncated.jpg", "huge_header.png", "huge_header.jpg",
                     "not_an_image.png", "zero_bytes.jpg", "thin.png", "missing.png"]:
            with self.subTest(image=name):
                started = time.monotonic()
                response = engine.request("run", image=os.path.join(self.dir, name), returnNodes=[{"node": "conv"}])
                self.assertFalse(response["ok"], response)
                self.assertEqual(response["errorType"], "error", response)
                self.assertIn(os.path.join(self.dir, name), response["error"])
                self.assertLess(time.monotonic() - started, 10)
        self.assertAlive(engine)

    def test_node_names(self):
        engine = self.start()
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        image = os.path.join(self.dir, "gray.png")
        for name in ["", "x" * 10_000, "conv\u00e9\u4e2d\U0001F600", "conv\n", "conv.weight.", "\u0000"]:
            with self.subTest(name=name[:20]):
                run = engine.request("run", image=image, returnNodes=[{"node": name, "key": "out"}])
                self.assertFalse(run["ok"], run)
                self.assertIn(run["errorType"], ("error", "unknown_node"))
                self.assertLess(len(run["error"]), 2000, "the message quotes a 10,000-character name whole")
        self.assertAlive(engine)

    def test_export_keeps_the_mode_it_was_made_in(self):
        """torchvision's extractor keeps its source's training flag; the GUI exports in the mode it shows
        (an extractor exported in train mode once loaded with training=False)."""
        import torch
        engine = self.start()
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        for mode, training in [(None, False), ("eval", False), ("train", True)]:
            with self.subTest(mode=mode):
                path = os.path.join(self.dir, f"extractor-{mode}.pt")
                fields = {"mode": mode} if mode else {}
                response = engine.request("export", path=path, returnNodes=[{"node": "conv"}], **fields)
                self.assertTrue(response["ok"], response)
                self.assertEqual(torch.jit.load(path).training, training)
        response = engine.request("export", path=os.path.join(self.dir, "x.pt"), mode="test",
                                  returnNodes=[{"node": "conv"}])
        self.assertFalse(response["ok"], response)
        self.assertIn("Unknown mode 'test'", response["error"])

    def test_protocol_garbage(self):
        engine = self.start()
        for line in [b"not json", b"[1,2]", b"{\"cmd\": 5}", b"{\"id\": 1, \"cmd\": \"load\", \"path\": [1]}",
                     "{\"id\": 1, \"cmd\": \"\u00e9\"}".encode(), b"{" * 100_000]:
            with self.subTest(line=line[:30]):
                engine.process.stdin.write(line + b"\n")
                engine.process.stdin.flush()
                response = json.loads(engine.process.stdout.readline())
                self.assertFalse(response["ok"], response)
        self.assertAlive(engine)

    def test_run_values_travel_on_the_pipe_and_no_file_is_written(self):
        """A run's tensors follow its response line as declared payload parts; the engine writes no scratch
        file (its TMPDIR stays empty, an "outputDir" is ignored), and the stream stays in step afterwards."""
        scratch = tempfile.mkdtemp(prefix="featscope-engine-tmp-")
        try:
            engine = self.start(env={"TMPDIR": scratch})
            self.assertTrue(engine.request("load", path=self.good)["ok"])
            # A string id that once named the output files ("../escaped") is only an id now.
            request = {"id": "../escaped", "cmd": "run", "image": os.path.join(self.dir, "gray.png"),
                       "returnNodes": [{"node": "conv"}, {"node": "relu", "key": "r"}],
                       "outputDir": os.path.join(scratch, "out")}
            engine.process.stdin.write((json.dumps(request) + "\n").encode())
            engine.process.stdin.flush()
            response = read_response(engine.process.stdout)
            self.assertTrue(response["ok"], response)
            self.assertEqual(response["id"], "../escaped")
            self.assertEqual(len(response["payload"]), 2)
            for output in response["outputs"]:
                count = 1
                for size in output["shape"]:
                    count *= size
                self.assertEqual(len(output["values"]), 4 * count)
                values = struct.unpack(f"<{count}f", output["values"])
                self.assertAlmostEqual(min(values), output["min"], places=5)
                self.assertAlmostEqual(max(values), output["max"], places=5)
                self.assertNotIn("file", output)
            failed = engine.request("run", image=os.path.join(self.dir, "missing.png"), returnNodes=[{"node": "conv"}])
            self.assertFalse(failed["ok"])
            self.assertNotIn("payload", failed)
            self.assertAlive(engine)
            self.assertEqual(engine.close(), 0)
            self.assertEqual(os.listdir(scratch), [])
        finally:
            shutil.rmtree(scratch)

    def test_command_line_values_must_be_numbers(self):
        """Every numeric option is read by the CLI's parser: a value that is not a whole number in range stops
        the engine with the usage status (2) and names the option, instead of reading "foo" as 0 = no cap."""
        for args, needle in [(["--run-memory-mb", "foo"], "--run-memory-mb needs a whole number from 0 to"),
                             (["--run-memory-mb=12mb"], "not '12mb'"),
                             (["--memory-limit-mb", "-5"], "--memory-limit-mb needs a whole number"),
                             (["--load-seconds", ""], "--load-seconds needs a whole number"),
                             (["--threads", "0"], "--threads needs a whole number from 1 to"),
                             (["--run-seconds", "1e3"], "--run-seconds"),
                             (["--run-seconds"], "--run-seconds needs a value"),
                             (["--no-such-option"], "unknown option '--no-such-option'"),
                             (["stray"], "unexpected argument 'stray'")]:
            with self.subTest(args=args):
                result = subprocess.run([ENGINE, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                        timeout=60, env={**os.environ, **ENGINE_ENV})
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(needle, result.stderr)
                self.assertIn("featscope-engine:", result.stderr)
                self.assertEqual(result.stdout, "")
        # A well-formed value still starts the engine.
        self.assertAlive(self.start("--run-memory-mb", "1024", "--threads=1"))

    def test_reader_missing(self):
        # The first reader is forked at start-up; once the engine has threads it must start featscope-reader.
        lonely = os.path.join(self.dir, "lonely")
        os.makedirs(lonely, exist_ok=True)
        engine = Engine(engine=shutil.copy(ENGINE, lonely),
                        env={"PATH": lonely, "FEATSCOPE_READER": ""})
        self.engine = engine
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        response = engine.request("load", path=self.good)
        self.assertFalse(response["ok"])
        self.assertIn(self.good, response["error"])
        self.assertIn("featscope-reader) was not found beside", response["error"])
        self.assertIn("FEATSCOPE_READER", response["error"])
        self.assertAlive(engine)

    def test_load_memory_cap(self):
        engine = self.start("--load-memory-mb", "256")
        path = os.path.join(self.dir, "pickle_huge_string.pt")
        response = engine.request("load", path=path)
        self.assertFalse(response["ok"])
        self.assertIn(path, response["error"])
        if ADDRESS_SPACE_CAPS:
            self.assertIn("needed more than 256 MB", response["error"])
            self.assertIn("FEATSCOPE_LOAD_MEMORY_MB", response["error"])
        else:
            print("this build has no address-space caps: the file was refused, but not by the 256 MB cap:",
                  response["error"][:200], file=sys.stderr)
        self.assertAlive(engine)

    def test_load_time_cap(self):
        # With memory to spare, the huge string takes seconds to allocate and fill: longer than the 1 s cap.
        engine = self.start("--load-seconds", "1", "--load-memory-mb", "20000", "--memory-limit-mb", "0")
        started = time.monotonic()
        response = engine.request("load", path=os.path.join(self.dir, "pickle_huge_string.pt"))
        elapsed = time.monotonic() - started
        self.assertFalse(response["ok"])
        self.assertIn("FEATSCOPE_LOAD_SECONDS", response["error"])
        self.assertLess(elapsed, 15)
        self.assertAlive(engine)

    def test_run_memory_cap(self):
        engine = self.start("--run-memory-mb", "1024")
        model = os.path.join(self.dir, "allocates_in_forward.pt")
        self.assertTrue(engine.request("load", path=model)["ok"])
        response = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "add"}])
        self.assertFalse(response["ok"], response)
        self.assertEqual(response["errorType"], "memory", response)
        self.assertIn(model, response["error"])
        self.assertIn("1024 MB", response["error"])
        self.assertIn("FEATSCOPE_RUN_MEMORY_MB", response["error"])
        # The cap is lifted after the run: loading and running another model works.
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        self.assertTrue(engine.request("run", image=os.path.join(self.dir, "gray.png"),
                                       returnNodes=[{"node": "conv"}])["ok"])

    def test_run_time_cap(self):
        engine = self.start("--run-seconds", "2")
        self.assertTrue(engine.request("load", path=os.path.join(self.dir, "slow_forward.pt"))["ok"])
        started = time.monotonic()
        response = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "mean"}],
                                  timeout=60)
        elapsed = time.monotonic() - started
        self.assertFalse(response["ok"], response)
        self.assertEqual(response["errorType"], "timeout", response)
        self.assertIn("FEATSCOPE_RUN_SECONDS", response["error"])
        self.assertGreaterEqual(elapsed, 2)
        self.assertLess(elapsed, 10)
        self.assertEqual(engine.process.wait(10), EXIT_AFTER_TIME_CAP)

    def test_cancel_stops_a_running_forward_and_keeps_the_model(self):
        """A cancel naming the running request stops the forward at its next op (here inside a loop of a
        billion iterations): the engine answers "cancelled" at once, stays up and keeps the model."""
        engine = self.start()
        self.assertTrue(engine.request("load", path=os.path.join(self.dir, "slow_forward.pt"))["ok"])
        run = {"id": 77, "cmd": "run", "image": os.path.join(self.dir, "gray.png"), "returnNodes": [{"node": "mean"}]}
        engine.process.stdin.write((json.dumps(run) + "\n").encode())
        # A cancel of another request changes nothing.
        engine.process.stdin.write((json.dumps({"cmd": "cancel", "id": 76}) + "\n").encode())
        engine.process.stdin.flush()
        ready, _, _ = select.select([engine.process.stdout], [], [], 1.0)
        self.assertFalse(ready, "the run answered before it was cancelled")
        cancelled_at = time.monotonic()
        engine.process.stdin.write((json.dumps({"cmd": "cancel", "id": 77}) + "\n").encode())
        engine.process.stdin.flush()
        ready, _, _ = select.select([engine.process.stdout], [], [], 10)
        self.assertTrue(ready, "no answer within 10 s of the cancel")
        response = read_response(engine.process.stdout)
        self.assertLess(time.monotonic() - cancelled_at, 2)
        self.assertEqual(response["id"], 77)
        self.assertEqual(response["errorType"], "cancelled", response)
        self.assertIsNone(engine.process.poll())
        # Still loaded: a run naming an unknown node is checked against its graph, not "No model is loaded".
        response = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "nope"}])
        self.assertEqual(response["errorType"], "unknown_node", response)
        self.assertEqual(engine.close(), 0)

    def test_cancel_of_a_run_still_waiting_in_line(self):
        """A cancel that arrives while its run still waits behind another request takes effect when the run
        starts; the request in front (held up by --debug-run-delay-ms) is not affected."""
        engine = self.start("--debug-run-delay-ms", "1500")
        self.assertTrue(engine.request("load", path=self.good)["ok"])
        run = {"cmd": "run", "image": os.path.join(self.dir, "gray.png"), "returnNodes": [{"node": "conv"}]}
        lines = [{"id": 2, **run}, {"id": 3, **run}, {"cmd": "cancel", "id": 3}]
        engine.process.stdin.write("".join(json.dumps(line) + "\n" for line in lines).encode())
        engine.process.stdin.flush()
        first = read_response(engine.process.stdout)
        self.assertEqual((first["id"], first["ok"]), (2, True), first)
        second = read_response(engine.process.stdout)
        self.assertEqual((second["id"], second.get("errorType")), (3, "cancelled"), second)
        self.assertEqual(engine.close(), 0)

    def test_run_time_cap_from_environment(self):
        engine = self.start(env={"FEATSCOPE_RUN_SECONDS": "1"})
        self.assertTrue(engine.request("load", path=os.path.join(self.dir, "slow_forward.pt"))["ok"])
        response = engine.request("run", image=os.path.join(self.dir, "gray.png"), returnNodes=[{"node": "mean"}],
                                  timeout=60)
        self.assertEqual(response["errorType"], "timeout", response)
        self.assertIn("1 s", response["error"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", required=True)
    args, rest = parser.parse_known_args()
    ENGINE = os.path.abspath(args.engine)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
