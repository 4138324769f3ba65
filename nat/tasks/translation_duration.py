"""fairseq task ``translation_duration``: translation data plus per-source-token durations.

Durations (see :mod:`nat.durations`) are read from ``--durations-dir`` for train and
valid and collated into ``net_input["durations"]`` with the same padding layout as
``src_tokens``. Test/inference data need none.
"""
from dataclasses import dataclass, field

import torch
from fairseq.data import BaseWrapperDataset, data_utils
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask

from ..durations import SPLITS, read_durations


class DurationDataset(BaseWrapperDataset):
    def __init__(self, dataset, durations, left_pad_source: bool):
        super().__init__(dataset)
        self.durations = durations
        self.left_pad_source = left_pad_source

    def __getitem__(self, index):
        item = self.dataset[index]
        item["durations"] = torch.tensor(self.durations[index], dtype=torch.long)
        return item

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if not batch:
            return batch
        by_id = {int(s["id"]): s["durations"] for s in samples}
        ordered = [by_id[int(i)] for i in batch["id"]]
        batch["net_input"]["durations"] = data_utils.collate_tokens(ordered, 0, left_pad=self.left_pad_source)
        return batch


@dataclass
class TranslationDurationConfig(TranslationConfig):
    durations_dir: str = field(default="", metadata={"help": "directory with {train,valid}.dur (nat.durations)"})


@register_task("translation_duration", dataclass=TranslationDurationConfig)
class TranslationDurationTask(TranslationTask):
    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        if split in SPLITS and self.cfg.durations_dir:
            dataset = self.datasets[split]
            lengths = [int(n) for n in dataset.src_sizes]
            durations = read_durations(f"{self.cfg.durations_dir}/{split}.dur", lengths)
            for number, (values, target_len) in enumerate(zip(durations, dataset.tgt_sizes), start=1):
                if sum(values) != int(target_len):
                    raise ValueError(f"{self.cfg.durations_dir}/{split}.dur:{number}: durations sum to {sum(values)}, "
                                     f"target has {int(target_len)} tokens; recompute the durations")
            self.datasets[split] = DurationDataset(dataset, durations, self.cfg.left_pad_source)
