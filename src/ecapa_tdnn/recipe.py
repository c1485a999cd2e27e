"""ECAPA-TDNN speaker verification: what the shared engine needs to know about this model.

Training: random 2-3 s crops of VoxCeleb utterances, MUSAN/RIR augmentation, 80-dim fbank,
ECAPA-TDNN -> cosine classifier -> AAM-softmax. Evaluation: full-utterance embeddings of the trial
list's files (cached), cosine scores (optionally AS-norm), EER and minDCF, score file, DET curve.
"""
import inspect
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..engine.recipe import Recipe
from ..errors import ConfigError, DataError
from ..recipes import MODELS
from .loss import AamSoftmaxLoss, CosineClassifier
from .network import EcapaTdnn


@dataclass
class VoxCelebDataConfig:
    """``data`` section. Paths are as written by ``preprocess.py voxceleb`` / ``preprocess.py demo``."""
    train_manifest: str = ''         # train.csv: utt_id,path,num_samples,speaker
    speakers: str = ''               # speakers.json: speaker id -> class index
    trials: str = ''                 # VoxCeleb1 trial list (veri_test2.txt format)
    eval_audio_root: str = ''        # directory the trial list's paths are relative to
    sample_rate: int = 16000
    on_rate_mismatch: Literal['resample', 'error'] = 'resample'
    crop_seconds: tuple = (2.0, 3.0)  # training crop length range (one length per batch)
    crop_step_seconds: float = 0.1   # crop lengths are the low end plus multiples of this: each
    #                                  length is a compiled graph (2-3 s: 11); 0 = any sample count
    n_mels: int = 80
    musan: str = ''                  # MUSAN root ('' = no additive noise)
    rirs: str = ''                   # RIRS_NOISES root ('' = no reverberation)
    augment_prob: float = 0.6        # probability that an item gets one augmentation
    augment_kinds: tuple = ('noise', 'music', 'babble', 'reverb')


@dataclass
class VerificationEvalConfig:
    """``eval`` section."""
    extra_trials: tuple = ()          # more trial lists (e.g. Vox1-E list_test_all2.txt, Vox1-H)
    p_targets: tuple = (0.01, 0.05)   # minDCF operating points
    as_norm: bool = False             # adaptive score normalisation with a training-speaker cohort
    cohort_speakers: int = 1000       # cohort size (one mean embedding per training speaker)
    cohort_utterances: int = 3        # utterances averaged per cohort speaker
    top_k: int = 300                  # AS-norm: the k best cohort scores of each side
    max_seconds: float = 0.0          # crop evaluation audio to this length; 0 = full utterances
    # embeddings in batches padded to a few lengths (static graphs; padding changes nothing):
    batch_seconds: float = 60.0       # padded audio per batch; 0 = one utterance at a time through
    #                                   the dynamic-length graph (host-side shape work every call)
    bucket_ratio: float = 1.25        # padded lengths: a geometric grid from 1 s with this ratio
    bucket_max_seconds: float = 30.0  # longer utterances go one at a time (dynamic-length graph)
    batch_min_utterances: int = 200   # fewer files (per rank) go one at a time: compiling the batch
    #                                   graphs (seconds each on CPU) would cost more than it saves
    det_curve: bool = True
    baseline: bool = False            # also score the naive baseline (cosine of mean log-mel)


class SpeakerBatches:
    """Batches of a :class:`~src.ecapa_tdnn.dataset.VoxCelebTrainSet` with one crop length each.

    The crop length is drawn per batch (``VoxCelebTrainSet.draw_num_samples``: ``crop_seconds``
    in steps of ``crop_step_seconds``); an unreadable item is replaced by another random one and
    counted (the loader stops when too many are bad).
    """

    def __init__(self, items):
        self.items = items
        self.num_classes = items.num_classes

    def __len__(self):
        return len(self.items)

    def make_batch(self, indices, rng):
        num_samples = self.items.draw_num_samples(rng)
        feats, labels, bad = [], [], 0
        for index in indices:
            item = self.items.get(int(index), rng, num_samples=num_samples)
            tries = 0
            while item is None and tries < 20:
                bad, tries = bad + 1, tries + 1
                item = self.items.get(int(rng.integers(len(self.items))), rng, num_samples=num_samples)
            if item is None:
                raise DataError("20 unreadable training files in a row; check the training list")
            feats.append(item['feats'])
            labels.append(item['label'])
        return {'feats': np.stack(feats).astype(np.float32),
                'labels': np.asarray(labels, np.int32).reshape(-1, 1), '_bad': bad}


def _loss_net_class():
    from mindspore import nn

    class SpeakerLossNet(nn.Cell):
        """fbank -> embedding -> cosine logits -> AAM-softmax loss."""

        def __init__(self, network, head, loss):
            super().__init__()
            self.network, self.head, self.loss = network, head, loss

        def construct(self, feats, labels):
            embedding = self.network(feats)          # (batch, 1, lin_neurons)
            logits = self.head(embedding)            # (batch, 1, classes)
            return self.loss(logits, labels)

    return SpeakerLossNet


