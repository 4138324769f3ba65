"""The teacher-size study (Zhou, Gu & Neubig 2020, Fig. 4): AR teachers of several sizes, one
distilled corpus each, C(d) and F(d) of every corpus, and the BLEU of one student trained on each.

The teacher of the preset's own size is the main job's (``--teacher``, ``--distilled``, and its
students under ``--student-runs``), so `make reproduce` and this study share their runs; the other
sizes get ``RUNS/teacher-PRESET-SIZE`` and ``CORPUS.seqkd-SIZE``. Every step skips what is done.
"""
from __future__ import annotations

from pathlib import Path

# teacher sizes per preset: around the preset's own size, as far as its hardware allows
DEFAULT_SIZES = {"cpu": ("tiny", "small", "medium"), "base": ("small", "base", "big")}
OTHER_PRESET_SIZES = ("tiny", "small")


def _step(cli, argv: list) -> None:
    """Run one `seqkd-*` command in this process; its errors end the study with their own message."""
    argv = [str(item) for item in argv]
    parser = cli.build_parser()
    print(f"== {parser.prog} {' '.join(argv)}", flush=True)
    args = parser.parse_args(argv)
    cli.COMMANDS[args.command](args)


def run_teacher_sizes(args) -> None:
    from analysis import cli as analysis_cli
    from distill import cli as distill_cli
    from distill.teacher import PRESETS as TEACHER_PRESETS
    from nat import cli as nat_cli
    from nat.compare import student_run_dir

    sizes = args.sizes.split(",") if args.sizes else DEFAULT_SIZES.get(args.preset, OTHER_PRESET_SIZES)
    own_size = TEACHER_PRESETS[args.preset]["size"]
    device = ["--device", args.device] if args.device else []
    out = Path(args.out)
    # (name in tables, corpus, the main job's data label for its student run, teacher of that corpus)
    corpora = [("raw", args.corpus, "raw", args.teacher)]
    for size in sizes:
        if size == own_size:
            teacher, distilled, data = args.teacher, args.distilled, "distilled"
        else:
            teacher = Path(args.runs) / f"teacher-{args.preset}-{size}"
            distilled, data = f"{args.corpus}.seqkd-{size}", f"distilled-{size}"
        _step(distill_cli, ["train-teacher", "--corpus", args.corpus, "--out", teacher, "--preset", args.preset,
                            "--size", size, *device])
        _step(distill_cli, ["regenerate", "--teacher", teacher, "--corpus", args.corpus, "--out", distilled,
                            "--method", "seqkd", "--backend", args.backend, "--compute-type", args.compute_type,
                            *device])
        corpora.append((f"{size} teacher", distilled, data, teacher))

    _step(analysis_cli, ["complexity", *(f"--corpus={name}={corpus}" for name, corpus, _, _ in corpora),
                         "--out", out / "complexity"])
    bleu = []
    for name, corpus, data, teacher in corpora:
        run = student_run_dir(args.student_runs, args.student, data, args.seed)
        _step(nat_cli, ["train", "--student", args.student, "--corpus", corpus, "--out", run, "--preset", args.preset,
                        "--seed", args.seed, "--teacher", teacher, *device])
        scores = out / "bleu" / f"{name.replace(' ', '-')}.json"
        _step(nat_cli, ["evaluate", "--run", run, "--corpus", args.corpus, "--iterations", 10, "--length-beam", 1,
                        "--out", scores, *device])
        bleu.append(f"--bleu={name}={scores}")
    _step(analysis_cli, ["tradeoff", "--complexity-json", out / "complexity" / "complexity.json", *bleu, "--out", out])


def add_parser(commands) -> None:
    from distill.ctranslate2_backend import COMPUTE_TYPES
    from distill.regenerate import BACKENDS
    from distill.teacher import PRESETS as TEACHER_PRESETS
    from nat.registry import student_names
    from nat.students import PRESETS as STUDENT_PRESETS

    study = commands.add_parser("teacher-sizes", help="teachers of several sizes -> distilled corpora -> C(d), F(d) "
                                "and student BLEU (Zhou et al. 2020, Fig. 4)")
    study.add_argument("--corpus", required=True, help="prepared raw corpus directory")
    study.add_argument("--teacher", required=True, help="the main job's teacher run (the preset's own size)")
    study.add_argument("--distilled", required=True, help="the main job's SeqKD corpus (made by --teacher)")
    study.add_argument("--student-runs", required=True,
                       help="the main job's student directory (seqkd-nat compare --out)")
    study.add_argument("--runs", required=True, help="where the other teachers go (RUNS/teacher-PRESET-SIZE)")
    study.add_argument("--out", required=True, help="directory for complexity/, bleu/ and the figures")
    # the teachers and the students train under the same preset: only the presets both have (the teachers'
    # `big` has no student preset, so it is refused here, before any teacher trains)
    study.add_argument("--preset", default="cpu", choices=sorted(set(TEACHER_PRESETS) & set(STUDENT_PRESETS)),
                       help="the teachers' and the student's preset (default: %(default)s)")
    study.add_argument("--sizes", help="comma-separated teacher sizes (default: cpu tiny,small,medium; "
                       "base small,base,big; others tiny,small)")
    study.add_argument("--student", default="ctc", choices=student_names())
    study.add_argument("--seed", type=int, default=1, help="the student's seed")
    study.add_argument("--backend", default="fairseq", choices=BACKENDS, help="regeneration backend")
    study.add_argument("--compute-type", default="int8", choices=COMPUTE_TYPES, help="ctranslate2 regeneration")
    study.add_argument("--device", choices=["cpu", "cuda"])
