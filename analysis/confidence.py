"""Confidence and calibration of a model's output distribution under teacher forcing, raw vs distilled
("distilled models tend to be more confident"): token entropy and the expected calibration error
(ECE, Guo et al. 2017, equal-width bins) against the reference.

- AR models (the teacher, the ``ar`` student): at each reference position, given the reference prefix.
- CTC students: at each decoder position, against the label (a token or the blank) that the
  reference's most probable CTC path puts there (:func:`nat.glancing.ctc_best_alignment`);
  a sentence whose reference cannot fit its positions is left out and counted.

Confidence is the probability of the argmax; a position is correct when the argmax is the
reference's label. The AR models trained with label smoothing 0.1, which by itself lowers their
confidence; the CTC students did not.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from distill.io import InputError

BINS = 10


def calibration(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS) -> dict:
    """ECE over equal-width confidence bins, with each bin's count, mean confidence and accuracy."""
    confidence, correct = confidence.double(), correct.double()
    index = (confidence * bins).long().clamp(max=bins - 1)  # a confidence of exactly 1 goes to the last bin
    table, ece = [], 0.0
    for b in range(bins):
        members = index.eq(b)
        count = int(members.sum())
        if count:
            mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
            ece += count / len(confidence) * abs(accuracy - mean_confidence)
            table.append({"bin": [b / bins, (b + 1) / bins], "count": count, "confidence": mean_confidence,
                          "accuracy": accuracy})
    return {"ece": ece, "bins": table}


def entropy_bits(log_probs: torch.Tensor) -> torch.Tensor:
    """Entropy in bits of each distribution on the last axis."""
    return -(log_probs.exp() * log_probs).sum(-1) / math.log(2)


def summary(confidence: torch.Tensor, correct: torch.Tensor, entropy: torch.Tensor) -> dict:
    return {"positions": len(confidence), "mean_entropy_bits": float(entropy.mean()),
            "mean_confidence": float(confidence.mean()), "accuracy": float(correct.float().mean()),
            **calibration(confidence, correct)}