class EcapaRecipe(Recipe):
    data_schema = VoxCelebDataConfig
    eval_schema = VerificationEvalConfig
    batch_keys = ('feats', 'labels')
    best_metric = 'eer'
    best_mode = 'min'
    curve_metrics = ('eer', 'baseline_eer')
    tiny_args = {'channels': (16, 16, 16, 16, 48), 'attention_channels': 8, 'se_channels': 8,
                 'res2net_scale': 4, 'lin_neurons': 16}

    def example_batch(self, cfg, batch_size, rng, frames=60, num_classes=5):
        from types import SimpleNamespace
        feats = rng.standard_normal((batch_size, frames, cfg.data.n_mels)).astype(np.float32)
        labels = rng.integers(0, num_classes, (batch_size, 1)).astype(np.int32)
        return {'feats': feats, 'labels': labels}, SimpleNamespace(num_classes=num_classes)

    def load_pretrained(self, network, path):
        """A MindSpore checkpoint, or speechbrain's ``embedding_model.ckpt`` (torch) / its
        ``.npz`` (converted on the fly, strictly: every parameter must fit)."""
        from ..checkpoint import is_foreign_state, read_torch_state
        if not is_foreign_state(path):
            return super().load_pretrained(network, path)
        from .convert import convert_speechbrain_state, load_state_into
        load_state_into(network, convert_speechbrain_state(read_torch_state(path)))
        return []

    def fbank(self, cfg):
        from ..audio import Fbank
        return Fbank(sample_rate=cfg.data.sample_rate, n_mels=cfg.data.n_mels, mean_norm=True)

    def train_set(self, cfg):
        from ..audio import Augmenter
        from .dataset import VoxCelebTrainSet
        d = cfg.data
        for key in ('train_manifest', 'speakers'):
            if not getattr(d, key):
                raise ConfigError(f"data.{key} is empty: run `python preprocess.py voxceleb ...` "
                                  "(or `preprocess.py demo voxceleb`) and set it")
        if cfg.train.eval_every:
            # check the evaluation data now, not after the first epoch
            from .dataset import read_trials
            if not d.trials:
                raise ConfigError("data.trials is empty but train.eval_every > 0: set a trial list "
                                  "or train.eval_every=0")
            for path in (d.trials, *cfg.eval.extra_trials):
                read_trials(path, d.eval_audio_root, check_files=True)
        augmenter = None
        if d.musan or d.rirs:
            kinds = tuple(k for k in d.augment_kinds if (k == 'reverb' and d.rirs) or (k != 'reverb' and d.musan))
            augmenter = Augmenter(musan_root=d.musan or None, rir_root=d.rirs or None,
                                  sample_rate=d.sample_rate, prob=d.augment_prob, kinds=kinds)
        items = VoxCelebTrainSet(d.train_manifest, d.speakers, crop_seconds=tuple(d.crop_seconds),
                                 sample_rate=d.sample_rate, augmenter=augmenter, fbank=self.fbank(cfg),
                                 max_bad_fraction=cfg.train.max_bad_fraction,
                                 crop_step_seconds=d.crop_step_seconds)
        return SpeakerBatches(items)

    def build_loss_net(self, network, cfg, train_set):
        size = cfg.model.args.get(
            'lin_neurons', inspect.signature(self.network_factory).parameters['lin_neurons'].default)
        head = CosineClassifier(size, train_set.num_classes)
        return _loss_net_class()(network, head, self.loss_factory(**cfg.loss))

    # --------------------------------------------------------------------------- evaluation
    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', rank=0, world=1):
        from .evaluate import evaluate_verification
        return evaluate_verification(self, network, cfg, out_dir, progress=progress, cache_key=cache_key,
                                     rank=rank, world=world)

    def format_metrics(self, metrics):
        """The published zoo's line (``EER = x.xx%``) and the minDCF values."""
        lines = [f"EER = {metrics['eer']:.2f}%"]
        if 'baseline_eer' in metrics:
            lines[0] += f"  (naive baseline, cosine of mean log-mel: EER = {metrics['baseline_eer']:.2f}%)"
        lines += [f"{k} = {v:.4f}" for k, v in metrics.items() if k.startswith('min_dcf')]
        lines += [f"{k} = {v:.2f}%" for k, v in metrics.items() if k.endswith('.eer')]
        return '\n'.join(lines)

    def write_inference_inputs(self, cfg, out_dir, progress=True):
        from .evaluate import write_inference_inputs
        return write_inference_inputs(self, cfg, out_dir, progress)

    def score_inference_outputs(self, cfg, input_dir, result_dir):
        from .evaluate import score_inference_outputs
        size = cfg.model.args.get(
            'lin_neurons', inspect.signature(self.network_factory).parameters['lin_neurons'].default)
        return score_inference_outputs(self, cfg, input_dir, result_dir, size)

    def export_inputs(self, cfg, length=None):
        import mindspore as ms
        if length:
            return [ms.Tensor(np.zeros((1, length, cfg.data.n_mels), np.float32))]
        return [ms.Tensor(shape=[None, None, cfg.data.n_mels], dtype=ms.float32)]

    def input_length(self, cfg, seconds):
        samples = int(round(seconds * cfg.data.sample_rate))
        if samples < 1:
            return 0
        return int(self.fbank(cfg)(np.zeros(samples, np.float32)).shape[0])

    def sidecar(self, cfg):
        return {'model': cfg.model.name, 'input': 'fbank (batch, frames, n_mels), float32',
                'output': 'embedding (batch, 1, lin_neurons)', 'sample_rate': cfg.data.sample_rate,
                'features': self.fbank(cfg).to_dict(), 'scoring': 'cosine'}


def ecapa_tdnn_c512(**kwargs):
    """ECAPA-TDNN with C=512 (channels 512 x 4 + 1536), the paper's small model."""
    kwargs.setdefault('channels', (512, 512, 512, 512, 1536))
    return EcapaTdnn(**kwargs)


ecapa_tdnn_c512.__signature__ = inspect.signature(EcapaTdnn)

# EcapaTdnn's defaults are the paper's C=1024 model with a 192-dim embedding.
MODELS.register('ecapa_tdnn', EcapaRecipe(EcapaTdnn, AamSoftmaxLoss))
MODELS.register('ecapa_tdnn_c512', EcapaRecipe(ecapa_tdnn_c512, AamSoftmaxLoss))
