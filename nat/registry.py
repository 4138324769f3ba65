"""The student kinds: one object per kind, and the registry every other module asks.

The pattern is fairseq's ``@register_model``: a kind says once what it is (its fairseq arguments,
the model class its checkpoints hold, how it is decoded and evaluated, its schedule departures),
and training (:mod:`nat.students`), decoding (:mod:`nat.decoding`), the comparison
(:mod:`nat.compare`), the analyses and the benchmark read it from here. Adding a student is one
:func:`register_student` call and, when fairseq has no model for it, its model files under
``nat/models`` (docs/students.md, "Adding a student").

  ctc       CTC NAT (Libovický & Helcl 2018; ``nat.models.ctc_nat``): upsampled encoder states, no
            length predictor; argmax decoding
  ctc-glat  the same, with glancing training on the best CTC alignment (Gu & Kong 2021)
  nat       vanilla NAT (Gu et al. 2018): fairseq ``nonautoregressive_transformer``, length prediction
  nat-glat  vanilla NAT with glancing training (Qian et al. 2021; ``nat.models.glancing_nat``)
  cmlm      mask-predict (Ghazvininejad et al. 2019): fairseq ``cmlm_transformer``
  duration  FastSpeech-style duration NAT (this project, ``nat.models.duration_nat``); needs
            durations from an AR teacher, computed once per corpus (``nat.durations``)
  dat       directed acyclic Transformer (Huang et al. 2022; ``nat.models.dag_nat``): links between the
            vertices of an upsampled decoder, glancing on the best path; one-pass lookahead, greedy or
            Viterbi decoding (Shao et al. 2022)
  ar        autoregressive student (Kim & Rush 2016) with a deep encoder and a one-layer decoder
            (Kasai et al. 2021), decoded greedily and with beam search
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from distill.io import InputError

GLANCING = {"start": 0.5, "end": 0.3}  # ratio annealed linearly over the run (Qian et al. 2021)


def glancing_arguments(max_update: int) -> list:
    return ["--glance-start", GLANCING["start"], "--glance-end", GLANCING["end"], "--glance-updates", max_update]


@dataclass(frozen=True)
class Decoding:
    """One way the comparison decodes a student's runs: the table's label, the beam of AR runs and the path
    a DAG student follows (:data:`nat.dag.DAG_DECODINGS`)."""

    label: str
    beam: int | None = None
    strategy: str | None = None


@dataclass(frozen=True)
class BenchSystem:
    """One system the decoding benchmark measures for a run of a kind: what its name adds to the kind's
    (``ctc`` + ``, lean``), the engine, and the decoding options it is loaded with."""

    suffix: str
    engine: str  # "lean", "lean, TorchScript", "fairseq" or "CTranslate2 int8"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StudentKind:
    """What the rest of the toolkit needs to know about one kind of student.

    ``name``: the ``--student`` value and the first part of its runs' names;
    ``model_class``: the class name of the fairseq model its checkpoints hold (checked when loading;
    None for autoregressive kinds, which load as the teacher does);
    ``schedules``: preset -> this kind's departures from that preset's schedule (:mod:`nat.students`).
    Subclasses say how the kind is trained (:meth:`arguments`) and decoded (:meth:`generator`).
    """

    name: str
    summary: str
    model_class: str | None = None
    schedules: dict = field(default_factory=dict)
    autoregressive = False  # decoded left to right, by beam search (Translator.autoregressive)
    ctc = False  # no length prediction: a tuned blank penalty, no length beam, a TorchScript runtime
    iterative = False  # decoded by iterative refinement (``--iterations``), not in one pass
    needs_teacher = False  # trained on what an AR teacher computes (its durations)
    teacher_forced = False  # a teacher-forced distribution per position (analysis.confidence)
    dag = False  # a directed acyclic graph of vertices, decoded along one path (``--dag-decoding``)
    runtimes = ("eager",)  # what runs the model when it decodes (nat.decoding.RUNTIMES)

    @property
    def one_pass(self) -> bool:
        """Decoded in one parallel pass: the lean path (batches built directly) applies."""
        return not (self.autoregressive or self.iterative)

    def arguments(self, durations_dir: str | None, max_update: int) -> list:
        """The fairseq-train arguments that make this kind (part of each run's config hash)."""
        raise NotImplementedError

    def decodings(self, iterations: int, length_beam: int = 1, rescored: bool = False) -> list[Decoding]:
        """How the comparison decodes each run. ``length_beam``/``rescored``: the target lengths decoded
        per sentence by a kind that predicts its length, and whether the teacher picks among them
        (Gu et al.'s noisy parallel decoding)."""
        label = f"{iterations} iterations" if self.iterative else "one pass"
        if length_beam > 1:
            label += f", length beam {length_beam}" + (", rescored by the teacher" if rescored else "")
        return [Decoding(label)]

    def evaluation_stem(self, beam: int | None, iterations: int, blank_penalty: float | None,
                        length_beam: int = 1, rescored: bool = False, strategy: str | None = None) -> str:
        """The file stem of a test-set evaluation, naming its decoding settings (so no setting overwrites another)."""
        stem = f"test.iterations{iterations}" if self.iterative else "test.one-pass"
        if length_beam > 1:
            stem += f".length-beam{length_beam}" + ("+teacher" if rescored else "")
        return stem

    @property
    def predicts_length(self) -> bool:
        """Predicts its target length, so a length beam (``--length-beam``) decodes several: not an autoregressive
        kind (it ends at </s>), a ctc kind (its alignment decides) or a DAG kind (its path decides)."""
        return not (self.autoregressive or self.ctc or self.dag)

    @property
    def oracle_length(self) -> bool:
        """Can be decoded at a given target length (``--oracle-length``): a one-pass kind that predicts it."""
        return False

    def check_decoding(self, run_dir, settings) -> None:
        """Refuse decoding settings this kind has no use for (one line naming the run)."""
        if settings.runtime not in self.runtimes:
            which = ", ".join(kind.name for kind in student_kinds() if settings.runtime in kind.runtimes)
            raise InputError(f"{run_dir}: a {self.name} student; --runtime {settings.runtime} runs {which} students "
                             "only")
        if settings.dag_decoding is not None and not self.dag:
            raise InputError(f"{run_dir}: a {self.name} student; --dag-decoding chooses the path of a dat student")
        if settings.length_beam > 1 and not (self.predicts_length or self.autoregressive):
            raise InputError(f"{run_dir}: a {self.name} student has no length to beam over (its alignment or path "
                             "decides it); use --length-beam 1")
        if settings.oracle_length and not self.oracle_length:
            raise InputError(f"{run_dir}: a {self.name} student; --oracle-length decodes the one-pass students that "
                             "predict their length (nat, nat-glat)")
        if settings.shortlist and not self.ctc:
            which = ", ".join(kind.name for kind in student_kinds() if kind.ctc)
            raise InputError(f"{run_dir}: a {self.name} student; --shortlist projects the output of {which} students "
                             "onto a vocabulary shortlist")

    def generator(self, models: list, task, settings, run_dir, rescore: bool, lean: bool):
        """The generator that decodes ``models`` (the student; the teacher last when ``rescore``)."""
        raise NotImplementedError

    def bench_systems(self) -> list[BenchSystem]:
        """What ``seqkd-bench`` measures for a run of this kind."""
        return [BenchSystem(", lean", "lean"), BenchSystem(", fairseq", "fairseq")]


def _one_pass_functions(model, settings, *torch_functions) -> list:
    """The functions a two-graph student's generator calls (encoder, then decoder): the model's own
    (``torch_functions``, each built from the model), or its ONNX export in ONNX Runtime (:mod:`nat.onnx_runtime`)."""
    if settings.runtime == "onnxruntime":
        from nat.onnx_runtime import onnx_functions

        return onnx_functions(model, int8=settings.int8, device=settings.device)
    return [function(model) for function in torch_functions]


def _onnx_bench_systems() -> list[BenchSystem]:
    """A two-graph student's benchmark rows: its lean path in torch and in ONNX Runtime, and fairseq's."""
    return [BenchSystem(", lean", "lean"), BenchSystem(", lean, ONNX Runtime", "lean, ONNX Runtime"),
            BenchSystem(", lean, ONNX Runtime int8", "lean, ONNX Runtime int8"), BenchSystem(", fairseq", "fairseq")]


@dataclass(frozen=True)
class CTCStudent(StudentKind):
    """CTC over upsampled encoder states (``ctc_nat``), with glancing when ``glancing``."""

    model_class: str | None = "CTCNATModel"
    glancing: bool = False
    extra_arguments: tuple = ()  # further ``ctc_nat`` options (e.g. ``--upsample-ratio``)
    ctc = True
    teacher_forced = True
    runtimes = ("eager", "torchscript", "onnxruntime")

    def arguments(self, durations_dir, max_update):
        # fairseq's bool flags flip their default: --left-pad-source alone means right-padded sources,
        # which CTC needs (time starts at position 0)
        return ["--task", "translation", "--left-pad-source", "--arch", "ctc_nat", "--criterion",
                "ctc_nat_loss", "--encoder-learned-pos", "--activation-fn", "gelu",
                *(glancing_arguments(max_update) if self.glancing else []), *self.extra_arguments]

    def decodings(self, iterations, length_beam=1, rescored=False):
        return [Decoding("one pass, blank penalty tuned on valid")]

    def evaluation_stem(self, beam, iterations, blank_penalty, length_beam=1, rescored=False, strategy=None):
        return f"test.blank-penalty{blank_penalty:g}"

    def generator(self, models, task, settings, run_dir, rescore, lean):
        from nat.generators import run_blank_penalty
        from nat.models.ctc_nat import CTCGenerator, CTCLogits, CTCStates, trace_ctc

        penalty = settings.blank_penalty if settings.blank_penalty is not None else run_blank_penalty(run_dir)
        states = settings.shortlist > 0  # the output layer then runs over a shortlist (nat.shortlist)
        if settings.runtime == "onnxruntime":
            from nat.onnx_runtime import onnx_functions

            (logits,) = onnx_functions(models[0], int8=settings.int8, device=settings.device, states=states)
        elif settings.runtime == "torchscript":
            logits = trace_ctc(models[0], states=states)
        else:
            logits = CTCStates(models[0]) if states else CTCLogits(models[0])
        shortlist = None
        if states:
            from distill.corpus.directory import Corpus
            from distill.engine import read_run_manifest
            from nat.shortlist import run_shortlist

            shortlist = run_shortlist(run_dir, Corpus.open(read_run_manifest(run_dir)["corpus"]),
                                      task.target_dictionary, settings.shortlist, settings.shortlist_frequent)
        return CTCGenerator(task.target_dictionary, logits, penalty, shortlist)

    def bench_systems(self):
        from nat.shortlist import BENCH_TOP

        return [BenchSystem(", lean", "lean"), BenchSystem(", lean, bf16", "lean, bf16"),
                BenchSystem(", lean, TorchScript", "lean, TorchScript"),
                BenchSystem(", lean, ONNX Runtime", "lean, ONNX Runtime"),
                BenchSystem(", lean, ONNX Runtime int8", "lean, ONNX Runtime int8"),
                BenchSystem(", lean, shortlist", "lean", {"shortlist": BENCH_TOP}),
                BenchSystem(", lean, ONNX Runtime int8, shortlist", "lean, ONNX Runtime int8",
                            {"shortlist": BENCH_TOP}),
                BenchSystem(", fairseq", "fairseq")]


@dataclass(frozen=True)
class DAGStudent(StudentKind):
    """The directed acyclic Transformer (``dag_nat``), with glancing on its best path when ``glancing``."""

    model_class: str | None = "DATModel"
    glancing: bool = True
    extra_arguments: tuple = ()  # further ``dag_nat`` options (e.g. ``--upsample-ratio``)
    dag = True
    runtimes = ("eager", "onnxruntime")

    def arguments(self, durations_dir, max_update):
        # right-padded sources, as for ctc (the vertices count from position 0)
        return ["--task", "translation", "--left-pad-source", "--arch", "dag_nat", "--criterion", "dag_nat_loss",
                "--encoder-learned-pos", "--activation-fn", "gelu",
                *(glancing_arguments(max_update) if self.glancing else []), *self.extra_arguments]

    def decodings(self, iterations, length_beam=1, rescored=False):
        from nat.dag import DAG_DECODINGS

        return [Decoding(f"one pass, {strategy}", strategy=strategy) for strategy in DAG_DECODINGS]

    def evaluation_stem(self, beam, iterations, blank_penalty, length_beam=1, rescored=False, strategy=None):
        from nat.dag import DAG_DECODINGS

        return f"test.{strategy or DAG_DECODINGS[0]}"

    def generator(self, models, task, settings, run_dir, rescore, lean):
        from nat.dag import DAG_DECODINGS
        from nat.models.dag_nat import DAGGenerator, DAGGraph

        if settings.runtime == "onnxruntime":
            from nat.onnx_runtime import onnx_functions

            (graph,) = onnx_functions(models[0], int8=settings.int8, device=settings.device)
        else:
            graph = DAGGraph(models[0])
        return DAGGenerator(task.target_dictionary, graph, settings.dag_decoding or DAG_DECODINGS[0])

    def bench_systems(self):
        from nat.dag import DAG_DECODINGS

        # the default path (lookahead) on both engines, the others on the lean one
        return [BenchSystem(", lean", "lean"),
                *(BenchSystem(f", lean, {strategy}", "lean", {"dag_decoding": strategy})
                  for strategy in DAG_DECODINGS[1:]),
                BenchSystem(", lean, ONNX Runtime", "lean, ONNX Runtime"),
                BenchSystem(", lean, ONNX Runtime int8", "lean, ONNX Runtime int8"),
                BenchSystem(", fairseq", "fairseq")]


@dataclass(frozen=True)
class AutoregressiveStudent(StudentKind):
    """A fairseq ``transformer``: the encoder keeps the preset's depth, the decoder has one layer (Kasai et al.)."""

    autoregressive = True
    teacher_forced = True

    def arguments(self, durations_dir, max_update):
        return ["--task", "translation", "--arch", "transformer", "--criterion", "label_smoothed_cross_entropy",
                "--label-smoothing", "0.1", "--decoder-layers", 1]

    def decodings(self, iterations, length_beam=1, rescored=False):
        return [Decoding("greedy", 1), Decoding("beam 5", 5)]  # the SeqKD question: does greedy come close?

    def evaluation_stem(self, beam, iterations, blank_penalty, length_beam=1, rescored=False, strategy=None):
        return "test.greedy" if beam == 1 else f"test.beam{beam}"

    def bench_systems(self):
        return [BenchSystem(" student, CTranslate2 int8, greedy", "CTranslate2 int8", {"beam": 1})]


@dataclass(frozen=True)
class DurationStudent(StudentKind):
    """The duration NAT: token durations from the teacher's attention (``translation_duration``)."""

    model_class: str | None = "DurationNATModel"
    needs_teacher = True
    runtimes = ("eager", "onnxruntime")

    def arguments(self, durations_dir, max_update):
        return ["--task", "translation_duration", "--durations-dir", durations_dir, "--arch", "duration_nat",
                "--criterion", "duration_nat_loss", "--label-smoothing", "0.1", "--encoder-learned-pos",
                "--activation-fn", "gelu"]

    def generator(self, models, task, settings, run_dir, rescore, lean):
        from nat.generators import DurationGenerator
        from nat.models.duration_nat import DurationDecoding, DurationEncoding

        encode, decode = _one_pass_functions(models[0], settings, DurationEncoding, DurationDecoding)
        return DurationGenerator(task.target_dictionary, encode, decode, settings.length_beam, rescore)

    def bench_systems(self):
        return _onnx_bench_systems()


@dataclass(frozen=True)
class LevenshteinTaskStudent(StudentKind):
    """A student of fairseq's ``translation_lev`` task that predicts its length: vanilla NAT, its glancing
    variant and CMLM, decoded by fairseq's IterativeRefinementGenerator (vanilla NAT with 0 iterations)."""

    arch: str = "nonautoregressive_transformer"
    glancing: bool = False
    inputs: tuple = ()  # the decoder's inputs (fairseq's --noise, and more)
    initialization: tuple = ()
    extra_arguments: tuple = ()  # further model options (e.g. ``--decoder-layers``), last: they override the size's

    def arguments(self, durations_dir, max_update):
        # right-padded sources (the flag flips fairseq's default, as for ctc): fairseq's copy of source embeddings
        # into the decoder (--src-embedding-copy) indexes sources from position 0, so with left padding it
        # copied padding into every sentence shorter than its batch's longest (fairseq#1316)
        return ["--task", "translation_lev", "--left-pad-source", "--criterion", "nat_loss", "--label-smoothing", "0.1",
                "--ddp-backend", "legacy_ddp", "--arch", self.arch,
                *(glancing_arguments(max_update) if self.glancing else []), *self.inputs,
                "--pred-length-offset", "--length-loss-factor", "0.1", *self.initialization,
                "--encoder-learned-pos", "--decoder-learned-pos", "--activation-fn", "gelu", *self.extra_arguments]

    runtimes = ("eager", "onnxruntime")

    @property
    def oracle_length(self) -> bool:
        return not self.iterative

    def check_decoding(self, run_dir, settings) -> None:
        super().check_decoding(run_dir, settings)
        if settings.runtime != "eager" and settings.length_beam > 1:  # fairseq's generator decodes a length beam
            raise InputError(f"{run_dir}: a {self.name} student decodes a length beam with --runtime eager only")

    def bench_systems(self):
        return _onnx_bench_systems()

    def generator(self, models, task, settings, run_dir, rescore, lean):
        from nat import generators

        generators.clamp_predicted_lengths(models[0], settings.length_beam)  # before an export: the graph holds it
        if lean or settings.oracle_length or settings.runtime == "onnxruntime":
            encode, decode = _one_pass_functions(models[0], settings, generators.NATEncoding, generators.NATDecoding)
            return generators.OnePassNATGenerator(task.target_dictionary, encode, decode,
                                                  oracle_length=settings.oracle_length)
        return generators.refinement_generator_class()(
            task.target_dictionary, eos_penalty=0.0,
            max_iter=settings.iterations if self.iterative else 0,  # fairseq#1231
            beam_size=settings.length_beam, reranking=rescore, adaptive=True)


@dataclass(frozen=True)
class IterativeStudent(LevenshteinTaskStudent):
    """Mask-predict: refined over ``--iterations`` passes."""

    iterative = True
    runtimes = ("eager",)

    def bench_systems(self):  # iterative refinement has fairseq's path only
        return [BenchSystem(f" it{count}, fairseq", "fairseq", {"iterations": count}) for count in (1, 4, 10)]


_REGISTRY: dict[str, StudentKind] = {}


def register_student(kind: StudentKind) -> StudentKind:
    """Add a kind under its name (refused when the name is taken); returns it."""
    if kind.name in _REGISTRY:
        raise ValueError(f"student {kind.name!r} is registered already")
    _REGISTRY[kind.name] = kind
    return kind


@contextmanager
def registered(kind: StudentKind) -> Iterator[StudentKind]:
    """A kind registered for the duration of a ``with`` block (tests, one-off studies)."""
    register_student(kind)
    try:
        yield kind
    finally:
        del _REGISTRY[kind.name]


def student_kind(name: str) -> StudentKind:
    """The kind called ``name``; an unknown name is one line listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown student {name!r}; choose one of {', '.join(_REGISTRY)}") from None


def student_names() -> tuple[str, ...]:
    """Every registered kind's name, in registration order (the built-in ones as in the module's docstring)."""
    return tuple(_REGISTRY)


def student_kinds() -> tuple[StudentKind, ...]:
    return tuple(_REGISTRY.values())


# CTC: its curve under the preset was flat from 1,000 updates (docs/results/experiments/ctc-3000-updates); a
# linear decay to 0 and no dropout lifted raw and distilled runs alike (ctc-linear-nodropout), and 1,250 updates
# of it fit the time two runs side by side take in the main job's budget (ctc-linear-1250)
CTC_CPU_SCHEDULE = {"warmup_updates": 400, "lr_scheduler": "linear", "dropout": 0.0, "max_update": 1250}
# vanilla NAT: at the preset's lr 2e-3 (inverse square root decay) its valid BLEU peaked by 800 updates and fell,
# and stayed flat to 3,000 updates; half the rate, decayed to 0 at the last update, ends higher on raw and on
# distilled data (docs/results/experiments/nat-*)
NAT_CPU_SCHEDULE = {"lr": 1e-3, "lr_scheduler": "linear"}
# Gu et al.'s copied source embeddings as decoder inputs: with fairseq's default (<unk> + positions) the cpu
# preset sat at the unigram plateau (~8 bits/token) for 1,000 updates
_NAT_INPUTS = ("--noise", "full_mask", "--src-embedding-copy")

register_student(CTCStudent("ctc", "CTC NAT (Libovický & Helcl 2018)", schedules={"cpu": CTC_CPU_SCHEDULE}))
register_student(CTCStudent("ctc-glat", "CTC NAT with glancing training (Gu & Kong 2021)",
                            schedules={"cpu": CTC_CPU_SCHEDULE}, glancing=True))
register_student(LevenshteinTaskStudent(
    "nat", "vanilla NAT (Gu et al. 2018)", "NATransformerModel", {"cpu": NAT_CPU_SCHEDULE},
    inputs=_NAT_INPUTS, initialization=("--apply-bert-init",)))
register_student(LevenshteinTaskStudent(
    "nat-glat", "vanilla NAT with glancing training (Qian et al. 2021)", "GlancingNATModel",
    arch="glancing_nat", glancing=True, inputs=_NAT_INPUTS, initialization=("--apply-bert-init",)))
# fairseq's BERT-style init (N(0, 0.02) everywhere) held CMLM at the unigram plateau: cpu preset, 1,000 updates,
# valid NLL 8.26 bits, test BLEU 0.07; fairseq's default init: 7.31, 0.46
register_student(IterativeStudent("cmlm", "mask-predict (Ghazvininejad et al. 2019)", "CMLMNATransformerModel",
                                  arch="cmlm_transformer", inputs=("--noise", "random_mask")))
register_student(DurationStudent("duration", "FastSpeech-style duration NAT (this project)"))
# the ctc schedule, as the one-pass student closest to it (an upsampled decoder, a loss over alignments)
register_student(DAGStudent("dat", "directed acyclic Transformer (Huang et al. 2022)",
                            schedules={"cpu": CTC_CPU_SCHEDULE}))
register_student(AutoregressiveStudent("ar", "AR student, deep encoder, one-layer decoder (Kasai et al. 2021)"))
