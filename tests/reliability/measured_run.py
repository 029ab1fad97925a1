"""Runs a featscope executable the way the reliability tests need: stderr captured, stdout dropped, and the
child's own peak memory (wait4's ru_maxrss, which belongs to that child alone)."""
import os
import shutil
import tempfile


def run_measured(args, user=None):
    """Runs a command, returning (exit status as from subprocess, stderr, peak RSS in KB)."""
    if user:
        args = ["runuser", "-u", user, "--", *args]
    with tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(args[0] if os.path.isabs(args[0]) else shutil.which(args[0]), args, os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode(errors="replace"), usage.ru_maxrss
