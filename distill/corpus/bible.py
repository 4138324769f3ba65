"""The embedded real corpus: Spanish RV1909 -> English WEB (+ KJV second reference).

Read from Debian's SWORD modules with pysword. pysword's own ``clean=True`` deletes
footnotes together with the space around them and glues words ("only bornSon" in
John 3:16 of the WEB), so we strip the OSIS markup ourselves: notes and
non-canonical headings are removed with their content and leave a word break, inline
word markup (<w>, <transChange>, <divineName>, ...) is removed without one.

Verses are aligned by reference in the KJV versification (31,102 verses; RV1909 and
KJV use it, the WEB module's NRSVA numbering agrees on these references except for a
handful of verses, which show up as empty and are dropped and counted).

Split: verses are ranked by sha256 of their reference ("John 3:16"); the first 1,010
form test, the next 1,010 valid, the rest (about 29,060) train. The rule depends only
on the references, never on the text or on file order; empty verses are then dropped
from whichever split they fell in (and counted).
"""
from __future__ import annotations

import functools
import hashlib
import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from tqdm import tqdm

from distill.corpus.filtering import DEFAULT_MAX_WORDS
from distill.io import InputError

SWORD_PATH = "/usr/share/sword"
DEBIAN_PACKAGES = ("sword-text-sparv", "sword-text-web", "sword-text-kjv")
SOURCE_MODULE = "spaRV1909eb"
REFERENCE_MODULES = {"web": "engWEB2015eb", "kjv": "engKJV2006eb"}  # first one is the primary reference
HELD_OUT_VERSES = {"test": 1010, "valid": 1010}

