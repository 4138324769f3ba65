"""Shrink and fine-tune (distill/shrink.py): which layers a student keeps, and that it keeps them exactly."""
import pytest
import torch

from distill.io import InputError
from distill.shrink import shrink_state, spaced_layers

# teacher depth, student depth -> the teacher layers kept (Shleifer & Rush's table where it has the pair)
SPACING = [((12, 3), [0, 6, 11]), ((12, 6), [0, 2, 4, 7, 9, 11]), ((6, 3), [0, 2, 5]), ((16, 4), [0, 5, 10, 15]),
           ((4, 2), [0, 3]), ((4, 3), [0, 2, 3]), ((3, 1), [0]), ((2, 2), [0, 1]), ((8, 3), [0, 4, 7])]


@pytest.mark.parametrize("depths, expected", SPACING)
def test_the_layers_a_shrunk_student_keeps(depths, expected):
    assert spaced_layers(*depths) == expected


def test_a_student_deeper_than_its_teacher_is_refused():
    with pytest.raises(InputError, match="choose 1 to 2"):
        spaced_layers(2, 3)


def test_the_copied_layers_are_the_teachers_and_the_rest_is_unchanged():
    torch.manual_seed(0)
    teacher = {"encoder.embed_tokens.weight": torch.randn(5, 4), "encoder.layers.0.fc1.weight": torch.randn(4, 4),
               "decoder.output_projection.weight": torch.randn(5, 4)}
    for layer in range(6):
        teacher[f"decoder.layers.{layer}.fc1.weight"] = torch.randn(4, 4)
        teacher[f"decoder.layers.{layer}.self_attn.k_proj.bias"] = torch.randn(4)
    student = shrink_state(teacher, [0, 2, 5])
    assert sorted(k for k in student if k.startswith("decoder.layers.")) == sorted(
        f"decoder.layers.{i}.{p}" for i in range(3) for p in ("fc1.weight", "self_attn.k_proj.bias"))
    for new, old in enumerate([0, 2, 5]):
        for part in ("fc1.weight", "self_attn.k_proj.bias"):
            assert torch.equal(student[f"decoder.layers.{new}.{part}"], teacher[f"decoder.layers.{old}.{part}"])
    for name in ("encoder.embed_tokens.weight", "encoder.layers.0.fc1.weight", "decoder.output_projection.weight"):
        assert torch.equal(student[name], teacher[name])
