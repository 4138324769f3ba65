"""Token durations from an AR teacher's attention, for the FastSpeech-style duration NAT.

FastSpeech (Ren et al. 2019) recipe, applied to text: teacher-force the target through
the AR teacher, take every encoder-decoder attention head, keep the head with the
highest focus rate F = mean over target steps of the maximum attention weight, and give
each source token i the duration d_i = number of target tokens whose argmax attention
(in that head) is i. Durations are over source positions including the final </s>,
so they sum to the target length including its </s>.

Stored with the corpus: ``<corpus>/durations/<key>/{train,valid}.dur`` (one line per
sentence pair, one integer per source token) plus ``meta.json`` written last.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from distill.corpus.directory import Corpus
from distill.io import (
    InputError,
    config_hash,
    private_work_directory,
    publish_directory,
    read_json,
    read_lines,
    sha256_file,
    write_json,
    write_lines,
)

SPLITS = ("train", "valid")


def durations_from_attention(attention: np.ndarray | torch.Tensor) -> list[int]:
    """attention: [target_len, source_len] weights of one head -> duration per source token."""
    attention = torch.as_tensor(attention)
    target_len, source_len = attention.shape
    counts = torch.bincount(attention.argmax(dim=1), minlength=source_len)
    return counts.tolist()


def focus_rate(attention: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """attention [heads, batch, tgt, src], target_mask [batch, tgt] -> summed per-sentence F per head."""
    peak = attention.max(dim=-1).values  # [heads, batch, tgt]
    per_sentence = (peak * target_mask).sum(-1) / target_mask.sum(-1).clamp(min=1)
    return per_sentence.sum(-1)  # [heads]


class _HeadAttention:
    """Runs the teacher decoder and returns every head's cross-attention of one layer."""

    def __init__(self, model):
        self.model = model
        self.captured = None
        for layer in model.decoder.layers:
            layer.encoder_attn.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if output[1] is not None and output[1].dim() == 4:
            self.captured = output[1]  # [heads, batch, tgt, src]

    def __call__(self, sample, layer: int, encoder_out) -> torch.Tensor:
        self.captured = None
        self.model.decoder(sample["net_input"]["prev_output_tokens"], encoder_out=encoder_out,
                           alignment_layer=layer, features_only=True)
        return self.captured


def _batches(task, split: str, max_tokens: int):
    task.load_dataset(split)
    dataset = task.dataset(split)
    return dataset, task.get_batch_iterator(dataset=dataset, max_tokens=max_tokens, num_workers=0,
                                            ignore_invalid_inputs=False).next_epoch_itr(shuffle=False)


def extract_durations(teacher_checkpoint: str, corpus_dir, *, max_tokens: int = 4000,
                      head_selection_sentences: int = 1000) -> Path:
    """Compute (or find) the durations of a corpus's train/valid targets; returns their directory."""
    from distill.engine import load_ensemble

    corpus = Corpus.open(corpus_dir)
    key = config_hash({"teacher_sha256": sha256_file(teacher_checkpoint), "corpus": corpus.manifest["config_hash"],
                       "head_selection_sentences": head_selection_sentences})
    out = corpus.path / "durations" / key
    if (out / "meta.json").is_file():
        return out
    work = private_work_directory(out)
    models, _, task = load_ensemble([teacher_checkpoint], str(corpus.bin_dir))
    teacher = models[0]
    heads = _HeadAttention(teacher)
    layers = len(teacher.decoder.layers)
    pad = task.target_dictionary.pad()

    with torch.inference_mode():
        # 1. pick the head with the highest focus rate on the first training sentences
        rates, seen = None, 0
        _, batches = _batches(task, "train", max_tokens)
        for sample in batches:
            encoder_out = teacher.encoder(sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"])
            mask = sample["target"].ne(pad).float()
            per_layer = torch.stack([focus_rate(heads(sample, layer, encoder_out), mask) for layer in range(layers)])
            rates = per_layer if rates is None else rates + per_layer
            seen += sample["target"].size(0)
            if seen >= head_selection_sentences:
                break
        rates = rates / seen
        best_layer, best_head = divmod(int(rates.argmax()), rates.size(1))

        # 2. durations of every sentence from that head
        counts = {}
        for split in SPLITS:
            dataset, batches = _batches(task, split, max_tokens)
            durations: list[str | None] = [None] * len(dataset)
            for sample in tqdm(batches, desc=f"durations ({split})", unit="batch", mininterval=2):
                src = sample["net_input"]["src_tokens"]
                encoder_out = teacher.encoder(src, sample["net_input"]["src_lengths"])
                attention = heads(sample, best_layer, encoder_out)[best_head]  # [batch, tgt, src]
                for row, sentence_id in enumerate(sample["id"].tolist()):
                    source_positions = src[row].ne(pad)
                    target_len = int(sample["target"][row].ne(pad).sum())
                    weights = attention[row, :target_len][:, source_positions]
                    durations[sentence_id] = " ".join(map(str, durations_from_attention(weights)))
            missing = [i for i, d in enumerate(durations) if d is None]
            if missing:
                raise RuntimeError(f"{split}: no durations for sentences {missing[:5]} (filtered by fairseq?)")
            counts[split] = write_lines(work / f"{split}.dur", durations)
    write_json(work / "meta.json", {
        "teacher": str(Path(teacher_checkpoint).resolve()), "corpus": str(corpus.path.resolve()),
        "layer": best_layer, "head": best_head, "focus_rates": [[round(float(r), 4) for r in row] for row in rates],
        "sentences": counts, "head_selection_sentences": seen})
    publish_directory(work, out, "meta.json")
    return out


def read_durations(path: str | os.PathLike, expected_lengths: list[int]) -> list[list[int]]:
    """Read a .dur file, checking each line against the source length of its sentence."""
    lines = read_lines(path)
    if len(lines) != len(expected_lengths):
        raise InputError(f"{path}: {len(lines)} lines for {len(expected_lengths)} sentences; recompute the durations")
    durations = []
    for number, (line, length) in enumerate(zip(lines, expected_lengths), start=1):
        values = [int(v) for v in line.split()]
        if len(values) != length or min(values, default=0) < 0:
            raise InputError(f"{path}:{number}: expected {length} non-negative durations, got {line[:60]!r}")
        durations.append(values)
    return durations


def load_meta(durations_dir) -> dict:
    return read_json(Path(durations_dir) / "meta.json")
