"""ECAPA-TDNN speaker verification: what the shared engine needs to know about this model.

Training: random 2-3 s crops of VoxCeleb utterances, MUSAN/RIR augmentation, 80-dim fbank,
ECAPA-TDNN -> cosine classifier -> AAM-softmax. Evaluation: full-utterance embeddings of the trial
list's files (cached), cosine scores (optionally AS-norm), EER and minDCF, score file, DET curve.
"""
import inspect
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..engine.recipe import Demo, Recipe
from ..errors import ConfigError
from ..recipes import MODELS, variant
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
    # the validation split that selects checkpoints (src/ecapa_tdnn/validation.py); one of:
    valid_trials: str = ''           # a separate trial list, relative to valid_audio_root
    valid_audio_root: str = ''
    valid_speakers: int = 0          # speakers of the training list held out whole
    valid_utterances: int = 0        # utterances of every training speaker held out
    valid_num_trials: int = 2000     # trials drawn among held-out utterances (at most)


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
    metrics = {'eer': 'min', 'min_dcf_0.01': 'min', 'min_dcf_0.05': 'min'}
    best_metric = 'eer'
    # for train.freeze / optim.lr_scales: the first TDNN block, the SE-Res2Net blocks, the
    # multi-layer aggregation + attentive pooling + embedding layer
    parameter_sets = {'first_block': ('blocks.0.',),
                      'res2net_blocks': ('blocks.1.', 'blocks.2.', 'blocks.3.'),
                      'pooling_and_embedding': ('mfa.', 'asp.', 'asp_bn.', 'fc.')}
    tiny_freeze = {'first_block': 'all'}
    curve_metrics = ('eer', 'baseline_eer')
    tiny_args = {'channels': (16, 16, 16, 16, 48), 'attention_channels': 8, 'se_channels': 8,
                 'res2net_scale': 4, 'lin_neurons': 16}
    # model.pretrained fills the whole embedding network (the AAM head is the loss's, not the
    # network's): a checkpoint of another size is an error, not a partial load
    pretrained_prefix = ''

    def example_batch(self, cfg, batch_size, rng, frames=60, num_classes=5):
        from types import SimpleNamespace
        feats = rng.standard_normal((batch_size, frames, cfg.data.n_mels)).astype(np.float32)
        labels = rng.integers(0, num_classes, batch_size).astype(np.int32)
        return {'feats': feats, 'labels': labels}, SimpleNamespace(num_classes=num_classes)

    def load_pretrained(self, network, path):
        """A MindSpore checkpoint, or speechbrain's ``embedding_model.ckpt`` (torch) / its
        ``.npz`` (converted on the fly); either way every parameter must fit."""
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
        held_out = ()
        # utterances are held out only for a run that validates (train.eval_every=0 and
        # eval_every_steps=0 train on all of them)
        if self.has_validation(cfg) and (cfg.train.eval_every or cfg.train.eval_every_steps):
            # check or write the validation trials now, not after the first epoch
            from ..data.manifest import read_table
            from .dataset import MANIFEST_COLUMNS, read_trials
            from .validation import held_out_rows, validation_trials
            trials, root = validation_trials(cfg)
            read_trials(trials, root, check_files=True)
            held_out = {r['path'] for r in held_out_rows(read_table(d.train_manifest, MANIFEST_COLUMNS),
                                                         d, cfg.train.seed)}
        augmenter = None
        if d.musan or d.rirs:
            kinds = tuple(k for k in d.augment_kinds if (k == 'reverb' and d.rirs) or (k != 'reverb' and d.musan))
            augmenter = Augmenter(musan_root=d.musan or None, rir_root=d.rirs or None,
                                  sample_rate=d.sample_rate, prob=d.augment_prob, kinds=kinds)
        return VoxCelebTrainSet(d.train_manifest, d.speakers, crop_seconds=tuple(d.crop_seconds),
                                sample_rate=d.sample_rate, augmenter=augmenter, fbank=self.fbank(cfg),
                                crop_step_seconds=d.crop_step_seconds, exclude=held_out)

    def embedding_size(self, cfg):
        """The network's ``lin_neurons``: the config's, else the factory's default."""
        return cfg.model.args.get(
            'lin_neurons', inspect.signature(self.network_factory).parameters['lin_neurons'].default)

    def build_loss_net(self, network, cfg, train_set):
        head = CosineClassifier(self.embedding_size(cfg), train_set.num_classes)
        return _loss_net_class()(network, head, self.loss_factory(**cfg.loss))

    # --------------------------------------------------------------------------- evaluation
    def has_validation(self, cfg):
        from .validation import validation_mode
        return bool(validation_mode(cfg.data))

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        from .evaluate import evaluate_verification
        if split == 'valid':
            from .validation import validation_trials
            trials, root = validation_trials(cfg)
            return evaluate_verification(self, network, cfg, out_dir, progress=progress,
                                         cache_key=cache_key, trials=trials, audio_root=root,
                                         extra=False, rank=rank, world=world)
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
        return score_inference_outputs(self, cfg, input_dir, result_dir, self.embedding_size(cfg))

    def export_signature(self, cfg):
        return {'task': 'speaker_verification',
                'inputs': [{'name': 'feats', 'dtype': 'float32', 'axes': ['batch', 'frames', cfg.data.n_mels],
                            'doc': 'fbank features (batch, frames, n_mels): see features'}],
                'outputs': [{'name': 'embedding', 'dtype': 'float32', 'axes': ['batch', 1, self.embedding_size(cfg)],
                             'doc': 'speaker embedding (batch, 1, lin_neurons); compare by cosine scoring'}]}

    def export_facts(self, cfg, checkpoint):
        """The EER threshold eval.py calibrated for ``checkpoint`` (raw cosine scores), if any."""
        from .evaluate import calibrated_threshold
        threshold = calibrated_threshold(cfg.run_dir, checkpoint)
        return {} if threshold is None else {'threshold': threshold}

    def input_length(self, cfg, seconds):
        samples = int(round(seconds * cfg.data.sample_rate))
        if samples < 1:
            return 0
        return int(self.fbank(cfg)(np.zeros(samples, np.float32)).shape[0])

    def demo_inference(self, cfg, model_path):
        """A verification of the first trial of the demo's trial list."""
        from .dataset import read_trials
        _, enroll, test = read_trials(cfg.data.trials, cfg.data.eval_audio_root)[0]
        return ['verify', os.path.join(cfg.data.eval_audio_root, enroll),
                os.path.join(cfg.data.eval_audio_root, test), '--model', model_path]

    def sidecar(self, cfg):
        return {'model': cfg.model.name, 'sample_rate': cfg.data.sample_rate,
                'features': self.fbank(cfg).to_dict(), 'scoring': 'cosine'}


# EcapaTdnn's defaults are the paper's C=1024 model with a 192-dim embedding; C=512 is the
# paper's small model (channels 512 x 4 + 1536)
DEMO = Demo('ecapa_tdnn', 'configs/ecapa_tdnn/demo.yaml', ('voxceleb', 'musan', 'rirs_noises'),
            'VoxCeleb-layout demo: EER next to the naive baseline, and a verification (~10 min)')
MODELS.register('ecapa_tdnn', EcapaRecipe(EcapaTdnn, AamSoftmaxLoss, demo=DEMO))
MODELS.register('ecapa_tdnn_c512', EcapaRecipe(variant(EcapaTdnn, channels=(512, 512, 512, 512, 1536)),
                                               AamSoftmaxLoss))
