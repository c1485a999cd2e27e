"""PANNs sound classification: fine-tuning CNN14 / CNN10 / CNN6 on ESC-50 (or a user's own clips).

The network is a PANNs backbone (log-mel front end inside, so it takes waveforms) whose
embedding feeds a new classification layer; training minimises cross-entropy, evaluation reports
the accuracy on the held-out fold, the per-class accuracy and a confusion matrix.
"""
import json
import os
from dataclasses import dataclass

import numpy as np

from ..engine.crossval import Folds
from ..engine.recipe import Demo, Recipe
from ..errors import ConfigError, DataError
from ..recipes import MODELS, variant
from .loss import ClassificationLossNet
from .network import ARCHITECTURES


@dataclass
class SoundDataConfig:
    """``data`` section: ESC-50, or a folder of class folders, or a labelled CSV."""
    esc50_root: str = ''          # ESC-50 folder (audio/, meta/esc50.csv)
    esc10: bool = False           # the ESC-10 subset of ESC-50
    folder_root: str = ''         # alternative: <root>/<class name>/*.wav
    csv: str = ''                 # alternative: path,label[,fold] rows
    csv_audio_root: str = ''
    test_fold: int = 5            # the fold held out for evaluation (1-5)
    # a second fold held out from training to select checkpoints (0 = none: ESC-50's protocol
    # trains on the other four folds, and the final model is judged)
    valid_fold: int = 0
    sample_rate: int = 32000
    clip_seconds: float = 5.0
    # mixup of training clips: waveforms and targets mixed with Beta(alpha, alpha) weights
    # (PANNs' AudioSet training used 1.0); 0 = off
    mixup_alpha: float = 0.0


@dataclass
class ClassificationEvalConfig:
    batch_size: int = 8
    confusion_matrix: bool = True


def _classifier_class():
    from mindspore import nn

    class SoundClassifier(nn.Cell):
        """A PANNs backbone and a new linear layer over its embedding: waveform -> class logits."""

        def __init__(self, backbone, num_classes, freeze_backbone=False):
            super().__init__()
            self.backbone = backbone
            self.num_classes = num_classes
            self.fc = nn.Dense(backbone.fc1.out_channels, num_classes, weight_init='xavier_uniform')
            if freeze_backbone:
                for p in backbone.trainable_params():
                    p.requires_grad = False

        def construct(self, waveform):
            _, embedding = self.backbone(waveform)       # (N, width)
            return self.fc(embedding)                    # (N, classes)

    return SoundClassifier


def panns_classifier(architecture='cnn14', num_classes=50, sample_rate=32000, window_size=1024,
                     hop_size=320, mel_bins=64, fmin=50, fmax=14000, spec_augment=False,
                     freeze_backbone=False):
    """A PANNs backbone (CNN14: 2048-d embedding; CNN10/CNN6: 512-d) + a ``num_classes``
    classification layer. The registered models fix ``architecture`` (:func:`src.recipes.variant`)."""
    backbone = ARCHITECTURES[architecture](sample_rate=sample_rate, window_size=window_size,
                                           hop_size=hop_size, mel_bins=mel_bins, fmin=fmin,
                                           fmax=fmax, spec_augment=spec_augment)
    return _classifier_class()(backbone, num_classes, freeze_backbone)




