"""PANNs sound classification: fine-tuning CNN14 / CNN10 / CNN6 on ESC-50 (or a user's own clips).

The network is a PANNs backbone (log-mel front end inside, so it takes waveforms) whose
embedding feeds a new classification layer; training minimises cross-entropy, evaluation reports
the accuracy on the held-out fold, the per-class accuracy and a confusion matrix.
"""
import json
import os
from dataclasses import dataclass

import numpy as np

from ..engine.recipe import Recipe
from ..errors import ConfigError, DataError
from ..recipes import MODELS
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


def _make(architecture, num_classes=50, sample_rate=32000, window_size=1024, hop_size=320,
          mel_bins=64, fmin=50, fmax=14000, spec_augment=False, freeze_backbone=False):
    backbone = ARCHITECTURES[architecture](sample_rate=sample_rate, window_size=window_size,
                                           hop_size=hop_size, mel_bins=mel_bins, fmin=fmin,
                                           fmax=fmax, spec_augment=spec_augment)
    return _classifier_class()(backbone, num_classes, freeze_backbone)


def panns_cnn14(num_classes=50, sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                fmin=50, fmax=14000, spec_augment=False, freeze_backbone=False):
    """CNN14 backbone (2048-d embedding) + a ``num_classes`` classification layer."""
    return _make('cnn14', num_classes, sample_rate, window_size, hop_size, mel_bins, fmin, fmax,
                 spec_augment, freeze_backbone)


def panns_cnn10(num_classes=50, sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                fmin=50, fmax=14000, spec_augment=False, freeze_backbone=False):
    """CNN10 backbone (512-d embedding) + a ``num_classes`` classification layer."""
    return _make('cnn10', num_classes, sample_rate, window_size, hop_size, mel_bins, fmin, fmax,
                 spec_augment, freeze_backbone)


def panns_cnn6(num_classes=50, sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
               fmin=50, fmax=14000, spec_augment=False, freeze_backbone=False):
    """CNN6 backbone (512-d embedding) + a ``num_classes`` classification layer."""
    return _make('cnn6', num_classes, sample_rate, window_size, hop_size, mel_bins, fmin, fmax,
                 spec_augment, freeze_backbone)


def _loss_net_class():
    from mindspore import nn, ops

    class ClassificationLossNet(nn.Cell):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def construct(self, waveform, target_probs):
            # cross-entropy against class probabilities: one-hot targets, or mixed ones (mixup)
            log_probs = ops.log_softmax(self.network(waveform), -1)
            return -(target_probs * log_probs).sum(-1).mean()

    return ClassificationLossNet


