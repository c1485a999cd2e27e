"""wav2vec 2.0: what the shared engine needs to know about its two training recipes.

``wav2vec2_pretraining`` (fairseq's ``wav2vec2_base_librispeech``): unlabelled audio cropped to
each batch's shortest utterance, time masks and 100 negatives per masked frame drawn in the data
pipeline (:mod:`.masking`, :mod:`.pretrain_set`), the contrastive + diversity + feature-penalty
loss (:mod:`.loss`) at a Gumbel temperature that is a per-update input of the compiled step.
Validation: the same loss on the valid subset with masks fixed by the seed.

``wav2vec2_ctc`` (fairseq's ``base_100h`` / ``base_10h``): letters CTC on a pretrained encoder
(``model.pretrained``: a run of the pretraining recipe, a Hugging Face folder or a fairseq
checkpoint), SpecAugment-like time and channel masks drawn in the data pipeline, length-bucketed
batches of ``data.max_tokens`` samples. Evaluation: greedy decoding, corpus WER / CER of each
subset (:mod:`.evaluate`), hypotheses and per-utterance errors.
"""
from dataclasses import dataclass

import numpy as np

from ..engine.recipe import Demo, DemoStage, Recipe
from ..errors import ConfigError
from ..recipes import MODELS
from .dataset import SpeechDataConfig
from .network import Wav2Vec2ForCTC, Wav2Vec2ForPreTraining, Wav2Vec2Model

# the tiny variant of the registry-driven tests: 2 transformer layers, a short feature encoder
TINY_ARGS = {'conv_dim': (16, 16), 'conv_kernel': (10, 4), 'conv_stride': (5, 4), 'hidden_size': 16,
             'num_hidden_layers': 1, 'num_attention_heads': 2, 'intermediate_size': 32,
             'num_conv_pos_embeddings': 4, 'num_conv_pos_embedding_groups': 2, 'hidden_dropout': 0.0,
             'attention_dropout': 0.0, 'activation_dropout': 0.0, 'feat_proj_dropout': 0.0,
             'layerdrop': 0.0}


@dataclass
class AsrEvalConfig:
    """``eval`` section of the CTC recipe."""
    max_items: int = 0            # evaluate the first N utterances of each subset; 0 = all
    chunk_seconds: float = 0.0    # longer utterances run in stitched chunks (infer.py's way); 0 = whole
    stride_seconds: float = 5.0   # context on each side of a chunk


@dataclass
class PretrainEvalConfig:
    """``eval`` section of the pretraining recipe."""
    max_items: int = 0            # validate on the first N utterances; 0 = all
    seed: int = 1234              # the masks and negatives of validation (the same every time)


def with_encoder_arguments(head):
    """A factory of the network ``head`` (which passes ``**kwargs`` on to its
    :class:`~.network.Wav2Vec2Model`) whose signature lists the head's and the encoder's
    arguments: ``model.args`` is checked against it, key by key."""
    import functools
    import inspect
    own = [p for p in inspect.signature(head).parameters.values() if p.kind != p.VAR_KEYWORD]
    encoder = list(inspect.signature(Wav2Vec2Model).parameters.values())

    @functools.wraps(head)
    def build(**kwargs):
        return head(**kwargs)

    build.__signature__ = inspect.Signature(
        [p.replace(kind=p.KEYWORD_ONLY) for p in own + encoder])
    return build


def pretraining_loss(diversity_weight=0.1, feature_penalty_weight=10.0, logit_temperature=0.1,
                     gumbel_temperature=(2.0, 0.5, 0.999995)):
    """The ``loss`` section of the pretraining recipe (fairseq's ``loss_weights``, ``logit_temp``
    and ``latent_temp``: the Gumbel temperature of update n is ``max(start * decay ** n, end)``
    for ``(start, end, decay)``)."""


def ctc_loss(reduction='sum', zero_infinity=True):
    """The ``loss`` section of the CTC recipe: ``reduction`` 'sum' (fairseq: each utterance's
    loss summed, then averaged over the utterances) or 'mean' (divided by the target lengths
    first, torch's); ``zero_infinity``: impossible alignments count 0 (and are counted)."""


