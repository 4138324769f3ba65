"""Training precision: the choice (table of cases), its place in a run's identity, the launcher's autocast,
and a bf16 student that still learns."""
import json

import pytest
import torch

from distill import precision as precision_module
from distill.io import InputError, config_hash
from distill.precision import choose_precision

# requested, device, the preset's precision, the CPU's bf16 feature -> the precision chosen
CHOICES = [
    (None, "cpu", None, "AMX", "bf16"),
    (None, "cpu", None, "AVX512-BF16", "bf16"),
    (None, "cpu", None, None, "fp32"),
    (None, "cpu", "fp16", "AMX", "bf16"),     # a GPU preset run on a CPU: fp16 does not apply there
    (None, "cpu", "fp32", "AMX", "fp32"),     # the tiny and quick presets
    (None, "cuda", "fp16", None, "fp16"),     # the GPU presets, as before
    (None, "cuda", None, "AMX", "fp32"),      # the CPU presets on a GPU, as before
    ("fp32", "cpu", None, "AMX", "fp32"),
    ("bf16", "cpu", None, None, "bf16"),      # forced on a CPU without it: allowed, and the reason says so
    ("bf16", "cuda", "fp16", None, "bf16"),
]


@pytest.mark.parametrize("requested, device, preset, feature, expected", CHOICES)
def test_the_precision_chosen_for_each_device_cpu_and_request(requested, device, preset, feature, expected,
                                                              monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_bf16_feature", lambda: feature)
    chosen = choose_precision(requested, device, preset)
    assert chosen.name == expected and chosen.autocast == (expected == "bf16")
    if requested is None and device == "cpu" and preset != "fp32":
        assert (feature or "neither AMX nor AVX512-BF16") in chosen.reason
    if requested == "bf16" and feature is None and device == "cpu":
        assert "emulated" in chosen.reason


def test_fp16_on_a_cpu_and_unknown_precisions_are_one_line_errors():
    with pytest.raises(InputError, match="fp16 is fairseq's CUDA mixed precision"):
        choose_precision("fp16", "cpu")
    with pytest.raises(InputError, match="choose one of fp32, bf16, fp16"):
        choose_precision("fp8", "cpu")


def test_the_cpu_feature_is_what_torch_reports(monkeypatch):
    """A CPU without bf16 (simulated where torch reports it) gets fp32 by default, and the log line says why."""
    for probe, value in (("_is_amx_tile_supported", False), ("_is_avx512_bf16_supported", False)):
        monkeypatch.setattr(torch.cpu, probe, lambda value=value: value)
    precision_module.cpu_bf16_feature.cache_clear()
    try:
        assert precision_module.cpu_bf16_feature() is None
        chosen = choose_precision(None, "cpu")
        assert chosen.log_line("teacher") == (
            "teacher: precision fp32 (this CPU has neither AMX nor AVX512-BF16 (as torch reports it), and emulated "
            "bfloat16 is slower; --precision bf16 to force it)")
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
        precision_module.cpu_bf16_feature.cache_clear()
        assert precision_module.cpu_bf16_feature() == "AVX512-BF16"
    finally:
        monkeypatch.undo()
        precision_module.cpu_bf16_feature.cache_clear()


def _finished_run(run_dir, config: dict):
    """A run directory as train_run leaves it, without training: its manifest (and a checkpoint)."""
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "checkpoint_best.pt").write_bytes(b"")
    (run_dir / "manifest.json").write_text(json.dumps({**config, "config_hash": config_hash(config),
                                                       "checkpoint": "checkpoints/checkpoint_best.pt"}))


def test_a_bf16_run_never_reuses_an_fp32_one_and_a_run_of_another_config_version_is_another_run(tmp_path):
    from distill.engine import RUN_CONFIG_VERSION, RunConfig, train_run

    def never(save_dir):
        raise AssertionError("nothing should be trained")

    fp32 = RunConfig(kind="teacher", corpus_hash="c0ffee", preset="tiny", settings={"size": "tiny"}, model={},
                     seed=1, device="cpu", precision="fp32")
    bf16 = RunConfig(**{**fp32.to_json(), "precision": "bf16"})
    assert fp32.identity != bf16.identity and fp32.to_json()["version"] == RUN_CONFIG_VERSION

    new = tmp_path / "new"
    _finished_run(new, fp32.to_json())
    assert train_run(new, fp32, never)["precision"] == "fp32"  # found and skipped
    with pytest.raises(InputError, match=r"holds a different run \(precision: fp32 there, bf16 here\)"):
        train_run(new, bf16, never)

    old = tmp_path / "old"  # made before configs had a version: another run, made again rather than guessed at
    _finished_run(old, {key: value for key, value in fp32.to_json().items() if key != "version"})
    with pytest.raises(InputError, match=rf"holds a different run \(version: None there, {RUN_CONFIG_VERSION} here\)"):
        train_run(old, fp32, never)


def test_the_launcher_runs_every_criterion_call_under_bf16_autocast(monkeypatch):
    from fairseq.criterions import FairseqCriterion

    from distill.fairseq_train import install_autocast

    class Product(FairseqCriterion):
        def forward(self, a, b):
            return a @ b

    import torch.nn.functional as F

    monkeypatch.setattr(FairseqCriterion, "__call__", FairseqCriterion.__call__)  # restored after the test
    monkeypatch.setattr(F, "scaled_dot_product_attention", F.scaled_dot_product_attention)
    criterion = Product(task=None)
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    assert criterion(a, b).dtype == torch.float32
    install_autocast("cpu")
    install_autocast("cpu")  # idempotent: one autocast, not two nested
    product = criterion(a, b)
    assert product.dtype == torch.bfloat16 and torch.allclose(product.float(), a @ b, atol=0.1, rtol=0.05)
    assert a.dtype == torch.float32  # the inputs (and so the parameters) keep their dtype
    q, k, v = (torch.randn(1, 2, 5, 4) for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the attention core in float32, its output as the query
        attended = F.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert attended.dtype == torch.bfloat16
    assert torch.allclose(attended.float(), F.scaled_dot_product_attention(q.bfloat16().float(), k.bfloat16().float(),
                                                                           v.bfloat16().float()), atol=1e-2)
    assert F.scaled_dot_product_attention(q, k, v).dtype == torch.float32  # outside autocast: as before


def test_fairseq_tools_go_through_the_launcher_and_only_training_takes_bf16():
    from distill.engine import fairseq_command

    assert fairseq_command("train", ["x"])[1:] == ["-m", "distill.fairseq_tool", "train", "x"]
    assert fairseq_command("train", ["x"], "plugin", "bf16")[1:] == [
        "-m", "distill.fairseq_tool", "train", "--precision", "bf16", "--user-dir", "plugin", "x"]
    assert fairseq_command("preprocess", ["x"])[1:] == ["-m", "distill.fairseq_tool", "preprocess", "x"]
    with pytest.raises(ValueError):
        fairseq_command("generate", ["x"], precision="bf16")
