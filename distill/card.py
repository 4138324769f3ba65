"""The data card of a distilled corpus (``CARD.md``): how it was made, for whoever trains on it.

Users of released distilled sets keep asking what made them: which teacher, how large, at what BLEU, which
decoding, were valid and test distilled (fairseq#2072, #2863, #1220; DisCo#5). Every distilled corpus
answers in its directory: ``regenerate``, ``diverse`` and ``heldout`` write ``CARD.md`` with the corpus, and
``seqkd-distill card --corpus DIR [--out DIR]`` writes it again (for corpora made before cards existed, or a
copy to commit). What the card says is gathered first as data, ``card.json`` (the manifest, the teachers' run
directories: their manifests and evaluations, the train targets' length), and ``CARD.md`` is rendered from it,
so a committed card re-renders from its JSON (``seqkd-report render --check``):

  teachers   checkpoint and its sha256, kind, preset, size, parameters, precision, seed, training time,
             its BLEU on valid and test (with sacrebleu signatures) where it was evaluated
  decoding   backend, compute type, beam, n-best, length penalty (and its tuning), sampling, length limits
  splits     which were regenerated (train, valid) and which kept human (test), with counts
  filters    what was dropped or replaced, per rule (none: said so)
  cost       the teachers' CPU and wall time per sentence, the device
  quality    the distilled targets' BLEU and chrF against the human references, and their length ratio
  command    the command that made it
"""
from __future__ import annotations

import shlex
from pathlib import Path

from distill.corpus.directory import Corpus
from distill.io import atomic_open, read_json, write_json
from distill.scoring import length_ratio
from distill.tables import markdown_table

CARD = "CARD.md"
CARD_FACTS = "card.json"


def teacher_facts(checkpoint: str) -> dict:
    """What the card says about one teacher checkpoint: from its run directory (``<run>/checkpoints/x.pt``) when
    it has a manifest, and its parameter count from the checkpoint itself."""
    import torch

    from distill.ctranslate2_backend import is_ctranslate2_model
    from distill.engine import checkpoint_of
    from distill.fairseq_setup import prepare_fairseq

    if is_ctranslate2_model(checkpoint):  # a teacher made elsewhere: what its converted directory says
        return {"checkpoint": str(checkpoint), "kind": "CTranslate2 model", "parameters": None, "model": None,
                "converter_config": read_json(Path(checkpoint) / "config.json")}
    prepare_fairseq()
    path = Path(checkpoint_of(checkpoint))  # a run directory stands for its checkpoint
    state = torch.load(path, map_location="cpu", weights_only=False)  # trusted: the corpus's own teacher
    parameters = sum(t.numel() for name, t in state["model"].items() if not name.endswith("_float_tensor"))
    facts = {"checkpoint": str(path), "parameters": parameters}
    run = path.parent.parent
    if (run / "manifest.json").is_file():
        manifest = read_json(run / "manifest.json")
        facts.update({key: manifest.get(key) for key in ("kind", "preset", "model", "precision", "seed")})
        facts["size"] = manifest.get("settings", {}).get("size")
        facts["train_wall_seconds"] = manifest.get("train_wall_seconds")
        evaluations = []
        for file in sorted((run / "eval").glob("*.json")):
            result = read_json(file)
            if "scores" in result and "split" in result:
                evaluations.append({"file": file.name, "split": result["split"], "beam": result.get("beam"),
                                    "corpus": Path(result.get("corpus", "")).name,
                                    "scores": {name: {"bleu": s["bleu"], "signature": s["bleu_signature"]}
                                               for name, s in result["scores"].items()}})
        facts["evaluations"] = evaluations
    return facts


def _teacher_checkpoints(manifest: dict) -> list[str]:
    """The teachers a corpus names, and those of the distilled corpora it was made from (a diverse corpus)."""
    found = [source["teacher"] for source in manifest.get("sources", []) if "teacher" in source]
    if manifest.get("kind") == "diverse":
        for source in manifest.get("sources", []):
            member = Path(source.get("corpus", "")) / "manifest.json"
            if member.is_file():
                found += _teacher_checkpoints(read_json(member))
    return found