class PannsRecipe(Recipe):
    data_schema = SoundDataConfig
    eval_schema = ClassificationEvalConfig
    batch_keys = ('waveform', 'target_probs')
    best_metric = 'accuracy'
    best_mode = 'max'
    curve_metrics = ('accuracy',)
    folds = (1, 2, 3, 4, 5)   # ESC-50's official folds (a CSV's folds are 1-5 too)
    # evaluation is on the held-out fold: best.ckpt is picked on it, so the honest default is
    # the final model
    default_checkpoint = 'last'
    fold_key = 'test_fold'
    tiny_lr = 1e-4        # deep CNN with BatchNorm on a batch of 4: 1e-2 diverges
    tiny_args = {'num_classes': 4, 'sample_rate': 8000, 'window_size': 256, 'hop_size': 80,
                 'mel_bins': 32, 'fmin': 50, 'fmax': 3800}   # CNN14 pools the mel axis 5 times

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

    def _split(self, cfg):
        from .dataset import fold_split
        network_rate = cfg.model.args.get('sample_rate', 32000)
        if network_rate != cfg.data.sample_rate:
            raise ConfigError(f"data.sample_rate {cfg.data.sample_rate} differs from the network's "
                              f"model.args.sample_rate {network_rate}: set both to the same rate")
        rows, targets, names = self.rows(cfg)
        train, test = fold_split(rows, cfg.data.test_fold)
        return train, test, targets, names

    def train_set(self, cfg):
        from .dataset import SoundClipSet
        train, _, targets, _ = self._split(cfg)
        items = SoundClipSet(train, cfg.data.sample_rate, cfg.data.clip_seconds, train=True,
                             targets=targets, mixup_alpha=cfg.data.mixup_alpha)
        wanted = cfg.model.args.get('num_classes', 50)
        if items.num_classes != wanted:
            raise ConfigError(f"model.args.num_classes is {wanted} but the data has "
                              f"{items.num_classes} classes; set model.args.num_classes={items.num_classes}")
        return items

    def build_loss_net(self, network, cfg, train_set):
        return _loss_net_class()(network)

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
        from ..checkpoint import is_foreign_state, load_state, read_params, read_torch_state
        from ..engine.recipe import network_params
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
        # the whole backbone must fit (front end included); only heads that do not are left
        heads = [n for n, p in network.parameters_and_names() if n.startswith(('fc.', 'backbone.fc_audioset.'))
                 and (n not in params or tuple(params[n].shape) != tuple(p.shape))]
        load_state(network, {k: v for k, v in params.items() if k not in heads}, skip=heads,
                   subject=f"{path} does not fit the {arch} backbone",
                   hint="do model.args (sample_rate, window_size, mel_bins) match the checkpoint's?")
        return heads

    def _test_set(self, cfg):
        from .dataset import SoundClipSet
        _, test, targets, names = self._split(cfg)
        items = SoundClipSet(test, cfg.data.sample_rate, cfg.data.clip_seconds, train=False,
                             targets=targets)
        return items, names

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', rank=0, world=1):
        """Accuracy on the held-out fold. Its clips all have one length (``clip_seconds``), so
        the batches are static shapes already; each rank classifies its share of the clips."""
        import mindspore as ms
        from ..distributed import gather_to_rank0, shard
        from ..engine.trainer import progress as bar
        items, names = self._test_set(cfg)
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
        return self._report(results['predicted'], results['truth'], names, cfg, out_dir)

    def _report(self, predicted, truth, names, cfg, out_dir):
        """Accuracy, per-class accuracy and the confusion matrix (metrics.json, PNG)."""
        if len(truth) == 0:
            raise DataError(f"fold {cfg.data.test_fold} has no clips to evaluate")
        k = len(names)
        confusion = np.zeros((k, k), np.int64)
        np.add.at(confusion, (truth, predicted), 1)
        per_class = {names[i]: float(confusion[i, i] / max(1, confusion[i].sum())) for i in range(k)}
        metrics = {'accuracy': float((predicted == truth).mean()), 'clips': int(len(truth)),
                   'fold': cfg.data.test_fold}
        os.makedirs(out_dir, exist_ok=True)
        from ..data.manifest import write_text
        write_text(os.path.join(out_dir, 'metrics.json'),
                   json.dumps(dict(metrics, per_class_accuracy=per_class, class_names=names,
                                   confusion=confusion.tolist()), indent=1))
        if cfg.eval.confusion_matrix:
            plot_confusion(confusion, names, os.path.join(out_dir, 'confusion_matrix.png'),
                           f"{cfg.model.name}, fold {cfg.data.test_fold}: accuracy {metrics['accuracy']:.4f}")
        return metrics

    def write_inference_inputs(self, cfg, out_dir, progress=True):
        """The held-out fold's evaluation windows as ``<out_dir>/feats/<n>.bin`` (float32
        waveform (1, samples), the exported model's input), ``<out_dir>/clips.tsv``
        (``n, path, label``) and ``<out_dir>/inputs.json`` (the fold). Inputs of an earlier,
        larger fold left in ``feats/`` are removed, so that a runtime sees only these."""
        from ..data.manifest import write_text
        from ..engine.trainer import progress as bar
        items, _ = self._test_set(cfg)
        feats = os.path.join(out_dir, 'feats')
        os.makedirs(feats, exist_ok=True)
        rng, rows = np.random.default_rng(0), []
        for n in bar(range(len(items)), disable=None if progress else True, desc='clips'):
            batch = items.make_batch([n], rng)
            if batch['_bad']:
                raise DataError(f"{items.paths[n]} is unreadable: fix or remove it before writing "
                                "inference inputs")
            batch['waveform'].astype(np.float32).tofile(os.path.join(feats, f'{n}.bin'))
            rows.append(f"{n}\t{items.paths[n]}\t{int(batch['target'][0])}\n")
        for name in os.listdir(feats):
            stem = name[:-4] if name.endswith('.bin') else ''
            if stem.isdigit() and int(stem) >= len(rows):
                os.remove(os.path.join(feats, name))
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

    def combine_folds(self, fold_results, out_dir):
        """The confusion matrix and per-class accuracy summed over the folds' evaluations."""
        total, names = None, None
        for result in fold_results.values():
            path = os.path.join(result.get('eval_dir', ''), 'metrics.json')
            if not os.path.exists(path):
                return {}
            with open(path) as f:
                saved = json.load(f)
            if 'confusion' not in saved:
                return {}
            matrix = np.asarray(saved['confusion'], np.int64)
            if total is not None and matrix.shape != total.shape:
                return {}
            total = matrix if total is None else total + matrix
            names = saved['class_names']
        if total is None:
            return {}
        plot_confusion(total, names, os.path.join(out_dir, 'confusion_matrix.png'),
                       f"{len(fold_results)} folds: accuracy {np.trace(total) / total.sum():.4f}")
        return {'pooled_accuracy': float(np.trace(total) / total.sum()),
                'per_class_accuracy': {names[i]: float(total[i, i] / max(1, total[i].sum()))
                                       for i in range(len(names))}}

    def format_metrics(self, metrics):
        return f"Accuracy = {metrics['accuracy']:.4f}  ({metrics['clips']} clips, fold {metrics['fold']})"

    def export_inputs(self, cfg, length=None):
        import mindspore as ms
        if length:
            return [ms.Tensor(np.zeros((1, length), np.float32))]
        return [ms.Tensor(shape=[None, None], dtype=ms.float32)]

    def input_length(self, cfg, seconds):
        return int(round(seconds * cfg.data.sample_rate))

    def class_names(self, cfg):
        """The class names in output order, from the configured data; None when it is absent."""
        try:
            return self.rows(cfg)[2]
        except (ConfigError, DataError):
            return None

    def sidecar(self, cfg):
        meta = {'model': cfg.model.name, 'task': 'classification',
                'input': 'waveform (batch, samples), float32',
                'output': 'logits', 'output_doc': 'class logits (batch, classes); softmax for probabilities',
                'sample_rate': cfg.data.sample_rate, 'clip_seconds': cfg.data.clip_seconds}
        names = self.class_names(cfg)
        if names:
            meta['labels'] = list(names)
        return meta


def plot_confusion(confusion, names, path, title):
    """Confusion matrix (rows: true class, columns: predicted) as a PNG, written atomically."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    k = len(names)
    size = max(5.0, 0.28 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap='Blues')
    ax.set_xticks(range(k), names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set(xlabel='predicted', ylabel='true', title=title)
    fig.tight_layout()
    tmp = path + '.tmp.png'
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


MODELS.register('panns_cnn14', PannsRecipe(panns_cnn14))
MODELS.register('panns_cnn10', PannsRecipe(panns_cnn10))
MODELS.register('panns_cnn6', PannsRecipe(panns_cnn6))
