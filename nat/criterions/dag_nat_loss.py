"""Loss of the DA-Transformer student (Huang et al. 2022): minus the log of the sum over every path of its graph
that writes the target (:func:`nat.dag.dag_log_likelihood`), optionally with glancing on the best path.

The target is the reference with ``<s>`` before it and its ``</s>``: a path starts at the first vertex and ends at
the last. A pair with more target tokens than vertices has no path; it gets zero loss and is counted as
``unaligned`` in the training log, as ``ctc_nat_loss`` counts its pairs that cannot be aligned.

Glancing (as in the paper): a first, gradient-free pass finds each target token's vertex on the most probable
path (:func:`nat.dag.dag_best_alignment`); the more of those vertices write the wrong token, the more of them
(``ratio`` x the wrong ones, at random, :func:`nat.glancing.glance_positions`) get the target token's embedding
as their decoder input in the second pass, whose loss trains the model.
"""
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..dag import dag_best_alignment, dag_log_likelihood, feasible
from ..glancing import annealed_ratio, glance_positions
from .ctc_nat_loss import CTCNATLoss


@dataclass
class DAGNATLossConfig(FairseqDataclass):
    glance_start: float = field(default=0.0, metadata={"help": "glancing ratio at the first update (0: no glancing)"})
    glance_end: float = field(default=0.0, metadata={"help": "glancing ratio at the last update (linear annealing)"})
    glance_updates: int = field(default=1, metadata={"help": "updates over which the ratio is annealed"})


def dag_targets(target: torch.Tensor, pad: int, bos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """fairseq targets (right-padded, ending in </s>) -> ``<s>`` + target [batch, M + 1] and their lengths."""
    with_bos = torch.cat([target.new_full((target.size(0), 1), bos), target], dim=1)
    return with_bos, with_bos.ne(pad).sum(1)


def glanced_inputs(alignment: torch.Tensor, wrong: torch.Tensor, targets: torch.Tensor, vertices: int, ratio: float,
                   pad: int) -> tuple[torch.Tensor, int]:
    """Decoder inputs [batch, vertices] that show target tokens (pad: not glanced), and how many were glanced.

    ``alignment`` [batch, M]: each target token's vertex (-1: none); ``wrong`` [batch, M]: whether that vertex
    writes another token."""
    chosen = glance_positions(wrong, alignment.ge(0), ratio)
    glanced = targets.new_full((targets.size(0), vertices + 1), pad)  # the last column takes what is not chosen
    glanced.scatter_(1, alignment.masked_fill(~chosen, vertices), targets.masked_fill(~chosen, pad))
    return glanced[:, :vertices], int(chosen.sum())


@register_criterion("dag_nat_loss", dataclass=DAGNATLossConfig)
class DAGNATLoss(FairseqCriterion):
    def __init__(self, task, glance_start, glance_end, glance_updates):
        super().__init__(task)
        self.glance_start, self.glance_end, self.glance_updates = glance_start, glance_end, glance_updates
        self.update = 0

    def set_num_updates(self, num_updates):
        self.update = num_updates

    def glancing_ratio(self) -> float:
        return annealed_ratio(self.glance_start, self.glance_end, self.update, self.glance_updates)

    @staticmethod
    def emissions(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(target token i | vertex v) [batch, vertices, M]. (Logits at the targets minus a logsumexp over the
        vocabulary, which writes no [batch, vertices, vocabulary] tensor, measured slower on a CPU.)"""
        lprobs = F.log_softmax(logits.float(), dim=-1)
        return lprobs.gather(2, targets.unsqueeze(1).expand(-1, lprobs.size(1), -1))

    def forward(self, model, sample, reduce=True):
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        if bool(src_tokens[:, 0].eq(self.padding_idx).any()):
            raise RuntimeError("dag_nat needs right-padded sources (fairseq's --left-pad-source flag)")
        targets, target_lengths = dag_targets(sample["target"], self.padding_idx, model.dictionary.bos())
        encoder_out = model.encode(src_tokens, src_lengths)
        glanced_tokens, glanced = None, 0
        ratio = self.glancing_ratio() if model.training else 0.0
        if ratio > 0:
            with torch.no_grad():
                logits, links, padding_mask = model.decode_graph(encoder_out, src_tokens)
                alignment = dag_best_alignment(self.emissions(logits, targets), links, (~padding_mask).sum(1),
                                               target_lengths)
                aligned = alignment.clamp(min=0)  # each target token's vertex: what it writes there (argmax)
                written = logits.gather(1, aligned.unsqueeze(-1).expand(-1, -1, logits.size(-1))).argmax(-1)
                glanced_tokens, glanced = glanced_inputs(alignment, written.ne(targets), targets, logits.size(1),
                                                         ratio, self.padding_idx)
        logits, links, padding_mask = model.decode_graph(encoder_out, src_tokens, glanced_tokens)
        vertex_lengths = (~padding_mask).sum(1)
        fits = feasible(vertex_lengths, target_lengths)
        log_likelihood = dag_log_likelihood(self.emissions(logits, targets), links, vertex_lengths, target_lengths)
        loss = -log_likelihood.masked_fill(~fits, 0).sum()
        ntokens = int(sample["target"].ne(self.padding_idx).sum())  # fairseq's count: the reference and </s>
        logging_output = {"loss": loss.data, "nll_loss": loss.data, "ntokens": ntokens,
                          "nsentences": targets.size(0), "sample_size": ntokens, "unaligned": int((~fits).sum()),
                          "glanced": glanced, "positions": int(vertex_lengths.sum())}
        return loss, ntokens, logging_output

    reduce_metrics = staticmethod(CTCNATLoss.reduce_metrics)  # the same log: loss, unaligned pairs, glanced share

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
