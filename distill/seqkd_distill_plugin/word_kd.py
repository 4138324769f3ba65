"""Word-level knowledge distillation (Kim & Rush 2016, eq. 4-5) for autoregressive students.

loss = (1 - kd_alpha) * label-smoothed NLL(gold)  +  kd_alpha * sum_t KL(p_teacher(.|y<t,x) || p_student(.|y<t,x))

The teacher is a fairseq checkpoint with the same dictionary, run under teacher forcing
on the same batch. Its parameters are frozen (fairseq hands criterion parameters to the
optimizer, so they must not require gradients). Use with
``seqkd-distill train-teacher --word-kd-teacher T`` (fairseq: ``--criterion word_kd --teacher-checkpoint T.pt
--kd-alpha 0.5`` with this ``--user-dir``).
(No ``from __future__ import annotations`` here: fairseq needs real types on config fields.)
"""

import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)

from distill.kd import kl_to_teacher, word_kd_loss


@dataclass
class WordKDConfig(LabelSmoothedCrossEntropyCriterionConfig):
    teacher_checkpoint: str = field(default="",
                                    metadata={"help": "fairseq checkpoint of the AR teacher (trusted file)"})
    kd_alpha: float = field(default=0.5, metadata={"help": "weight of the KL-to-teacher term; 0 = plain NLL"})
    kd_temperature: float = field(default=1.0, metadata={"help": "softmax temperature for teacher and student"})


@register_criterion("word_kd", dataclass=WordKDConfig)
class WordKDCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, teacher_checkpoint, kd_alpha, kd_temperature,
                 ignore_prefix_size=0, report_accuracy=False):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if not teacher_checkpoint:
            raise ValueError("--criterion word_kd needs --teacher-checkpoint")
        from fairseq import checkpoint_utils

        models, _ = checkpoint_utils.load_model_ensemble([teacher_checkpoint], task=task)
        self.teacher = models[0].eval()
        self.teacher.requires_grad_(False)
        self.kd_alpha, self.kd_temperature = kd_alpha, kd_temperature

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # never dropout in the teacher
        return self

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        nll_part, nll_loss = self.compute_loss(model, net_output, sample, reduce=reduce)
        with torch.no_grad():
            teacher_logits = self.teacher(**sample["net_input"])[0].float()
        kl = kl_to_teacher(net_output[0], teacher_logits, sample["target"].eq(self.padding_idx), self.kd_temperature)
        kl = kl.sum() if reduce else kl.view(-1)
        loss = word_kd_loss(nll_part, kl, self.kd_alpha, self.kd_temperature)
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {"loss": loss.data, "nll_loss": nll_loss.data, "kd_loss": kl.data,
                          "ntokens": sample["ntokens"], "nsentences": sample["target"].size(0),
                          "sample_size": sample_size}
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        kd_sum = sum(log.get("kd_loss", 0) for log in logging_outputs)
        ntokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        metrics.log_scalar("kd_loss", kd_sum / max(ntokens, 1) / math.log(2), ntokens, round=3)
