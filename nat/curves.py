"""Learning curves: validation BLEU of a student at every interval checkpoint, and their figure.

A student run keeps fairseq's checkpoint every ``save_interval_updates`` updates
(``checkpoint_<epoch>_<updates>.pt``); each is decoded on the raw corpus's validation split
and scored against its primary reference. The points are cached in ``RUN/curve.json`` (with
the corpus they were scored on), so a curve costs its decoding once. Training wall time at
each point comes from the times of the run's ``train.log`` lines (:func:`distill.engine.training_clock`).
"""
from __future__ import annotations

import re
from pathlib import Path

from distill.engine import read_run_manifest, training_clock, training_cpu_clock
from distill.io import read_json, write_json
from distill.scoring import primary_reference_score

# fairseq names the first file of a save (the others are copies of it)
SAVED = re.compile(r"Saved checkpoint (\S+) \(epoch \d+ @ (\d+) updates")
# fairseq's training loss averaged over each log interval or epoch (on the run's own targets: raw or distilled)
TRAINING_LOSS = re.compile(r"\| train(?:_inner)? \|.*? loss[= ](\d+(?:\.\d+)?)[,| ].*num_updates[= ](\d+)")


def interval_checkpoints(run_dir) -> dict[int, Path]:
    """The run's checkpoints at multiples of its ``save_interval_updates``, by update count, from the
    "Saved checkpoint" lines of its log: interval checkpoints, epoch checkpoints that fell on an
    interval, and checkpoint_last.pt for the final update (it is rewritten at every save)."""
    run_dir = Path(run_dir)
    interval = read_run_manifest(run_dir)["settings"]["save_interval_updates"]
    saved = [(Path(path).name, int(n)) for path,
             n in SAVED.findall((run_dir / "train.log").read_text(encoding="utf-8"))]
    found = {}
    for name, updates in saved:
        path = run_dir / "checkpoints" / name
        if updates % interval == 0 and name not in ("checkpoint_last.pt", "checkpoint_best.pt") and path.is_file():
            found[updates] = path
    last = run_dir / "checkpoints" / "checkpoint_last.pt"
    if saved and last.is_file():
        found.setdefault(max(updates for _, updates in saved), last)
    return dict(sorted(found.items()))


def _at_or_after(logged: list[tuple[int, float]], updates: list[int]) -> dict[int, float | None]:
    """Each update count's value: that of the first logged (update count, value) at or after it, else None."""
    logged = sorted(logged)
    return {target: next((value for n, value in logged if n >= target), None) for target in updates}


def wall_seconds_at(train_log, updates: list[int]) -> dict[int, float | None]:
    """Seconds of training at each update count (the first log line at or after it)."""
    return _at_or_after([(n, seconds) for n, seconds in training_clock(train_log) if n is not None], updates)


def cpu_seconds_at(train_log, updates: list[int]) -> dict[int, float | None]:
    """CPU seconds of training at each update count (the first save at or after it; None where the log has no
    CPU times: runs trained before they were logged)."""
    return _at_or_after(training_cpu_clock(train_log), updates)


def training_loss_at(train_log, updates: list[int]) -> dict[int, float | None]:
    """fairseq's training loss at each update count: the mean over the log interval (or epoch) that
    ends there or last before it."""
    logged = sorted((int(n), float(loss)) for loss,
                    n in TRAINING_LOSS.findall(Path(train_log).read_text(encoding="utf-8")))
    return {target: next((loss for n, loss in reversed(logged) if n <= target), None) for target in updates}


def learning_curve(run_dir, corpus, translator_for_checkpoint) -> list[dict]:
    """[{updates, wall_seconds, cpu_seconds, train_loss, bleu}] on ``corpus``'s valid split;
    ``translator_for_checkpoint(path)`` decodes. Only the BLEU of each checkpoint is cached: times and losses are
    read from the log every time."""
    run_dir = Path(run_dir)
    cache = run_dir / "curve.json"
    checkpoints = interval_checkpoints(run_dir)
    cached = read_json(cache) if cache.is_file() else {}
    if not checkpoints and cached.get("corpus_hash") == corpus.manifest["config_hash"]:
        # a run kept without its checkpoints (distill.state): its curve as it was measured
        checkpoints = {point["updates"]: None for point in cached["points"]}
    key = {"corpus_hash": corpus.manifest["config_hash"], "updates": list(checkpoints)}
    if {k: cached.get(k) for k in key} == key:
        bleu = {point["updates"]: point["bleu"] for point in cached["points"]}
    else:
        bleu, signature = {}, None
        for updates, path in checkpoints.items():
            _, score = primary_reference_score(translator_for_checkpoint(str(path)), corpus, "valid")
            bleu[updates], signature = score["bleu"], score["bleu_signature"]
        write_json(cache, {**key, "reference": next(iter(corpus.references("valid"))), "bleu_signature": signature,
                           "points": [{"updates": updates, "bleu": value} for updates, value in bleu.items()]})
    walls = wall_seconds_at(run_dir / "train.log", list(checkpoints))
    cpu = cpu_seconds_at(run_dir / "train.log", list(checkpoints))
    losses = training_loss_at(run_dir / "train.log", list(checkpoints))
    return [{"updates": updates, "wall_seconds": walls[updates], "cpu_seconds": cpu[updates],
             "train_loss": losses[updates], "bleu": bleu[updates]} for updates in checkpoints]


def plot_curves(curves: list[dict], path, teacher_bleu: float | None = None) -> Path:
    """One column per student, raw vs each distilled corpus: valid BLEU against updates (top) and training minutes
    (middle), and the training loss on the run's own targets against updates (bottom).

    ``curves``: [{"student", "data", "seed", "points"}]; every seed is one line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    students = list(dict.fromkeys(curve["student"] for curve in curves))
    figure, axes = plt.subplots(3, len(students), figsize=(3.4 * len(students), 8.2), squeeze=False, sharey="row")
    data_names = list(dict.fromkeys(curve["data"] for curve in curves))
    palette = iter(["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink"])
    colors = {name: "tab:gray" if name == "raw" else next(palette, "tab:olive") for name in data_names}
    for column, student in enumerate(students):
        top, bottom, loss = axes[0][column], axes[1][column], axes[2][column]
        labelled = set()
        for curve in (c for c in curves if c["student"] == student):
            points = curve["points"]
            label = None if curve["data"] in labelled else curve["data"]
            labelled.add(curve["data"])
            color = colors[curve["data"]]
            top.plot([p["updates"] for p in points], [p["bleu"] for p in points], marker="o", ms=3, color=color,
                     label=label)
            timed = [p for p in points if p["wall_seconds"] is not None]
            bottom.plot([p["wall_seconds"] / 60 for p in timed], [p["bleu"] for p in timed], marker="o", ms=3,
                        color=color)
            logged = [p for p in points if p.get("train_loss") is not None]
            loss.plot([p["updates"] for p in logged], [p["train_loss"] for p in logged], marker="o", ms=3, color=color)
        for axis in (top, bottom):
            if teacher_bleu is not None:
                axis.axhline(teacher_bleu, color="tab:red", linestyle="--", linewidth=1,
                             label="teacher, beam 5" if axis is top else None)
            axis.grid(alpha=0.3)
        loss.grid(alpha=0.3)
        top.set_title(student)
        top.set_xlabel("updates")
        bottom.set_xlabel("training minutes")
        loss.set_xlabel("updates")
        top.legend(fontsize=8)
    axes[0][0].set_ylabel("valid BLEU")
    axes[1][0].set_ylabel("valid BLEU")
    axes[2][0].set_ylabel("training loss (own targets)")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