_NOTE = re.compile(r"<note\b[^>]*/>|<note\b[^>]*>.*?</note>", re.S)
_NON_CANONICAL_TITLE = re.compile(r"<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.S)
_INLINE_TAG = re.compile(
    r"</?(?:w|divineName|hi|foreign|seg|name|rf|catchWord|abbr|inscription|reference)\b[^>]*>"
)
_ANY_TAG = re.compile(r"<[^>]*>")
_SPACE_BEFORE_CLOSE = re.compile(r"\s+([,.;:!?)\]»”’])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[«“¿¡])\s+")


def clean_osis(markup: str) -> str:
    """Plain text of one OSIS verse with word boundaries preserved."""
    text = _NOTE.sub(" ", markup)
    text = _NON_CANONICAL_TITLE.sub(" ", text)
    text = _INLINE_TAG.sub("", text)
    text = _ANY_TAG.sub(" ", text)  # block/quote/milestone boundaries separate words
    text = html.unescape(text).replace("¶", " ")
    text = " ".join(text.split())
    text = _SPACE_BEFORE_CLOSE.sub(r"\1", text)
    return _SPACE_AFTER_OPEN.sub(r"\1", text)


def ensure_modules(sword_path: str = SWORD_PATH) -> None:
    """Install the Debian SWORD packages when missing (as root), else say how."""
    missing = [m for m in (SOURCE_MODULE, *REFERENCE_MODULES.values())
               if not os.path.isfile(os.path.join(sword_path, "mods.d", f"{m}.conf"))]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
    if sword_path == SWORD_PATH and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing Debian packages: {' '.join(DEBIAN_PACKAGES)}", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0:
            return
        raise InputError(f"{sword_path}: apt-get failed to install the SWORD modules: {done.stderr.strip()[-300:]}")
    raise InputError(
        f"{sword_path}: SWORD modules {', '.join(missing)} not found; run: sudo {' '.join(command)}"
    )


@dataclass(frozen=True)
class Verse:
    book: str
    chapter: int
    verse: int

    def __str__(self) -> str:
        return f"{self.book} {self.chapter}:{self.verse}"


def assign_splits(verses: list[Verse]) -> list[str]:
    """Split name of every verse: held-out sets are the lowest sha256(reference) ranks."""
    ranked = sorted(range(len(verses)), key=lambda i: hashlib.sha256(str(verses[i]).encode()).hexdigest())
    names = ["train"] * len(verses)
    position = 0
    for split, size in HELD_OUT_VERSES.items():
        for index in ranked[position:position + size]:
            names[index] = split
        position += size
    return names


def read_bible(sword_path: str = SWORD_PATH, show_progress: bool = True):
    """Yield (Verse, {"src": ..., "web": ..., "kjv": ...}) for every KJV-versification verse."""
    from pysword import canons
    from pysword.modules import SwordModules

    ensure_modules(sword_path)
    modules = SwordModules(sword_path)
    modules.parse_modules()
    bibles = {"src": modules.get_bible_from_module(SOURCE_MODULE)}
    bibles.update({name: modules.get_bible_from_module(m) for name, m in REFERENCE_MODULES.items()})
    for bible in bibles.values():
        # pysword decompresses a verse's whole zlib block (a chapter or more) for every verse it reads: 70 % of
        # the preparation's time (measured, 109 of 154 s). A block's text depends on the module file only, so each
        # is kept after its first read (the same text, once per block).
        bible._decompressed_text = functools.lru_cache(maxsize=8)(bible._decompressed_text)
    canon = canons.canons["kjv"]
    books = canon["ot"] + canon["nt"]
    total = sum(sum(book[3]) for book in books)
    with tqdm(total=total, desc="reading SWORD modules", unit="verse", disable=not show_progress,
              mininterval=2) as bar:
        for _, _, osis, chapter_lengths in books:
            for chapter, length in enumerate(chapter_lengths, start=1):
                for number in range(1, length + 1):
                    texts = {
                        key: clean_osis(bible.get(books=[osis], chapters=[chapter], verses=[number], clean=False))
                        for key, bible in bibles.items()
                    }
                    yield Verse(osis, chapter, number), texts
                    bar.update()


def prepare_bible(out_dir, *, vocab_size: int = 8000, max_words: int = DEFAULT_MAX_WORDS, sword_path: str = SWORD_PATH,
                  seed: int = 1, multi_target: bool = False, train_limit: int | None = None):
    """Prepare the bible-es-en corpus directory (source RV1909, references WEB then KJV).

    ``multi_target``: the multimodality variant (K = 2). Each verse's target is the WEB or
    the KJV rendering, chosen by sha256(seed, reference) parity; ``raw/<split>.mode`` says
    which (0 = WEB, 1 = KJV) and both full references stay available for evaluation.
    ``train_limit``: keep only the first N training verses (canonical order; valid and test
    unchanged) for quick runs; the rest are counted as ``over_train_limit`` in the manifest.
    """
    from distill.corpus.directory import SPLITS, build_corpus, finished_corpus
    from distill.corpus.filtering import filter_rows

    config = {"corpus": "bible-es-en", "vocab_size": vocab_size, "max_words": max_words, "seed": seed,
              "multi_target": multi_target, "train_limit": train_limit,
              "split_rule": f"rank by sha256('<book> <chapter>:<verse>'): first {HELD_OUT_VERSES['test']} test, "
                            f"next {HELD_OUT_VERSES['valid']} valid, rest train"}
    existing = finished_corpus(out_dir, config)
    if existing:
        return existing  # without reading the SWORD modules again (~2 min)

    columns = {split: {"src": [], "tgt": [], "ref.kjv": []} for split in SPLITS}
    if multi_target:
        columns = {split: {"src": [], "tgt": [], "mode": [], "ref.web": [], "ref.kjv": []} for split in SPLITS}
    labels = {split: [] for split in SPLITS}
    verses = list(read_bible(sword_path))
    for (verse, texts), split in zip(verses, assign_splits([v for v, _ in verses])):
        row = columns[split]
        row["src"].append(texts["src"])
        row["ref.kjv"].append(texts["kjv"])
        if multi_target:
            mode = int(hashlib.sha256(f"{seed} {verse}".encode()).hexdigest(), 16) % 2
            row["tgt"].append(texts["kjv"] if mode else texts["web"])
            row["mode"].append(str(mode))
            row["ref.web"].append(texts["web"])
        else:
            row["tgt"].append(texts["web"])
        labels[split].append(str(verse))
    text_columns = [c for c in columns["train"] if c != "mode"]
    splits, filtered = {}, {}
    for split in SPLITS:
        splits[split], counts, examples = filter_rows(columns[split], text_columns, max_words, labels[split])
        kept = len(splits[split]["src"])
        if split == "train" and train_limit is not None and kept > train_limit:
            splits[split] = {column: lines[:train_limit] for column, lines in splits[split].items()}
            counts["over_train_limit"] = kept - train_limit
        filtered[split] = {"counts": counts, "examples": examples}
    sources = [{"module": module, "debian_package": package, "role": role}
               for module, package, role in zip((SOURCE_MODULE, *REFERENCE_MODULES.values()), DEBIAN_PACKAGES,
                                                 ("source (es, RV1909)", "primary reference (en, WEB)",
                                                  "second reference (en, KJV)"))]
    references = ({"primary": "mixed", "extra": ["web", "kjv"]} if multi_target
                  else {"primary": "web", "extra": ["kjv"]})
    return build_corpus(out_dir, splits, kind="bible-es-en" + ("-multi" if multi_target else ""), config=config,
                        sources=sources, references=references, filtered=filtered, vocab_size=vocab_size, seed=seed)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="SWORD module helper for the bible-es-en corpus.")
    parser.add_argument("--ensure-modules", action="store_true",
                        help="install the Debian SWORD packages if missing (as root) or print the apt command")
    if parser.parse_args().ensure_modules:
        try:
            ensure_modules()
        except InputError as err:
            raise SystemExit(f"error: {err}") from None
