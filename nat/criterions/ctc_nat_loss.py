"""Loss of the CTC NAT: CTC over the upsampled positions, optionally with glancing training.

Targets are the reference without ``</s>``. A pair whose target cannot be aligned to its
upsampled source (too few positions for its tokens and repeats) gets zero loss
(``zero_infinity``) and is counted as ``unaligned`` in the training log, never silently.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..glancing import annealed_ratio, ctc_best_alignment, glance_positions


@dataclass
class CTCNATLossConfig(FairseqDataclass):
    glance_start: float = field(default=0.0, metadata={"help": "glancing ratio at the first update (0: no glancing)"})
    glance_end: float = field(default=0.0, metadata={"help": "glancing ratio at the last update (linear annealing)"})
    glance_updates: int = field(default=1, metadata={"help": "updates over which the ratio is annealed"})


def ctc_targets(target: torch.Tensor, pad: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """fairseq targets (right-padded, ending in </s>) -> CTC labels (pad-filled) and their lengths."""
    labels = target.masked_fill(target.eq(eos), pad)
    return labels, labels.ne(pad).sum(1)


@register_criterion("ctc_nat_loss", dataclass=CTCNATLossConfig)
class CTCNATLoss(FairseqCriterion):
    def __init__(self, task, glance_start, glance_end, glance_updates):
        super().__init__(task)
        self.glance_start, self.glance_end, self.glance_updates = glance_start, glance_end, glance_updates
        self.update = 0

    def set_num_updates(self, num_updates):
        self.update = num_updates

    def glancing_ratio(self) -> float:
        return annealed_ratio(self.glance_start, self.glance_end, self.update, self.glance_updates)

    def forward(self, model, sample, reduce=True):
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        if bool(src_tokens[:, 0].eq(self.padding_idx).any()):
            raise RuntimeError("ctc_nat needs right-padded sources (fairseq's --left-pad-source flag)")
        eos = model.dictionary.eos()
        labels, label_lengths = ctc_targets(sample["target"], self.padding_idx, eos)
        encoder_out = model.encode(src_tokens, src_lengths)
        glanced_tokens, glanced = None, 0
        ratio = self.glancing_ratio() if model.training else 0.0
        if ratio > 0:
            with torch.no_grad():
                logits, padding_mask = model.decode(encoder_out, src_tokens)
                lprobs = F.log_softmax(logits.float(), dim=-1)
                path, feasible = ctc_best_alignment(lprobs, (~padding_mask).sum(1), labels, label_lengths,
                                                    model.blank)
                valid = ~padding_mask & feasible.unsqueeze(1)
                chosen = glance_positions(lprobs.argmax(-1).ne(path), valid, ratio)
                glanced_tokens = path.masked_fill(~chosen, self.padding_idx)
                glanced = int(chosen.sum())
        logits, padding_mask = model.decode(encoder_out, src_tokens, glanced_tokens)
        lprobs = F.log_softmax(logits.float(), dim=-1)
        input_lengths = (~padding_mask).sum(1)
        losses = F.ctc_loss(lprobs.transpose(0, 1), labels, input_lengths, label_lengths, blank=model.blank,
                            reduction="none", zero_infinity=True)
        unaligned = int(losses.eq(0).logical_and(label_lengths > 0).sum())
        loss = losses.sum()
        ntokens = int(label_lengths.sum())
        logging_output = {"loss": loss.data, "nll_loss": loss.data, "ntokens": ntokens, "nsentences": labels.size(0),
                          "sample_size": ntokens, "unaligned": unaligned, "glanced": glanced,
                          "positions": int(input_lengths.sum())}
        return loss, ntokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = lambda key: sum(log.get(key, 0) for log in logging_outputs)  # noqa: E731
        ntokens = total("ntokens")
        metrics.log_scalar("loss", total("loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar_sum("unaligned", total("unaligned"), round=0)  # pairs given zero loss
        metrics.log_scalar("glanced", total("glanced") / max(total("positions"), 1), total("positions"), round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