class _Wav2Vec2(Recipe):
    data_schema = SpeechDataConfig
    tiny_lr = 3e-3

    @staticmethod
    def kernels(cfg):
        return tuple(cfg.model.args.get('conv_kernel', (10, 3, 3, 3, 3, 2, 2)))

    @staticmethod
    def strides(cfg):
        return tuple(cfg.model.args.get('conv_stride', (5, 2, 2, 2, 2, 2, 2)))

    @staticmethod
    def hidden_size(cfg):
        return int(cfg.model.args.get('hidden_size', 768))

    def uses_padding_mask(self, cfg):
        """Whether the network is fed a padding mask: fairseq's LARGE-style models (layer-norm
        feature encoder) are; BASE ones (group norm) are run on zero-padded audio without one,
        as transformers' feature extractors do for them."""
        return cfg.model.args.get('feat_extract_norm', 'group') == 'layer'

    def has_validation(self, cfg):
        return bool(cfg.data.valid_subset)

    def input_length(self, cfg, seconds):
        return int(round(seconds * cfg.data.sample_rate))


# ------------------------------------------------------------------------------ pretraining

class PretrainingRecipe(_Wav2Vec2):
    eval_schema = PretrainEvalConfig
    batch_keys = ('audio', 'mask_time', 'negatives')
    input_keys = ('audio', 'mask_time')
    metrics = {'loss': 'min', 'accuracy': 'max', 'code_perplexity': 'max'}
    best_metric = 'loss'
    curve_metrics = ('loss',)
    parameter_sets = {'feature_encoder': ('wav2vec2.feature_extractor.',),
                      'wav2vec2': ('wav2vec2.',),
                      'quantizer': ('quantizer.', 'project_q.'), 'project_hid': ('project_hid.',)}
    tiny_args = dict(TINY_ARGS, num_codevector_groups=2, num_codevectors_per_group=8, codevector_dim=8,
                     proj_codevector_dim=8)
    tiny_freeze = {'feature_encoder': 'all'}

    def step_inputs(self, cfg, step):
        """fairseq's Gumbel temperature ``max(start * decay ** update, end)``."""
        start, end, decay = cfg.loss.get('gumbel_temperature', (2.0, 0.5, 0.999995))
        if not 0 < end <= start or not 0 < decay <= 1:
            raise ConfigError(f"loss.gumbel_temperature must be (start, end, decay) with "
                              f"0 < end <= start and 0 < decay <= 1, got {[start, end, decay]}")
        return {'gumbel_temperature': max(start * decay ** step, end)}

    def train_set(self, cfg):
        from .dataset import check_data_config, manifest_path, read_manifest
        from .pretrain_set import PretrainSet
        d = cfg.data
        check_data_config(d)
        items = read_manifest(manifest_path(d, d.train_subset), labels=None).items
        return PretrainSet(items, d.sample_rate, d.min_sample_size, d.max_sample_size,
                           d.mask_time_prob, d.mask_time_length, d.mask_time_min_masks, d.num_negatives,
                           d.normalize, self.kernels(cfg), self.strides(cfg),
                           crop_levels=self.crop_levels(cfg), source=manifest_path(d, d.train_subset))

    @staticmethod
    def crop_levels(cfg):
        """The lengths batches are cropped to: fairseq crops each batch to its shortest
        utterance; rounding that down to a geometric grid (``data.bucket_ratio``) keeps the
        number of compiled shapes to one per level."""
        from ..data.sampler import LengthGrid
        d = cfg.data
        return LengthGrid.geometric(d.min_sample_size, d.max_sample_size, d.bucket_ratio)

    def batch_sampler(self, cfg, train_set):
        from ..data.sampler import BucketBatches
        return BucketBatches(train_set.lengths, self.crop_levels(cfg), max_tokens=cfg.data.max_tokens,
                             seed=cfg.train.seed)

    def build_loss_net(self, network, cfg, train_set):
        from .loss import PretrainingLossNet
        args = {k: v for k, v in cfg.loss.items() if k != 'gumbel_temperature'}
        return PretrainingLossNet(network, **args)

    def example_batch(self, cfg, batch_size, rng):
        from types import SimpleNamespace
        from .frames import output_frames
        from .masking import compute_mask_indices, sample_negatives
        samples = 1600
        frames = int(output_frames(samples, self.kernels(cfg), self.strides(cfg)))
        mask = compute_mask_indices((batch_size, frames), 0.5, 2, rng, min_masks=2)
        return {'audio': (0.1 * rng.standard_normal((batch_size, samples))).astype(np.float32),
                'mask_time': mask.astype(np.float32),
                'negatives': sample_negatives(mask, 4, rng)}, SimpleNamespace()

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        """The pretraining loss and its terms on the valid subset (``split`` 'valid') or the
        first test subset, with masks and negatives drawn from ``eval.seed`` (the same every
        evaluation), at the final Gumbel temperature; writes ``metrics.json``."""
        from .pretrain_eval import evaluate_pretraining
        return evaluate_pretraining(self, network, cfg, out_dir, progress, split, loss_net, rank, world)

    def format_metrics(self, metrics):
        return (f"loss = {metrics['loss']:.3f} bits  accuracy = {metrics['accuracy']:.3f}  "
                f"code perplexity = {metrics['code_perplexity']:.1f}  prob perplexity = "
                f"{metrics['prob_perplexity']:.1f}  ({metrics.get('subset', '')})")

    def training_warning(self, cfg, record):
        from .loss import collapse_warning
        return collapse_warning(record, cfg.data.num_negatives)

    def inference_network(self, network):
        from .features import Wav2Vec2Encoder
        return Wav2Vec2Encoder(network.wav2vec2)

    def export_signature(self, cfg):
        return {'task': 'speech_representation',
                'inputs': [{'name': 'audio', 'dtype': 'float32', 'axes': ['batch', 'samples'],
                            'doc': 'waveform at 16 kHz (batch, samples)'}],
                'outputs': [{'name': 'hidden_states', 'dtype': 'float32',
                             'axes': ['batch', 'frames', self.hidden_size(cfg)],
                             'doc': "the transformer's last hidden states, one frame per 20 ms"}]}

    def sidecar(self, cfg):
        return {'model': cfg.model.name, 'sample_rate': cfg.data.sample_rate,
                'conv_kernel': list(self.kernels(cfg)), 'conv_stride': list(self.strides(cfg)),
                'normalize': cfg.data.normalize}

    def load_pretrained(self, network, path):
        from .pretrained import load_pretrained_into
        return load_pretrained_into(self, network, path, head='pretraining')