def _positions_of_batch(model, sample, ctc: bool, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(log-probabilities [positions, vocab], reference labels [positions], token position mask, sentences left out)."""
    from nat.criterions.ctc_nat_loss import ctc_targets
    from nat.glancing import ctc_best_alignment

    net_input = sample["net_input"]
    if ctc:
        logits, padding_mask = model.decode(model.encode(net_input["src_tokens"], net_input["src_lengths"]),
                                            net_input["src_tokens"])
        lprobs = F.log_softmax(logits.float(), dim=-1)
        labels, label_lengths = ctc_targets(sample["target"], pad, model.dictionary.eos())
        path, feasible = ctc_best_alignment(lprobs, (~padding_mask).sum(1), labels, label_lengths, model.blank)
        valid = ~padding_mask & feasible.unsqueeze(1)
        return lprobs[valid], path[valid], path[valid].ne(model.blank), int((~feasible).sum())
    output = model(**net_input)
    lprobs = model.get_normalized_probs(output, log_probs=True).float()
    valid = sample["target"].ne(pad)
    return lprobs[valid], sample["target"][valid], torch.ones(int(valid.sum()), dtype=torch.bool), 0


def teacher_forced(run_dir, corpus, split: str = "test", max_tokens: int = 4000) -> dict:
    """Entropy, confidence, accuracy and ECE of one run on ``corpus``'s ``split``: over all positions,
    and (CTC) over the positions whose reference label is a token."""
    from distill.engine import checkpoint_of, load_ensemble, read_run_manifest
    from nat.registry import student_kind

    manifest = read_run_manifest(run_dir)
    kind = "teacher" if manifest["kind"] == "teacher" else manifest["student"]
    student = None if kind == "teacher" else student_kind(kind)
    if student is not None and not student.teacher_forced:
        raise InputError(f"{run_dir}: confidence needs an AR or a CTC model; {kind} predicts its length first")
    ctc = student is not None and student.ctc
    models, _, task = load_ensemble([checkpoint_of(run_dir)], str(corpus.bin_dir))
    model, pad = models[0], task.target_dictionary.pad()
    task.load_dataset(split)
    dataset = task.dataset(split)
    batches = task.get_batch_iterator(dataset, max_tokens=max_tokens, max_positions=model.max_positions(),
                                      ignore_invalid_inputs=False).next_epoch_itr(shuffle=False)
    confidences, corrects, entropies, is_token, left_out = [], [], [], [], 0
    with torch.no_grad():
        for sample in batches:
            lprobs, labels, token, skipped = _positions_of_batch(model, sample, ctc, pad)
            best, argmax = lprobs.max(-1)
            confidences.append(best.exp())
            corrects.append(argmax.eq(labels))
            entropies.append(entropy_bits(lprobs))
            is_token.append(token)
            left_out += skipped
    confidence, correct, entropy, token = (torch.cat(x) for x in (confidences, corrects, entropies, is_token))
    result = {"run": str(run_dir), "model": kind, "split": split, "sentences": len(dataset),
              "sentences_left_out": left_out, "all_positions": summary(confidence, correct, entropy)}
    if ctc:
        result["token_positions"] = summary(confidence[token], correct[token], entropy[token])
    return result


def compare_runs(comparison: dict, out) -> dict[str, list[Path]]:
    """:class:`nat.systems.System` -> run directories (one per seed) of the teacher and every AR or CTC
    student of a ``seqkd-nat compare`` result whose runs are in ``out``."""
    from nat.compare import distilled_names, student_run_dir
    from nat.registry import student_kind
    from nat.systems import TEACHER, System

    runs = {TEACHER: [Path(comparison["teacher"])]}
    # in the order of the results (the command line's); the JSON's keys (``seeds``) are sorted
    students = dict.fromkeys(r["system"] for r in comparison["results"] if r["system"] != TEACHER.student)
    for student in students:
        seeds = comparison["seeds"][student]
        if student_kind(student).teacher_forced:
            for data in ("raw", *distilled_names(comparison)):
                runs[System(student, data)] = [student_run_dir(out, student, data, seed) for seed in seeds]
    return runs


def mean_over_seeds(results: list[dict]) -> dict:
    """Each summary number averaged over the seeds' results (bins: the first seed's)."""
    merged = {"seeds": len(results), "model": results[0]["model"],
              "sentences_left_out": sum(r["sentences_left_out"] for r in results)}
    for part in ("all_positions", "token_positions"):
        if part in results[0]:
            merged[part] = {key: (sum(r[part][key] for r in results) / len(results) if key != "bins" else value)
                            for key, value in results[0][part].items()}
    return merged


def markdown(result: dict) -> str:
    """confidence.md: one row per system of ``result["systems"]``."""
    from distill.tables import markdown_table
    from nat.systems import row_label

    def cells(r):
        a, t = r["all_positions"], r.get("token_positions")
        token = ([f"{t['mean_entropy_bits']:.3f}", f"{t['mean_confidence']:.3f}", f"{t['accuracy']:.3f}",
                  f"{t['ece']:.3f}"] if t else ["–"] * 4)
        return [row_label(r), f"{a['positions']:,.0f}", f"{a['mean_entropy_bits']:.3f}", f"{a['mean_confidence']:.3f}",
                f"{a['accuracy']:.3f}", f"{a['ece']:.3f}", *token]

    lines = [markdown_table(["system", "positions", "mean entropy [bits]", "mean confidence", "accuracy", "ECE",
                             "token positions: entropy", "confidence", "accuracy", "ECE"],
                            map(cells, result["systems"]))]
    return "\n".join(lines) + ("\n\nTeacher forcing on the test set (students: mean over seeds). AR models: every "
                               "reference token given its prefix; CTC students: every decoder position against the "
                               "reference's best CTC path, blanks included (token positions: the path's tokens). "
                               f"ECE over {BINS} equal-width confidence bins.\n")
