"""fairseq task ``translation_multi_reference``: translation data with several targets per training source.

For diverse distillation with reference selection (Shao, Wu & Feng 2022; :mod:`nat.selection`): the corpus's
own train targets are the first reference, and each directory of ``--extra-targets`` holds another
(``train.src-tgt.tgt``, binarized with the same dictionary from the same sources in the same order, as
``seqkd-distill diverse`` writes it under ``bin/<column>/``). Training batches carry all of them as
``sample["references"]`` (k right-padded [batch, length] tensors, the first equal to ``sample["target"]``);
valid and test keep their one target. Batches are sized by the first reference.
"""
from dataclasses import dataclass, field

import torch
from fairseq.data import BaseWrapperDataset, data_utils
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask


class MultiReferenceDataset(BaseWrapperDataset):
    def __init__(self, dataset, extras: list, pad: int, eos: int):
        super().__init__(dataset)
        self.extras, self.pad, self.eos = extras, pad, eos

    def __getitem__(self, index):
        item = self.dataset[index]
        item["references"] = [item["target"], *(extra[index] for extra in self.extras)]
        return item

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if not batch:
            return batch
        by_id = {int(s["id"]): s["references"] for s in samples}
        ordered = [by_id[int(i)] for i in batch["id"]]
        batch["references"] = [data_utils.collate_tokens([refs[k] for refs in ordered], self.pad, self.eos)
                               for k in range(len(ordered[0]))]
        return batch


@dataclass
class MultiReferenceConfig(TranslationConfig):
    extra_targets: str = field(default="", metadata={
        "help": "comma-separated data directories, each with train.src-tgt.{src,tgt}: further targets of the "
                "same training sources"})


@register_task("translation_multi_reference", dataclass=MultiReferenceConfig)
class MultiReferenceTask(TranslationTask):
    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        if split != "train" or not self.cfg.extra_targets:
            return
        dataset = self.datasets[split]
        src, tgt = self.cfg.source_lang, self.cfg.target_lang
        extras = []
        for directory in self.cfg.extra_targets.split(","):
            prefix = f"{directory}/train.{src}-{tgt}."
            sources = data_utils.load_indexed_dataset(prefix + src, self.src_dict, self.cfg.dataset_impl)
            targets = data_utils.load_indexed_dataset(prefix + tgt, self.tgt_dict, self.cfg.dataset_impl)
            if sources is None or targets is None:
                raise FileNotFoundError(f"{prefix}{{{src},{tgt}}}.bin: not found (--extra-targets)")
            if len(targets) != len(dataset) or not all(torch.equal(sources[i], dataset.src[i])
                                                       for i in range(len(dataset))):
                raise ValueError(f"{directory}: its training sources are not this corpus's, line for line; "
                                 "build the references with seqkd-distill diverse")
            extras.append(targets)
        self.datasets[split] = MultiReferenceDataset(dataset, extras, self.tgt_dict.pad(), self.tgt_dict.eos())