def card_facts(corpus: Corpus) -> dict:
    """Everything the card says, as data (``card.json``): the corpus's manifest (less its file list), its teachers'
    facts (:func:`teacher_facts`; a teacher whose checkpoint is gone is named by its sha256 only) and the length
    ratio of its train targets to the human ones."""
    manifest = {key: value for key, value in corpus.manifest.items() if key != "files"}
    teachers = [teacher_facts(path) for path in _teacher_checkpoints(corpus.manifest) if Path(path).exists()]
    return {"name": corpus.path.name, "manifest": manifest, "teachers": teachers,
            "train_length_ratio": length_ratio(corpus.lines("train", "tgt"), corpus.lines("train", "orig"))}


def card_markdown(facts: dict) -> str:
    """CARD.md from :func:`card_facts` (``seqkd-report render`` renders a committed card.json with it)."""
    manifest, teachers = facts["manifest"], facts["teachers"]
    config, info = manifest["config"], manifest.get("distillation", {})
    lines = [f"# Data card: {facts['name']}", "",
             f"A {manifest['kind']} corpus ({config.get('method', config.get('kind'))}) of the corpus "
             f"`{config.get('source_corpus')}` (config hash; made from {_source_corpus(manifest)}), "
             f"config hash `{manifest['config_hash']}`, format `{manifest['format']}`.", ""]
    lines += ["## Teachers", ""]
    if teachers:
        rows = []
        for teacher in teachers:
            model = teacher.get("model") or {}
            shape = (f"{model.get('layers')}+{model.get('layers')} layers, d = {model.get('embed_dim')}, "
                     f"{model.get('heads')} heads, FFN {model.get('ffn_dim')}" if model else "")
            rows.append([f"`{teacher['checkpoint']}`", teacher.get("kind") or "", teacher.get("preset") or "",
                         teacher.get("size") or "", shape,
                         f"{teacher['parameters']:,}" if teacher["parameters"] else "", teacher.get("precision") or "",
                         teacher.get("seed") or "", _minutes(teacher.get("train_wall_seconds"))])
        lines += [markdown_table(["checkpoint", "kind", "preset", "size", "shape", "parameters", "precision", "seed",
                                  "training"], rows), ""]
        evaluations = [(Path(f["checkpoint"]).parent.parent.name, e) for f in teachers for e in f.get("evaluations",
                                                                                                       [])]
        if evaluations:
            lines += ["Their evaluations (beam search):", "",
                      markdown_table(["teacher run", "corpus", "split", "beam", "reference", "BLEU"],
                                     ([run, e["corpus"], e["split"], e["beam"] or "", name, f"{s['bleu']:.2f}"]
                                      for run, e in evaluations for name, s in e["scores"].items())), "",
                      *_signatures(s["signature"] for _, e in evaluations for s in e["scores"].values()), ""]
    shas = [t["sha256"] for t in config.get("teachers", [])]
    if shas:
        lines += ["Checkpoint sha256: " + ", ".join(f"`{sha}`" for sha in shas) + ".", ""]
    if config.get("members"):
        lines += [f"Made from the distilled corpora with config hashes {', '.join(f'`{m}`' for m in config['members'])}"
                  + (f" ({config['folds']} folds: each teacher regenerated the fold it was not trained on)."
                     if config.get("folds") else "."), ""]
    lines += ["## Decoding", ""]
    decoding = config.get("decoding")
    if decoding:
        lenpen = decoding.get("lenpen")
        chosen = info.get("length_penalty", {}).get("chosen")
        tuned = isinstance(lenpen, dict)
        items = [("backend", config.get("backend", "fairseq")),
                 *([("compute type", config["compute_type"])] if config.get("compute_type") else []),
                 ("method", config["method"]), ("beam", decoding["beam"]), ("n-best", decoding["nbest"]),
                 ("sampling", "yes" + (f" (top-k {decoding['sampling_topk']})" if decoding.get("sampling_topk", -1) > 0
                                       else "") if decoding["sampling"] else "no"),
                 ("length penalty", f"{chosen:g}, tuned on valid ({lenpen['criterion']} over "
                                    f"{', '.join(f'{v:g}' for v in lenpen['values'])})" if tuned
                  else f"{lenpen if lenpen is not None else 1:g}"),
                 ("maximum length", f"{decoding['max_len_a']:g} x source + {decoding['max_len_b']}")]
        lines += [markdown_table(["setting", "value"], ([name, value] for name, value in items)), ""]
        points = info.get("length_penalty", {}).get("points")
        if points:
            lines += ["Length-penalty tuning on valid:", "",
                      markdown_table(["length penalty", "BLEU", "length ratio"],
                                     ([f"{p['lenpen']:g}", f"{p['bleu']:.2f}", f"{p['length_ratio']:.3f}"]
                                      for p in points)), ""]
    else:
        lines += ["As its members' (above).", ""]
    counts = manifest["counts"]
    lines += ["## Splits", "",
              markdown_table(["split", "sentences", "targets"],
                             [["train", counts["train"], "the teacher's outputs (human targets in raw/train.orig)"],
                              ["valid", counts["valid"], "the teacher's outputs (human targets in raw/valid.orig)"],
                              ["test", counts["test"], "human, never regenerated"]]), ""]
    rules = config.get("filters")
    found = [(split, rule, n, outcome) for split, record in manifest.get("filtered", {}).items()
             for key, outcome in (("counts", "dropped"), ("replaced", "human target kept"))
             for rule, n in record.get(key, {}).items() if n]
    lines += ["## Filters", ""]
    if rules:
        described = [name for name, on in (("empty outputs", rules["empty"]),
                                           (f"output/source word ratio outside {rules['length_ratio']}",
                                            rules["length_ratio"]),
                                           (f"a word or n-gram repeated more than {rules['repeats']} times in a row",
                                            rules["repeats"])) if on]
        lines += [f"Rules on the training pairs: {'; '.join(described)}; a pair that breaks one is "
                  f"{'dropped' if rules['action'] == 'drop' else 'given its human target'}.", ""]
        lines += ([markdown_table(["split", "rule", "pairs", "outcome"], found), ""] if found
                  else ["No pair broke a rule.", ""])
    else:
        lines += ["None applied: every regenerated target is the teacher's output as it came.", ""]
    cost = info.get("teacher_cost")
    if cost:
        lines += ["## Cost", "",
                  f"{cost['sentences']:,} sentences regenerated; {1000 * cost['cpu_seconds_per_sentence']:.1f} ms CPU "
                  f"and {1000 * cost['wall_seconds_per_sentence']:.1f} ms wall per sentence on {cost['device']} "
                  f"({cost['cpu_seconds'] / 3600:.2f} CPU hours in all"
                  + (f", {cost['teachers']} teachers" if cost.get("teachers") else "") + ").", ""]
    quality = info.get("distilled_targets_vs_references", {})
    if quality:
        rows = [[split, name, f"{score['bleu']:.2f}", f"{score['chrf']:.2f}"]
                for split, scores in quality.items() for name, score in scores.items()]
        ratio = facts["train_length_ratio"]
        lines += ["## The distilled targets against the human ones", "",
                  markdown_table(["split", "reference", "BLEU", "chrF"], rows), "",
                  *_signatures(score["bleu_signature"] for scores in quality.values() for score in scores.values()),
                  "",
                  f"Length: the distilled train targets have {ratio:.3f} times the words of the human ones "
                  "(sacrebleu's 13a tokens). For a teacher's own training sources, their BLEU says how much of its "
                  "training set it reproduces.", ""]
    lines += ["## Command", "", "```", shlex.join(str(part) for part in manifest.get("command", [])), "```", ""]
    return "\n".join(lines)


def _signatures(signatures) -> list[str]:
    """sacrebleu's signatures below a table, each once (a signature's | would split a table's cells)."""
    return [f"sacrebleu: `{signature}`  " for signature in dict.fromkeys(signatures)]


def _source_corpus(manifest: dict) -> str:
    corpora = [source["corpus"] for source in manifest.get("sources", []) if "corpus" in source]
    return ", ".join(f"`{Path(c).name}`" for c in corpora) or "its sources"


def _minutes(seconds) -> str:
    return "" if not seconds else f"{seconds / 60:.0f} min"


def write_card(corpus: Corpus, out: Path | None = None) -> Path:
    """card.json and CARD.md rendered from it, in the corpus directory or ``out`` (its teachers read where the
    manifest says they are)."""
    out = Path(out) if out else corpus.path
    write_json(out / CARD_FACTS, card_facts(corpus))
    path = out / CARD
    with atomic_open(path) as handle:
        handle.write(card_markdown(read_json(out / CARD_FACTS)))  # as the file renders again
    return path
