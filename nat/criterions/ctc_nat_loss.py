"""Loss of the CTC NAT: CTC over the upsampled positions, optionally with glancing training.

Targets are the reference without ``</s>``. A pair whose target cannot be aligned to its
upsampled source (too few positions for its tokens and repeats) gets zero loss
(``zero_infinity``) and is counted as ``unaligned`` in the training log, never silently.

With ``--reference-selection-updates N`` and training batches that carry several references
(task ``translation_multi_reference``), the loss is :func:`nat.selection.reference_selection_loss`
over them, annealed from their mean to the best-fitting one over N updates (DDRS, Shao et al.
2022); the log's ``first_reference`` is the share of sentences whose best fit is the first.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..glancing import annealed_ratio, ctc_best_alignment, glance_positions
from ..selection import alignable, reference_selection_loss


@dataclass
class CTCNATLossConfig(FairseqDataclass):
    glance_start: float = field(default=0.0, metadata={"help": "glancing ratio at the first update (0: no glancing)"})
    glance_end: float = field(default=0.0, metadata={"help": "glancing ratio at the last update (linear annealing)"})
    glance_updates: int = field(default=1, metadata={"help": "updates over which the ratio is annealed"})
    reference_selection_updates: int = field(default=0, metadata={
        "help": "with several references per sentence: updates over which the loss goes from their mean to the "
                "best-fitting one (0: train on the first reference only)"})


def ctc_targets(target: torch.Tensor, pad: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """fairseq targets (right-padded, ending in </s>) -> CTC labels (pad-filled) and their lengths."""
    labels = target.masked_fill(target.eq(eos), pad)
    return labels, labels.ne(pad).sum(1)


@register_criterion("ctc_nat_loss", dataclass=CTCNATLossConfig)
class CTCNATLoss(FairseqCriterion):
    def __init__(self, task, glance_start, glance_end, glance_updates, reference_selection_updates=0):
        super().__init__(task)
        self.glance_start, self.glance_end, self.glance_updates = glance_start, glance_end, glance_updates
        self.reference_selection_updates = reference_selection_updates
        if reference_selection_updates and (glance_start or glance_end):
            raise ValueError("--reference-selection-updates with glancing: choose one (glancing needs one target)")
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
        if model.training and self.reference_selection_updates and "references" in sample:
            return self._selection(model, lprobs, input_lengths, sample["references"])
        losses = self._ctc_losses(model, lprobs, input_lengths, labels, label_lengths)
        unaligned = int((~alignable(losses, label_lengths)).sum())
        loss = losses.sum()
        ntokens = int(label_lengths.sum())
        logging_output = {"loss": loss.data, "nll_loss": loss.data, "ntokens": ntokens, "nsentences": labels.size(0),
                          "sample_size": ntokens, "unaligned": unaligned, "glanced": glanced,
                          "positions": int(input_lengths.sum())}
        return loss, ntokens, logging_output

    @staticmethod
    def _ctc_losses(model, lprobs, input_lengths, labels, label_lengths):
        """Each sentence's CTC loss against its labels (:func:`ctc_targets`); 0 where they cannot be aligned."""
        return F.ctc_loss(lprobs.transpose(0, 1), labels, input_lengths, label_lengths, blank=model.blank,
                          reduction="none", zero_infinity=True)

    def _selection(self, model, lprobs, input_lengths, references):
        """The reference-selection loss over every reference of the batch (one decoder pass for all)."""
        targets = [ctc_targets(reference, self.padding_idx, model.dictionary.eos()) for reference in references]
        losses = [self._ctc_losses(model, lprobs, input_lengths, labels, lengths) for labels, lengths in targets]
        selection = reference_selection_loss(torch.stack(losses), torch.stack([lengths for _, lengths in targets]),
                                             self.update / self.reference_selection_updates)
        ntokens = float(selection.sample_size)
        logging_output = {"loss": selection.loss.data, "nll_loss": selection.loss.data, "ntokens": ntokens,
                          "nsentences": lprobs.size(0), "sample_size": ntokens, "unaligned": selection.unaligned,
                          "glanced": 0, "positions": int(input_lengths.sum()),
                          "first_reference": int(selection.chosen.eq(0).sum()),
                          "selected": int(selection.chosen.ge(0).sum())}
        return selection.loss, ntokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = lambda key: sum(log.get(key, 0) for log in logging_outputs)  # noqa: E731
        ntokens = total("ntokens")
        metrics.log_scalar("loss", total("loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar_sum("unaligned", total("unaligned"), round=0)  # pairs given zero loss
        metrics.log_scalar("glanced", total("glanced") / max(total("positions"), 1), total("positions"), round=3)
        if total("selected"):
            metrics.log_scalar("first_reference", total("first_reference") / total("selected"), total("selected"),
                               round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
