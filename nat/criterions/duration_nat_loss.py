"""Loss of the duration NAT: label-smoothed token NLL + MSE on log(duration + 1)."""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from fairseq.dataclass import FairseqDataclass


@dataclass
class DurationNATLossConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.1, metadata={"help": "epsilon for label smoothing"})
    duration_loss_factor: float = field(default=1.0, metadata={"help": "weight of the duration MSE"})


@register_criterion("duration_nat_loss", dataclass=DurationNATLossConfig)
class DurationNATLoss(FairseqCriterion):
    def __init__(self, task, label_smoothing, duration_loss_factor):
        super().__init__(task)
        self.eps = label_smoothing
        self.duration_loss_factor = duration_loss_factor

    def forward(self, model, sample, reduce=True):
        output = model(**sample["net_input"])
        target = sample["target"]
        logits = output["logits"][:, : target.size(1)]
        if logits.size(1) != target.size(1):
            raise RuntimeError("durations do not sum to the target length; recompute them")
        lprobs = F.log_softmax(logits.float(), dim=-1)
        token_loss, nll_loss = label_smoothed_nll_loss(lprobs.view(-1, lprobs.size(-1)), target.view(-1), self.eps,
                                                       ignore_index=self.padding_idx, reduce=True)
        gold = torch.log1p(sample["net_input"]["durations"].float())
        keep = ~output["source_padding_mask"]
        duration_loss = F.mse_loss(output["log_durations"].float()[keep], gold[keep], reduction="sum")
        ntokens = sample["ntokens"]
        nsource = int(keep.sum())
        # token loss is summed over target tokens; duration loss is rescaled to the same denominator
        loss = token_loss + self.duration_loss_factor * duration_loss * ntokens / max(nsource, 1)
        logging_output = {"loss": loss.data, "nll_loss": nll_loss.data, "duration_loss": duration_loss.data,
                          "nsource": nsource, "ntokens": ntokens, "nsentences": target.size(0), "sample_size": ntokens}
        return loss, ntokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = lambda key: sum(log.get(key, 0) for log in logging_outputs)  # noqa: E731
        sample_size, ntokens = total("sample_size"), total("ntokens")
        metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / ntokens / math.log(2), ntokens, round=3)
        metrics.log_scalar("duration_loss", total("duration_loss") / max(total("nsource"), 1), total("nsource"),
                           round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
