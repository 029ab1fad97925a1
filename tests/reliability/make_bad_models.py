"""Writes a corpus of broken and hostile model files for featscope's reliability tests.

/usr/bin/python3 make_bad_models.py --out DIR

Each file targets one way LibTorch's reader can be attacked or confused; the test expects a
clear error and a non-zero exit for each, never a signal, an abort or a memory blow-up.
"""
import argparse
import os
import random
import struct
import zipfile

import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x).relu()


class AllocatesInForward(torch.nn.Module):
    """Asks for 16 GB in forward: a run memory cap must stop it with a clear error."""

    def forward(self, x):
        return x.mean() + torch.zeros(4 * 1024 * 1024 * 1024).sum()


class SlowForward(torch.nn.Module):
    """Spins for minutes in forward: a run time cap must stop it."""

    def forward(self, x):
        y = x.mean()
        for _ in range(1_000_000_000):
            y = y * 1.0
        return y


def rewrite_archive(source, target, replace):
    """Copies a TorchScript zip, giving entries whose name ends with a key of `replace` new bytes."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    data = new
            dst.writestr(info, data)


# A debug entry that makes LibTorch 1.13's unpickler free an invalid pointer ("free(): invalid size",
# SIGABRT) when the debug information is read: in Python, torch.jit.load succeeds and printing the graph
# aborts. Found by random mutation of good.pt's entry (the path inside is only text).
BAD_FREE_DEBUG_PKL = (
    b"\x80\x02X\x18\x00\x00\x00FORMAT_WITH_STRING_TABLEq\x00(X\x00\x00\x00\x00q\x01X\x1a\x00\x00\x00    def forwaAd(self, x):\n"
    b"q\x02X#\x00\x00\x00        return self.conv(x).relu()\nq\x03X/\x00\x00\x00/work/main/tests/reliability/"
    b"make_bad_models.pyq(K\x00ctorch.jit._pickle\nbuild_intlist\nq\x06(](etRK\x00K\x00\x87q\x07K\x00K\x00\x87K\x00"
    b"\x87M\x07\x01h\x06(](K\x01K\x02K\x00etRK\x03K\x15\x87q\x08K)K9\x87K\x01\x87M\x12\x01h\x08K)K2\x87K\x02\x87M%\x01"
    b"h\x08K)K9\x87K\x01\x87M&\x01h\x07K\x00K\x00\x87K\x00\x87tq\t\x87.")


def deep_list_pickle(depth):
    # PROTO 2, then `depth` times EMPTY_LIST + MARK and an innermost list, closed by `depth`
    # APPENDS: lists nested two million deep, which LibTorch later walks recursively.
    body = b"](" * depth + b"]" + b"e" * depth
    return b"\x80\x02" + body + b"."


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, name)

    torch.manual_seed(0)
    good = path("good.pt")
    torch.jit.script(Tiny()).save(good)
    data = open(good, "rb").read()

    open(path("zero_bytes.pt"), "wb").close()
    open(path("truncated.pt"), "wb").write(data[: len(data) // 3])
    open(path("not_a_zip.pt"), "wb").write(b"this is not a model\n" * 50)
    # Seeded, so that every run tests the same bytes: fresh random bytes began with a pickle opcode about once in
    # 256 runs, and the file was then (rightly) called a Python pickle instead of "not a TorchScript file".
    open(path("random.pt"), "wb").write(random.Random(8192).randbytes(8192))

    # Central directory record signature destroyed.
    corrupt = bytearray(data)
    cd = corrupt.rfind(b"PK\x01\x02")
    corrupt[cd : cd + 4] = b"XXXX"
    open(path("corrupt_central_directory.pt"), "wb").write(bytes(corrupt))

    # A tiny file whose zip entry claims gigabytes: patch the sizes in both headers of data.pkl.
    bomb = bytearray(data)
    claimed = 0xFFFFFFF0
    for signature, size_offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        start = 0
        while True:
            start = bomb.find(signature, start)
            if start < 0:
                break
            name_offset = 30 if signature == b"PK\x03\x04" else 46
            name_length = struct.unpack_from("<H", bomb, start + (26 if signature == b"PK\x03\x04" else 28))[0]
            name = bytes(bomb[start + name_offset : start + name_offset + name_length])
            if name.endswith(b"data.pkl"):
                struct.pack_into("<II", bomb, start + size_offset, claimed, claimed)
            start += 4
    open(path("entry_claims_gigabytes.pt"), "wb").write(bytes(bomb))

    # Pickles: a string claiming 2**40 bytes, a list nested two million deep, a pop on an empty stack.
    huge_string = b"\x80\x02X" + struct.pack("<I", 0xFFFFFFF0) + b"abc."
    rewrite_archive(good, path("pickle_huge_string.pt"), {"data.pkl": huge_string})
    rewrite_archive(good, path("pickle_deep_nesting.pt"), {"data.pkl": deep_list_pickle(2_000_000)})
    rewrite_archive(good, path("pickle_empty_stack.pt"), {"data.pkl": b"\x80\x02e."})
    rewrite_archive(good, path("pickle_huge_container.pt"),
                    {"data.pkl": b"\x80\x02](" + b"K\x01" * 400_000 + b"e."})

    # Corrupt code and debug entries.
    rewrite_archive(good, path("corrupt_code.pt"), {".py": b"def forward(self, x):\n    return ???\n"})
    rewrite_archive(good, path("corrupt_debug_info.pt"), {".debug_pkl": b"\x80\x02garbage"})
    rewrite_archive(good, path("debug_pickle_bad_free.pt"), {"code/__torch__.py.debug_pkl": BAD_FREE_DEBUG_PKL})
    # A debug entry naming a class whose module is a terminal escape (clear screen, red): LibTorch quotes
    # it in its error, which must reach the user escaped.
    rewrite_archive(good, path("escape_in_message.pt"), {".debug_pkl": b"\x80\x02c\x1b[2J\x1b[31mevil\nname\n."})

    torch.jit.script(AllocatesInForward()).save(path("allocates_in_forward.pt"))
    torch.jit.script(SlowForward()).save(path("slow_forward.pt"))
    torch.save(Tiny().state_dict(), path("state_dict.pth"))
    os.makedirs(path("a_directory.pt"), exist_ok=True)
    open(path("unreadable.pt"), "wb").write(data)
    os.chmod(path("unreadable.pt"), 0)


if __name__ == "__main__":
    main()
