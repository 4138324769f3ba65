"""Safe file I/O shared by every stage: atomic writes, strict text readers, hashing.

Every reader raises :class:`InputError` with a one-line message that names the file
(and line) and says what to do, so command-line entry points can print it and exit 1.
Every writer goes through a temporary file and an ``os.replace`` so that a killed
process never leaves a half-written file under the final name.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


class InputError(Exception):
    """Bad user input; the message is a single line naming the file and the fix."""


_COMMAND: list[str] = []  # the command line being run (set by dispatch), for the manifests it writes


def current_command() -> list[str]:
    """The command line of the running ``seqkd-*`` command, as it re-runs (``seqkd-distill regenerate ...``), also
    when a job runs it in its own process; the process's argv outside one."""
    import sys

    return list(_COMMAND) or list(sys.argv)


def dispatch(parser, commands: dict, argv: list[str] | None = None) -> int:
    """Run the chosen subcommand of a CLI; bad input is one ``error:`` line on stderr and exit status 1."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    outer = list(_COMMAND)
    _COMMAND[:] = [parser.prog, *argv]
    try:
        commands[args.command](args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        _COMMAND[:] = outer
    return 0


def name_and_value(item: str, option: str, expected: str) -> tuple[str, str]:
    """Split a ``NAME=VALUE`` option; a missing ``=``, name or value is one error naming the option."""
    name, sep, value = item.partition("=")
    if not sep or not name or not value:
        raise InputError(f"{option} {item!r}: expected {expected}")
    return name, value


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary sibling of ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def private_work_directory(target: Path) -> Path:
    """An empty work directory beside ``target`` for building it, used by this process only: two processes that
    build the same cache at once (two trainings of one corpus, two test workers) each build their own, and
    ``publish_directory`` keeps the first finished one."""
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.partial-*"):  # of killed builders: removed
        pid = leftover.name.rpartition("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    work = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)  # a dead process's leftovers under a reused pid are never reused
    work.mkdir(parents=True)
    return work


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def publish_directory(work: Path, target: Path, complete: str) -> None:
    """Rename the finished ``work`` onto ``target`` (one step: a reader sees none or all of it). If another process
    published ``target`` first (its ``complete`` file, written last, is there), ours is discarded."""
    try:
        os.rename(work, target)
    except OSError:
        if not (target / complete).is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> int:
    """Atomically write one string per line; returns the number of lines written."""
    count = 0
    with atomic_open(path) as handle:
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"{path}: line {count + 1} contains a newline; it would break line alignment")
            handle.write(line + "\n")
            count += 1
    return count


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")


def read_json(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err}); delete it and re-run the stage that writes it") from None


def numbered_lines(handle, name: str):
    """(line number, text) for each line of a binary ``handle``, newline (and a CRLF's CR) stripped.

    Invalid UTF-8 is an error naming ``name`` and the line, never a silent replacement.
    """
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(
                f"{name}:{number}: invalid UTF-8 at byte {err.start} of the line; "
                "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
            ) from None
        text = text.rstrip("\n")
        yield number, text[:-1] if text.endswith("\r") else text


def read_lines(path: str | os.PathLike) -> list[str]:
    """Read a UTF-8 text file strictly: one sentence per line, newline stripped.

    Windows line endings are accepted; a lone carriage return inside a line is not.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    lines = []
    with open(path, "rb") as handle:
        for number, text in numbered_lines(handle, str(path)):
            if "\r" in text:
                raise InputError(f"{path}:{number}: stray carriage return inside the line; one sentence per line "
                                 f"expected")
            lines.append(text)
    return lines


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_hash(config: dict) -> str:
    """Stable short hash of a JSON-able config: the key for "this step is already done"."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]
