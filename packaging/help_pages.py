#!/usr/bin/python3
"""Man pages and docs/cli.md made from the programs' own --help, so they cannot drift apart.

    help_pages.py --cli featscope-cli --gui featscope --man DIR        # DIR/featscope-cli.1.gz, featscope.1.gz
    help_pages.py --cli featscope-cli --gui featscope --check docs/cli.md
    help_pages.py --cli featscope-cli --gui featscope --write docs/cli.md

docs/cli.md keeps its hand-written text; the part between the GENERATED markers is the verbatim
--help of `featscope`, `featscope-cli` and every command it names. --check fails (exit 1, with a
diff) when that part differs from what the programs print; --write updates it.
"""
import argparse
import difflib
import gzip
import os
import re
import subprocess
import sys

BEGIN = "<!-- BEGIN GENERATED FROM --help by packaging/help_pages.py: do not edit by hand -->"
END = "<!-- END GENERATED -->"
VERSION = "0.1.0"


def help_text(program, *args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    # argv[0] is the bare name: Qt's help prints it ("Usage: featscope [options] ...").
    r = subprocess.run([os.path.basename(program), *args, "--help"], executable=program, capture_output=True,
                       text=True, timeout=120, env=env)
    if r.returncode != 0:
        sys.exit(f"{program} {' '.join(args)} --help failed ({r.returncode}): {r.stderr}")
    return r.stdout.rstrip() + "\n"


def cli_commands(cli):
    """The commands featscope-cli names in its help texts, in order of first mention."""
    main = help_text(cli)
    block = main.split("Commands:", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^  ([a-z][a-z-]*) ", block, re.M)
    seen = list(commands)
    for command in commands:
        for name in re.findall(r"featscope-cli ([a-z][a-z-]*)", help_text(cli, command)):
            if name not in seen:
                seen.append(name)
    return main, [(c, help_text(cli, c)) for c in seen]


def pages(cli, gui):
    """(title, help text) for every page, GUI first."""
    main, commands = cli_commands(cli)
    out = [("featscope", help_text(gui))]
    out.append(("featscope-cli", main))
    out += [(f"featscope-cli {name}", text) for name, text in commands]
    return out


def markdown(cli, gui):
    parts = [BEGIN, ""]
    for title, text in pages(cli, gui):
        parts += [f"### `{title}`", "", "```text", text.rstrip("\n"), "```", ""]
    parts.append(END)
    return "\n".join(parts) + "\n"


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def man_page(name, summary, sections):
    lines = [f'.TH {name.upper()} 1 "" "featscope {VERSION}" "User Commands"', ".SH NAME",
             f"{name} \\- {summary}"]
    for title, text in sections:
        lines += [f".SH {title.upper()}", ".nf"]
        lines += [roff_escape(line) for line in text.rstrip("\n").split("\n")]
        lines.append(".fi")
    lines += [".SH SEE ALSO", "featscope(1), featscope-cli(1); /usr/share/doc/featscope"]
    return "\n".join(lines) + "\n"


def write_gzip(path, text):
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(text.encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--gui", required=True)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--man", metavar="DIR")
    group.add_argument("--check", metavar="CLI_MD")
    group.add_argument("--write", metavar="CLI_MD")
    args = ap.parse_args()

    if args.man:
        os.makedirs(args.man, exist_ok=True)
        all_pages = pages(args.cli, args.gui)
        write_gzip(os.path.join(args.man, "featscope.1.gz"),
                   man_page("featscope", "inspect TorchScript models under torchvision's node names (desktop)",
                            [("Synopsis and options", all_pages[0][1])]))
        write_gzip(os.path.join(args.man, "featscope-cli.1.gz"),
                   man_page("featscope-cli", "torchvision's feature extraction on TorchScript files",
                            [(title, text) if i else ("Synopsis", text) for i, (title, text) in enumerate(all_pages[1:])]))
        return 0

    path = args.check or args.write
    with open(path, encoding="utf-8") as f:
        current = f.read()
    if BEGIN not in current or END not in current:
        sys.exit(f"{path}: missing the markers {BEGIN!r} ... {END!r}")
    head, rest = current.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    wanted = head + markdown(args.cli, args.gui) + tail.lstrip("\n")
    if args.write:
        with open(path, "w", encoding="utf-8") as f:
            f.write(wanted)
        print(f"updated {path}")
        return 0
    if wanted != current:
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True),
                                                   path, "from --help"))
        print(f"\n{path} differs from the programs' --help. Update it with:\n  /usr/bin/python3 "
              f"packaging/help_pages.py --cli {args.cli} --gui {args.gui} --write {path}")
        return 1
    print(f"{path} matches --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
