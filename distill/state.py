"""A long job's state, kept small enough to commit to git, and made whole again on another machine.

The machines these jobs run on may be laid anew between sessions ($HOME and /tmp included), and the
capacity-by-complexity study (``seqkd-reproduce study``) takes tens of hours: what it has made must live where
every session finds it, the repository. :func:`save` writes a *store* (a directory, e.g.
``docs/results/study-state/``) from a *state root* (the directory that holds the job's DATA, RUNS and RESULTS);
:func:`restore` puts it back under the same root on a new machine, and every stage then finds its work done.
What the store keeps of each thing under the root:

  prepared corpus  (a corpus with its own vocabulary) its manifest only: ``prepare`` makes it again from its
                   sources, and :func:`restore` checks, file by file against that manifest's hashes, that it
                   came out the same (else nothing made from it is restored)
  derived corpus   (one that reuses another's vocabulary: distilled, diverse, a fold) its manifest and the text
                   files its base corpus does not hold (the regenerated targets), ``corpora/<path>.tar.gz``;
                   restored by encoding and binarizing again (:func:`distill.corpus.directory.build_corpus`),
                   checked against the manifest's hashes
  finished run     (a training run with its ``manifest.json``) every file but its checkpoints, whose sizes and
                   the named checkpoint's sha256 go in ``omitted.json`` (what a teacher's identity in
                   ``regenerate`` needs), ``runs/<path>.tar.gz``. A run's evaluations, blank-penalty tuning and
                   learning curve are kept in the run (:func:`distill.scoring.run_evaluation`,
                   :func:`nat.curves.learning_curve`), so every later step reads them instead of decoding.
  other files      (comparisons, results) as they are, ``files/<path>``

Half-made things (``.partial`` and ``.shards`` directories, unfinished runs, locks) and symbolic links are never
kept: without their checkpoints they would start over anyway. Archives are byte-for-byte reproducible (sorted
members, no times or owners), so saving again rewrites only what changed and git stores nothing twice. Nothing
is taken out of a store by saving (a derived corpus may wait there for its base to be prepared); to have a stage
made afresh, delete it from the root and from the store.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from distill.io import InputError, atomic_open, read_json, sha256_file, write_json

STORE_FORMAT = "seqkd-state/1"
OMITTED = "omitted.json"  # in a kept run: the files the store left out (checkpoints), by size and hash
LARGEST_FILE = 20 << 20  # a loose file above this is not kept (and is counted): the store is for git
SKIPPED_SUFFIXES = (".partial", ".shards", ".restoring", ".lock")


@dataclass
class Report:
    """What a save or a restore did, by kind of thing: how many were written (or restored), how many were
    already there, and each thing it could not do, with why."""

    done: dict = field(default_factory=dict)  # kind -> count
    unchanged: dict = field(default_factory=dict)  # kind -> count
    notes: list = field(default_factory=list)  # one line each

    def count(self, table: dict, kind: str) -> None:
        table[kind] = table.get(kind, 0) + 1

    def summary(self, verb: str) -> str:
        kinds = sorted(set(self.done) | set(self.unchanged))
        parts = [f"{kind}: {self.done.get(kind, 0)} {verb}, {self.unchanged.get(kind, 0)} already there"
                 for kind in kinds]
        return "; ".join(parts) or "nothing"

    def print(self, heading: str, verb: str) -> None:
        """Its notes, a line each, then ``heading: summary``."""
        for note in self.notes:
            print(f"note: {note}", flush=True)
        print(f"{heading}: {self.summary(verb)}", flush=True)


def _differing(want: dict, have: dict) -> list[str]:
    """The files (a manifest's ``files``: path -> sha256) that two corpora do not hold alike, sorted."""
    return sorted(name for name in set(want) | set(have) if want.get(name) != have.get(name))


def _is_corpus(directory: Path) -> dict | None:
    from distill.corpus.directory import FORMAT

    manifest = directory / "manifest.json"
    if manifest.is_file():
        content = read_json(manifest)
        if content.get("format") == FORMAT:
            return content
    return None


def _is_run(directory: Path) -> dict | None:
    manifest = directory / "manifest.json"
    if manifest.is_file() and (directory / "config.json").is_file():
        content = read_json(manifest)
        if "config_hash" in content and "checkpoint" in content:
            return content
    return None


def _skipped(path: Path) -> bool:
    return path.is_symlink() or path.name.endswith(SKIPPED_SUFFIXES)


def _walk(root: Path):
    """(kind, path, manifest) of every corpus, finished run and loose file under ``root``; a directory with a
    config.json and no manifest.json (an unfinished run) and half-made directories are passed over."""
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        subdirectories.sort()
        keep = []
        for name in subdirectories:
            path = here / name
            if _skipped(path):
                continue
            if (corpus := _is_corpus(path)) is not None:
                yield "corpus", path, corpus
            elif (run := _is_run(path)) is not None:
                yield "run", path, run
            elif (path / "config.json").is_file() and not (path / "manifest.json").is_file():
                continue  # an unfinished run (or a CTranslate2 model: an input, made again by its converter)
            else:
                keep.append(name)
        subdirectories[:] = keep
        for name in sorted(files):
            path = here / name
            if not _skipped(path) and path.is_file():
                yield "file", path, None


def _archive(members: list[tuple[str, bytes]]) -> bytes:
    """A reproducible .tar.gz of (name, content): sorted, no times, owners or modes but 0644."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as packed:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, content in sorted(members):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(content), 0o644, 0
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _unpack(archive: Path, into: Path) -> None:
    with tarfile.open(archive, mode="r:gz") as tar:
        tar.extractall(into, filter="data")


def _write_if_changed(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` atomically unless it holds it already; True if written."""
    if path.is_file() and path.read_bytes() == content:
        return False
    with atomic_open(path, "wb") as handle:
        handle.write(content)
    return True


def checkpoint_sha256(checkpoint) -> str | None:
    """The sha256 of a checkpoint file, or, where the store left it out of a kept run, the hash it recorded
    (a teacher is named by its checkpoint's content in ``regenerate``); None when neither is there."""
    path = Path(checkpoint)
    if path.is_file():
        return sha256_file(path)
    for run in (path.parent, path.parent.parent):
        if (run / OMITTED).is_file():
            entry = read_json(run / OMITTED).get(str(path.resolve().relative_to(run.resolve())))
            if entry and entry.get("sha256"):
                return entry["sha256"]
    return None


def _omitted(run: Path, manifest: dict) -> dict:
    """The run's checkpoints by path in the run: their sizes, and the sha256 of the one its manifest names
    (hashed once: the record is kept in the run, which a finished run never changes)."""
    recorded = read_json(run / OMITTED) if (run / OMITTED).is_file() else {}
    named = manifest["checkpoint"]
    entries = {}
    for path in sorted(run.rglob("*.pt")):
        name = str(path.relative_to(run))
        entry = {"bytes": path.stat().st_size}
        if name == named:
            entry["sha256"] = (recorded.get(name) or {}).get("sha256") or sha256_file(path)
        entries[name] = entry
    for name, entry in recorded.items():  # what an earlier save recorded and is gone since
        entries.setdefault(name, entry)
    if entries != recorded:
        write_json(run / OMITTED, entries)
    return entries


def _run_members(run: Path, manifest: dict) -> list[tuple[str, bytes]]:
    _omitted(run, manifest)
    return [(str(path.relative_to(run)), path.read_bytes()) for path in sorted(run.rglob("*"))
            if path.is_file() and not path.is_symlink() and path.suffix != ".pt"
            and "checkpoints" not in path.relative_to(run).parts]


def _base_of(manifest: dict) -> Path | None:
    reused = (manifest.get("sentencepiece") or {}).get("reused_from")
    return Path(reused) if reused else None


def _corpus_members(corpus: Path, manifest: dict) -> list[tuple[str, bytes]]:
    """A derived corpus's manifest, its other files outside bin/, spm/ and logs/, and those of its raw text files
    that its base corpus does not hold (by hash); ``from_base.json`` names the rest and where they are."""
    base = _base_of(manifest)
    base_raw = {}
    if base is not None and (base / "manifest.json").is_file():
        base_raw = {sha: name for name, sha in read_json(base / "manifest.json")["files"].items()
                    if name.startswith("raw/")}
    members, from_base = [], {}
    for path in sorted(corpus.rglob("*")):
        name = str(path.relative_to(corpus))
        if not path.is_file() or path.is_symlink() or name.split("/")[0] in ("bin", "spm", "logs"):
            continue
        sha = manifest["files"].get(name)
        if name.startswith("raw/") and sha in base_raw:
            from_base[name] = base_raw[sha]
        else:
            members.append((name, path.read_bytes()))
    members.append(("from_base.json", json.dumps(from_base, indent=1, sort_keys=True).encode()))
    return members


def save(root, store) -> Report:
    """Write (or bring up to date) the store of everything under ``root``; returns what it did."""
    root, store = Path(root).resolve(), Path(store).resolve()
    if not root.is_dir():
        raise InputError(f"{root}: no such directory; give the state root that holds DATA, RUNS and RESULTS")
    if store == root or root in store.parents:
        raise InputError(f"{store}: inside the state root {root}; keep the store apart (in the repository)")
    report = Report()
    for kind, path, manifest in _walk(root):
        relative = path.relative_to(root)
        if kind == "corpus" and _base_of(manifest) is None:
            kind, target = "prepared corpus", store / "prepared" / relative / "manifest.json"
            content = (path / "manifest.json").read_bytes()
        elif kind == "corpus":
            kind, target = "derived corpus", store / "corpora" / f"{relative}.tar.gz"
            content = _archive(_corpus_members(path, manifest))
        elif kind == "run":
            target = store / "runs" / f"{relative}.tar.gz"
            content = _archive(_run_members(path, manifest))
        else:
            if path.stat().st_size > LARGEST_FILE:
                report.notes.append(f"{path}: {path.stat().st_size >> 20} MiB, not kept (the store is for git)")
                continue
            target = store / "files" / relative
            content = path.read_bytes()
        report.count(report.done if _write_if_changed(target, content) else report.unchanged, kind)
    _write_if_changed(store / "index.json", json.dumps({"format": STORE_FORMAT, "root": str(root)}, indent=1)
                      .encode() + b"\n")
    return report


def _check_prepared(store: Path, root: Path, report: Report) -> None:
    """Check that each prepared corpus of the store that is under ``root`` now came out as it was; one that came
    out otherwise is an error (what was made from it would not be what it claims)."""
    for kept in sorted((store / "prepared").rglob("manifest.json")):
        relative = kept.parent.relative_to(store / "prepared")
        live = root / relative
        if not (live / "manifest.json").is_file():
            report.notes.append(f"{live}: not prepared yet; what was made from it is restored once it is")
            continue
        differing = _differing(read_json(kept)["files"], read_json(live / "manifest.json")["files"])
        if differing:
            raise InputError(f"{live}: prepared again, it differs from the corpus the stored state was made from "
                             f"({len(differing)} files, e.g. {differing[0]}); restore into another root, or "
                             f"delete {store} to start over")
        report.count(report.unchanged, "prepared corpus")


def _rebuild_corpus(archive: Path, target: Path) -> None:
    """A derived corpus made again at ``target`` from its kept files and its base corpus; the result's files are
    checked against the kept manifest's hashes before it is put in place."""
    from distill.corpus.directory import SPLITS, Corpus, build_corpus
    from distill.io import read_lines

    work = target.parent / f".{target.name}.restoring"
    shutil.rmtree(work, ignore_errors=True)
    _unpack(archive, work / "kept")
    kept = work / "kept"
    manifest = read_json(kept / "manifest.json")
    base = Corpus.open(_base_of(manifest))
    for name, base_name in read_json(kept / "from_base.json").items():
        (kept / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base.path / base_name, kept / name)
    splits = {split: {} for split in SPLITS}
    for name in sorted(manifest["files"]):
        if name.startswith("raw/"):
            split, column = name.removeprefix("raw/").split(".", 1)
            splits[split][column] = read_lines(kept / name)
    built = build_corpus(work / "built", splits, kind=manifest["kind"], config=manifest["config"],
                         sources=manifest["sources"], references=manifest["references"],
                         filtered=manifest["filtered"], vocab_size=manifest["sentencepiece"]["vocab_size"],
                         reuse_vocabulary_of=base, extra_targets=tuple(manifest.get("extra_targets", ())))
    differing = _differing(manifest["files"], built.manifest["files"])
    if differing:
        shutil.rmtree(work)
        raise InputError(f"{archive}: made again, {target.name} differs from the kept corpus ({len(differing)} files, "
                         f"e.g. {differing[0]}); delete the archive to make the corpus afresh")
    for path in sorted(kept.rglob("*")):  # the kept manifest (its command and times) and files such as CARD.md
        name = str(path.relative_to(kept))
        if path.is_file() and name != "from_base.json" and not name.startswith("raw/"):
            (built.path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, built.path / name)
    os.replace(built.path, target)
    shutil.rmtree(work)


def restore(store, root) -> Report:
    """Put back under ``root`` what the store holds and ``root`` lacks; what ``root`` has is never overwritten.
    A derived corpus waits until its base corpus is there (restore again after preparing it)."""
    store, root = Path(store).resolve(), Path(root).resolve()
    index = store / "index.json"
    if not index.is_file():
        raise InputError(f"{index}: missing; is {store} a store written by `seqkd-distill state save`?")
    meta = read_json(index)
    if meta.get("format") != STORE_FORMAT:
        raise InputError(f"{index}: format {meta.get('format')!r}, expected {STORE_FORMAT!r}")
    if meta["root"] != str(root):
        raise InputError(f"{store}: saved from {meta['root']}, not {root}; its files name their paths, so restore "
                         f"it under {meta['root']} (set DATA, RUNS and RESULTS under it)")
    report = Report()
    _check_prepared(store, root, report)
    waiting = sorted((store / "corpora").rglob("*.tar.gz")) if (store / "corpora").is_dir() else []
    while waiting:  # a base first: a fold's SeqKD corpus reuses the fold's vocabulary
        progress, later = False, []
        for archive in waiting:
            target = root / str(archive.relative_to(store / "corpora")).removesuffix(".tar.gz")
            if (target / "manifest.json").is_file():
                report.count(report.unchanged, "derived corpus")
                progress = True
            elif target.exists():
                report.notes.append(f"{target}: a half-made corpus is there; left as it is (delete it to restore "
                                    "the kept one)")
                progress = True
            elif (_kept_base(archive) / "manifest.json").is_file():  # prepared corpora were checked above
                _rebuild_corpus(archive, target)
                report.count(report.done, "derived corpus")
                progress = True
            else:
                later.append(archive)
        if not progress:
            report.notes.extend(f"{archive.relative_to(store)}: its base corpus is not there yet" for archive in later)
            break
        waiting = later
    for archive in sorted((store / "runs").rglob("*.tar.gz")) if (store / "runs").is_dir() else []:
        target = root / str(archive.relative_to(store / "runs")).removesuffix(".tar.gz")
        if (target / "manifest.json").is_file():
            report.count(report.unchanged, "run")
        elif target.exists():
            report.notes.append(f"{target}: an unfinished run is there; left as it is (delete it to restore the "
                                "kept one)")
        else:
            work = target.parent / f".{target.name}.restoring"
            shutil.rmtree(work, ignore_errors=True)
            _unpack(archive, work)
            os.replace(work, target)
            report.count(report.done, "run")
    files = store / "files"
    for kept in sorted(files.rglob("*")) if files.is_dir() else []:
        target = root / kept.relative_to(files)
        if not kept.is_file():
            continue
        if target.exists():
            if not target.is_file() or target.read_bytes() != kept.read_bytes():
                # e.g. a log the study's own command line appends to, made before the restore: the next save
                # replaces the kept copy with it
                report.notes.append(f"{target}: differs from the kept copy {kept}; the one here is left as it is, "
                                    f"and the next save keeps it in its place")
            report.count(report.unchanged, "file")
        else:
            with atomic_open(target, "wb") as handle:
                handle.write(kept.read_bytes())
            report.count(report.done, "file")
    return report


def forget(store, root, path) -> list[Path]:
    """Take what the store keeps of ``path`` (under ``root``: a run, a corpus, a file, or a directory of them) out of
    it, so that a restore does not bring back what is being made afresh; returns the store's files removed."""
    store, root = Path(store).resolve(), Path(root).resolve()
    relative = Path(path).resolve().relative_to(root)
    removed = []
    for candidate in (store / "runs" / f"{relative}.tar.gz", store / "corpora" / f"{relative}.tar.gz",
                      store / "prepared" / relative, store / "files" / relative,
                      store / "runs" / relative, store / "corpora" / relative):
        if candidate.is_file():
            candidate.unlink()
            removed.append(candidate)
        elif candidate.is_dir():
            removed.extend(p for p in candidate.rglob("*") if p.is_file())
            shutil.rmtree(candidate)
    return removed


def has_checkpoint(run) -> bool:
    """Whether a finished run's named checkpoint is on disk (a run restored from a store has none)."""
    from distill.engine import read_run_manifest

    return Path(read_run_manifest(run)["checkpoint"]).is_file()


def _kept_base(archive: Path) -> Path:
    """The base corpus (whose vocabulary it reuses) of a kept derived corpus."""
    with tarfile.open(archive, mode="r:gz") as tar:
        return _base_of(json.loads(tar.extractfile("manifest.json").read()))