class PannsRecipe(Recipe):
    data_schema = SoundDataConfig
    eval_schema = ClassificationEvalConfig
    batch_keys = ('waveform', 'target_probs')
    metrics = {'accuracy': 'max'}
    best_metric = 'accuracy'
    # for train.freeze / optim.lr_scales (e.g. a lower rate for the pretrained backbone)
    parameter_sets = {'backbone': ('backbone.',), 'classifier': ('fc.',)}
    tiny_freeze = {'backbone': 'all'}
    curve_metrics = ('accuracy',)
    tiny_lr = 1e-4        # deep CNN with BatchNorm on a batch of 4: 1e-2 diverges
    tiny_args = {'num_classes': 4, 'sample_rate': 8000, 'window_size': 256, 'hop_size': 80,
                 'mel_bins': 32, 'fmin': 50, 'fmax': 3800}   # CNN14 pools the mel axis 5 times
    # model.pretrained fills the whole backbone, front end included; the new layer fc and the
    # AudioSet layer (527 classes in PANNs' checkpoints) may be left as initialised
    pretrained_prefix = 'backbone.'
    pretrained_heads = ('backbone.fc_audioset.',)

    def rows(self, cfg):
        """(all rows, label targets in class order, class names) of the configured data."""
        from .dataset import (class_names, class_targets, read_esc50, read_folder_of_classes,
                              read_labelled_csv)
        d = cfg.data
        if d.esc50_root:
            rows = read_esc50(d.esc50_root, esc10=d.esc10)
        elif d.folder_root:
            rows = read_folder_of_classes(d.folder_root)
        elif d.csv:
            rows = read_labelled_csv(d.csv, d.csv_audio_root)
        else:
            raise ConfigError("set data.esc50_root (or data.folder_root, or data.csv): "
                              "`python preprocess.py demo esc50` writes a demo ESC-50")
        return rows, class_targets(rows), class_names(rows)

    def data_source(self, cfg):
        """The list the configured clips come from, for messages about its files."""
        d = cfg.data
        return os.path.join(d.esc50_root, 'meta', 'esc50.csv') if d.esc50_root else d.folder_root or d.csv

    def _split(self, cfg):
        from .dataset import fold_split
        network_rate = cfg.model.args.get('sample_rate', 32000)
        if network_rate != cfg.data.sample_rate:
            raise ConfigError(f"data.sample_rate {cfg.data.sample_rate} differs from the network's "
                              f"model.args.sample_rate {network_rate}: set both to the same rate")
        rows, targets, names = self.rows(cfg)
        train, test = fold_split(rows, cfg.data.test_fold)
        valid = []
        if cfg.data.valid_fold:
            if cfg.data.valid_fold == cfg.data.test_fold:
                raise ConfigError(f"data.valid_fold {cfg.data.valid_fold} is the test fold: "
                                  "validate on another fold, or set data.valid_fold=0")
            train, valid = fold_split(train, cfg.data.valid_fold)
        return train, test, valid, targets, names

    def has_validation(self, cfg):
        if cfg.data.valid_fold and cfg.data.valid_fold == cfg.data.test_fold:
            raise ConfigError(f"data.valid_fold {cfg.data.valid_fold} is the test fold: validate on "
                              "another fold, or set data.valid_fold=0")
        return cfg.data.valid_fold > 0

    def train_set(self, cfg):
        from .dataset import SoundClipSet
        train, _, _, targets, _ = self._split(cfg)
        items = SoundClipSet(train, cfg.data.sample_rate, cfg.data.clip_seconds, train=True,
                             targets=targets, source=self.data_source(cfg),
                             mixup_alpha=cfg.data.mixup_alpha)
        wanted = cfg.model.args.get('num_classes', 50)
        if items.num_classes != wanted:
            raise ConfigError(f"model.args.num_classes is {wanted} but the data has "
                              f"{items.num_classes} classes; set model.args.num_classes={items.num_classes}")
        return items

    def build_loss_net(self, network, cfg, train_set):
        return ClassificationLossNet(network)

    def example_batch(self, cfg, batch_size, rng):
        from types import SimpleNamespace
        classes = cfg.model.args.get('num_classes', 50)
        samples = cfg.model.args.get('sample_rate', 32000) // 2
        wave = (0.1 * rng.standard_normal((batch_size, samples))).astype(np.float32)
        target = rng.integers(0, classes, batch_size)
        return ({'waveform': wave, 'target_probs': np.eye(classes, dtype=np.float32)[target]},
                SimpleNamespace(num_classes=classes))

    def load_pretrained(self, network, path):
        """PANNs' public AudioSet checkpoints (``Cnn14_mAP=0.431.pth``, torch, or their
        ``.npz``), the ``.ckpt`` of ``tools/convert_panns.py`` (backbone names), or a
        MindSpore checkpoint of this model. The backbone must be the same architecture; the
        new classification layer ``fc`` is left as initialised."""
        from ..checkpoint import is_foreign_state, read_params, read_torch_state
        from ..engine.recipe import load_matching, network_params
        from .convert import load_panns_state
        if is_foreign_state(path):
            skipped = load_panns_state(network.backbone, read_torch_state(path, inner_key='model'))
            return ['backbone.' + k for k in skipped] + ['fc.' + n for n, _ in network.fc.parameters_and_names()]
        from ..errors import CheckpointError
        params = network_params(read_params(path))
        if not any(k.startswith('backbone.') for k in params):     # a converted bare backbone
            params = {'backbone.' + k: v for k, v in params.items()}
        arch = network.backbone.architecture
        found = 'cnn14' if 'backbone.conv_block6.conv1.weight' in params else \
            ('cnn6' if 'backbone.conv_block1.conv2.weight' not in params else 'cnn10')
        if 'backbone.conv_block1.conv1.weight' in params and found != arch:
            raise CheckpointError(f"{path} holds a PANNs {found}, the network is {arch}: "
                                  f"use model.name=panns_{found} or a {arch} checkpoint")
        return load_matching(network, params, path, self.pretrained_prefix, self.pretrained_heads,
                             subject=f"{path} does not fit the {arch} backbone",
                             hint="do model.args (sample_rate, window_size, mel_bins) match the "
                                  "checkpoint's?")

    def _test_set(self, cfg, split='test'):
        from .dataset import SoundClipSet
        _, test, valid, targets, names = self._split(cfg)
        items = SoundClipSet(valid if split == 'valid' else test, cfg.data.sample_rate,
                             cfg.data.clip_seconds, train=False, targets=targets,
                             source=self.data_source(cfg))
        return items, names

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        """Accuracy on the held-out fold (``split='test'``) or the validation fold. Its clips
        all have one length (``clip_seconds``), so the batches are static shapes already; each
        rank classifies its share of the clips."""
        import mindspore as ms
        from ..distributed import gather_to_rank0, shard
        from ..engine.trainer import progress as bar
        items, names = self._test_set(cfg, split)
        network.set_train(False)
        rng = np.random.default_rng(0)
        size = cfg.eval.batch_size
        mine = shard(len(items), rank, world)
        predictions, labels = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for lo in bar(range(0, len(mine), size), disable=None if progress and rank == 0 else True, desc='clips'):
            batch = items.make_batch(mine[lo:lo + size], rng)
            logits = network(ms.Tensor(batch['waveform'])).asnumpy()
            predictions.append(logits.argmax(1).astype(np.int64))
            labels.append(np.asarray(batch['target'], np.int64))
        results = gather_to_rank0({'predicted': np.concatenate(predictions), 'truth': np.concatenate(labels)},
                                  rank, world)
        if rank != 0:
            return {}
        fold = cfg.data.valid_fold if split == 'valid' else cfg.data.test_fold
        return self._report(results['predicted'], results['truth'], names, cfg, out_dir, fold)

    def _report(self, predicted, truth, names, cfg, out_dir, fold=None):
        """Accuracy, per-class accuracy and the confusion matrix (metrics.json, PNG)."""
        from ..data.manifest import write_text
        from ..metrics.classification import classification_summary, confusion_matrix
        fold = cfg.data.test_fold if fold is None else fold
        if len(truth) == 0:
            raise DataError(f"fold {fold} has no clips to evaluate")
        confusion = confusion_matrix(truth, predicted, len(names))
        summary = classification_summary(confusion, names)
        metrics = {'accuracy': summary['accuracy'], 'clips': int(len(truth)), 'fold': fold}
        os.makedirs(out_dir, exist_ok=True)
        write_text(os.path.join(out_dir, 'metrics.json'),
                   json.dumps(dict(metrics, per_class_accuracy=summary['per_class_accuracy'],
                                   class_names=names, confusion=confusion.tolist()), indent=1))
        if cfg.eval.confusion_matrix:
            from ..metrics.plots import plot_confusion
            plot_confusion(confusion, names, os.path.join(out_dir, 'confusion_matrix.png'),
                           f"{cfg.model.name}, fold {fold}: accuracy {metrics['accuracy']:.4f}")
        return metrics

    def write_inference_inputs(self, cfg, out_dir, progress=True):
        """The held-out fold's evaluation windows as ``<out_dir>/feats/<n>.bin`` (float32
        waveform (1, samples), the exported model's input), ``<out_dir>/clips.tsv``
        (``n, path, label``) and ``<out_dir>/inputs.json`` (the fold). Inputs of an earlier,
        larger fold left in ``feats/`` are removed, so that a runtime sees only these."""
        from ..data.manifest import write_text
        from ..engine.trainer import progress as bar
        from ..inference.bins import remove_items_from, write_item
        items, _ = self._test_set(cfg)
        feats = os.path.join(out_dir, 'feats')
        os.makedirs(feats, exist_ok=True)
        rng, rows = np.random.default_rng(0), []
        for n in bar(range(len(items)), disable=None if progress else True, desc='clips'):
            batch = items.make_batch([n], rng)
            if batch['_bad']:
                raise DataError(f"{items.paths[n]} is unreadable: fix or remove it before writing "
                                "inference inputs")
            write_item(feats, n, {'waveform': batch['waveform'].astype(np.float32)})
            rows.append(f"{n}\t{items.paths[n]}\t{int(batch['target'][0])}\n")
        remove_items_from(feats, len(rows))
        write_text(os.path.join(out_dir, 'clips.tsv'), ''.join(rows))
        from ..checkpoint import atomic_write_json
        atomic_write_json(os.path.join(out_dir, 'inputs.json'),
                          {'model': cfg.model.name, 'fold': cfg.data.test_fold, 'clips': len(rows)})
        return len(rows)

    def score_inference_outputs(self, cfg, input_dir, result_dir):
        """Accuracy (as :meth:`evaluate`) from the logits ``<result_dir>/<n>_0.bin``."""
        table = os.path.join(input_dir, 'clips.tsv')
        if not os.path.exists(table):
            raise DataError(f"{table} not found: run `python preprocess.py infer_inputs` first")
        with open(table) as f:
            rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
        names = self.class_names(cfg) or [str(i) for i in range(cfg.model.args.get('num_classes', 50))]
        predicted, truth = [], []
        for n, _, label in rows:
            path = os.path.join(result_dir, f'{n}_0.bin')
            if not os.path.exists(path):
                raise DataError(f"{path} not found: the inference run wrote only part of the "
                                f"{len(rows)} outputs; run it on every file of {input_dir}/feats")
            logits = np.fromfile(path, np.float32)
            if logits.size != len(names):
                raise DataError(f"{path}: {logits.size} values, expected {len(names)} class logits")
            predicted.append(int(logits.argmax()))
            truth.append(int(label))
        out_dir = os.path.join(os.path.dirname(os.path.abspath(result_dir)), 'eval')
        facts = os.path.join(input_dir, 'inputs.json')
        if os.path.exists(facts):           # the fold the inputs were written for
            import copy
            with open(facts) as f:
                fold = json.load(f).get('fold', cfg.data.test_fold)
            cfg = copy.deepcopy(cfg)
            cfg.data.test_fold = fold
        return self._report(np.array(predicted), np.array(truth), names, cfg, out_dir)

    @staticmethod
    def combine_folds(fold_results, out_dir):
        """The confusion matrix and per-class accuracy pooled over the folds' evaluations
        (nothing when a fold's ``metrics.json`` is missing or has another class list)."""
        from ..metrics.classification import classification_summary, pooled_confusion
        matrices, names = [], None
        for result in fold_results.values():
            path = os.path.join(result.get('eval_dir', ''), 'metrics.json')
            if not os.path.exists(path):
                return {}
            with open(path) as f:
                saved = json.load(f)
            if 'confusion' not in saved:
                return {}
            matrices.append(saved['confusion'])
            names = saved['class_names']
        try:
            total = pooled_confusion(matrices)
            summary = classification_summary(total, names)
        except DataError:
            return {}
        from ..metrics.plots import plot_confusion
        plot_confusion(total, names, os.path.join(out_dir, 'confusion_matrix.png'),
                       f"{len(fold_results)} folds: accuracy {summary['accuracy']:.4f}")
        return {'pooled_accuracy': summary['accuracy'],
                'per_class_accuracy': summary['per_class_accuracy']}

    def format_metrics(self, metrics):
        return f"Accuracy = {metrics['accuracy']:.4f}  ({metrics['clips']} clips, fold {metrics['fold']})"

    def export_signature(self, cfg):
        return {'task': 'classification',
                'inputs': [{'name': 'waveform', 'dtype': 'float32', 'axes': ['batch', 'samples'],
                            'doc': 'audio at sample_rate (batch, samples)'}],
                'outputs': [{'name': 'logits', 'dtype': 'float32',
                             'axes': ['batch', cfg.model.args.get('num_classes', 50)],
                             'doc': 'class logits (batch, classes); softmax for probabilities'}]}

    def input_length(self, cfg, seconds):
        return int(round(seconds * cfg.data.sample_rate))

    def class_names(self, cfg):
        """The class names in output order, from the configured data; None when it is absent."""
        try:
            return self.rows(cfg)[2]
        except (ConfigError, DataError):
            return None

    def demo_inference(self, cfg, model_path):
        """The top tags of the first four clips of the held-out fold."""
        _, test, _, _, _ = self._split(cfg)
        return ['tag', *[row['path'] for row in test[:4]], '--model', model_path]

    def sidecar(self, cfg):
        meta = {'model': cfg.model.name, 'sample_rate': cfg.data.sample_rate,
                'clip_seconds': cfg.data.clip_seconds}
        names = self.class_names(cfg)
        if names:
            meta['labels'] = list(names)
        return meta


# ESC-50's official folds (a CSV's folds are 1-5 too); the confusion matrix summed over them
PannsRecipe.folds = Folds((1, 2, 3, 4, 5), 'test_fold', PannsRecipe.combine_folds)

DEMO = Demo('panns', 'configs/panns/demo.yaml', ('esc50',),
            'ESC-50-layout demo: CNN6 accuracy on fold 5, a confusion matrix, top-3 tags (~4 min)')
for _architecture in ('cnn14', 'cnn10', 'cnn6'):
    MODELS.register(f'panns_{_architecture}', PannsRecipe(
        variant(panns_classifier, fixed={'architecture': _architecture}),
        demo=DEMO if _architecture == 'cnn6' else None))