# ------------------------------------------------------------------------------ CTC fine-tuning

class CtcRecipe(_Wav2Vec2):
    eval_schema = AsrEvalConfig
    batch_keys = ('audio', 'padding_mask', 'targets', 'target_lengths', 'mask_time', 'mask_channel')
    input_keys = ('audio', 'padding_mask')
    metrics = {'wer': 'min', 'cer': 'min'}
    best_metric = 'wer'
    curve_metrics = ('wer', 'cer')
    parameter_sets = {'feature_encoder': ('wav2vec2.feature_extractor.',),
                      'wav2vec2': ('wav2vec2.',), 'head': ('lm_head.',)}
    tiny_args = dict(TINY_ARGS, vocab_size=8)
    tiny_freeze = {'feature_encoder': 'all'}
    pretrained_prefix = 'wav2vec2.'
    pretrained_heads = ('lm_head.',)

    def letters(self, cfg):
        from .dataset import load_letters
        return load_letters(cfg.data)

    def _check_vocab(self, cfg, letters):
        size = int(cfg.model.args.get('vocab_size', 32))
        if size != len(letters):
            raise ConfigError(f"model.args.vocab_size {size} differs from the {len(letters)} symbols "
                              f"of {letters.source}: set model.args.vocab_size={len(letters)}")

    def train_set(self, cfg):
        from .dataset import ctc_train_set
        from .masking import Masker
        d = cfg.data
        self._check_vocab(cfg, self.letters(cfg))
        masker = Masker(d.mask_time_prob, d.mask_time_length, d.mask_time_min_masks,
                        d.mask_channel_prob, d.mask_channel_length)
        return ctc_train_set(d, masker, self.hidden_size(cfg), self.kernels(cfg), self.strides(cfg))

    def batch_sampler(self, cfg, train_set):
        from .dataset import ctc_batches
        return ctc_batches(train_set, cfg.data, cfg.train.seed)

    def build_loss_net(self, network, cfg, train_set):
        from .ctc import CtcLossNet
        return CtcLossNet(network, **cfg.loss)

    def example_batch(self, cfg, batch_size, rng):
        from types import SimpleNamespace
        from .frames import output_frames
        samples = 1600
        frames = int(output_frames(samples, self.kernels(cfg), self.strides(cfg)))
        vocab = int(cfg.model.args.get('vocab_size', 32))
        lengths = rng.integers(2, frames // 2, batch_size).astype(np.int32)
        targets = rng.integers(1, vocab, (batch_size, frames // 2)).astype(np.int32)
        mask_time = np.zeros((batch_size, frames), np.float32)
        mask_time[:, 1:3] = 1
        return {'audio': (0.1 * rng.standard_normal((batch_size, samples))).astype(np.float32),
                'padding_mask': np.ones((batch_size, samples), np.float32),
                'targets': targets, 'target_lengths': lengths, 'mask_time': mask_time,
                'mask_channel': np.zeros((batch_size, self.hidden_size(cfg)), np.float32)}, SimpleNamespace()

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        """Greedy-decoded WER / CER of the valid subset (``split`` 'valid') or of every test
        subset; writes the hypotheses, references, per-utterance errors and ``metrics.json``."""
        from .asr_eval import evaluate_ctc
        return evaluate_ctc(self, network, cfg, out_dir, progress, split, rank, world)

    def format_metrics(self, metrics):
        from .evaluate import format_asr
        return format_asr(metrics)

    def write_inference_inputs(self, cfg, out_dir, progress=True):
        from .asr_eval import write_inputs
        return write_inputs(self, cfg, out_dir, progress)

    def score_inference_outputs(self, cfg, input_dir, result_dir):
        from .asr_eval import score_outputs
        return score_outputs(self, cfg, input_dir, result_dir)

    def export_signature(self, cfg):
        inputs = [{'name': 'audio', 'dtype': 'float32', 'axes': ['batch', 'samples'],
                   'doc': 'waveform at 16 kHz (batch, samples), zero-padded'}]
        if self.uses_padding_mask(cfg):
            inputs.append({'name': 'padding_mask', 'dtype': 'float32', 'axes': ['batch', 'samples'],
                           'doc': '1 for the real samples of each row, 0 for padding'})
        vocab = int(cfg.model.args.get('vocab_size', 32))
        return {'task': 'asr', 'inputs': inputs,
                'outputs': [{'name': 'logits', 'dtype': 'float32', 'axes': ['batch', 'frames', vocab],
                             'doc': 'CTC logits over the letters, one frame per 20 ms'},
                            {'name': 'output_lengths', 'dtype': 'int32', 'axes': ['batch'],
                             'doc': 'the valid frames of each row'}]}

    def sidecar(self, cfg):
        letters = self.letters(cfg)
        return {'model': cfg.model.name, 'sample_rate': cfg.data.sample_rate,
                'letters': list(letters.symbols), 'blank': letters.blank,
                'conv_kernel': list(self.kernels(cfg)), 'conv_stride': list(self.strides(cfg)),
                'normalize': cfg.data.normalize}

    def check_checkpoint(self, cfg, params, path):
        from ..errors import CheckpointError
        head = params.get('lm_head.weight')
        size = int(cfg.model.args.get('vocab_size', 32))
        if head is not None and np.shape(head)[0] != size:
            raise CheckpointError(f"{path} outputs {np.shape(head)[0]} letters, the config {size}: "
                                  f"set model.args.vocab_size={np.shape(head)[0]} and the matching "
                                  "dictionary (data.root/dict.ltr.txt)")

    def load_pretrained(self, network, path):
        """A run or checkpoint of this project (pretraining or CTC), a Hugging Face folder or a
        fairseq checkpoint (``wav2vec_small.pt``, ``wav2vec_small_100h.pt``)."""
        from .pretrained import load_pretrained_into
        return load_pretrained_into(self, network, path, head='ctc')

    def demo_inference(self, cfg, model_path):
        """Transcribe the first two test utterances of the demo data."""
        from .dataset import manifest_path, read_manifest
        items = read_manifest(manifest_path(cfg.data, cfg.data.test_subsets[0]), labels=None).items
        return ['transcribe', *[item.path for item in items[:2]], '--model', model_path]


DEMO = Demo('wav2vec2', 'configs/wav2vec2/demo_ctc.yaml', ('librispeech',),
            'LibriSpeech-layout demo of eSpeak NG speech: a tiny wav2vec 2.0 pretrained, then '
            'fine-tuned with CTC (and a from-scratch CTC baseline), WER on unseen speakers',
            stages=(DemoStage('pretrain', 'configs/wav2vec2/demo_pretrain.yaml',
                              about='self-supervised pretraining'),
                    DemoStage('finetune', 'configs/wav2vec2/demo_ctc.yaml', init_from='pretrain',
                              exported=True, about='CTC fine-tuning of the pretrained network'),
                    DemoStage('scratch', 'configs/wav2vec2/demo_ctc.yaml',
                              about='CTC from scratch, the same budget')))
MODELS.register('wav2vec2_pretraining', PretrainingRecipe(with_encoder_arguments(Wav2Vec2ForPreTraining), pretraining_loss))
MODELS.register('wav2vec2_ctc', CtcRecipe(with_encoder_arguments(Wav2Vec2ForCTC), ctc_loss, demo=DEMO))
