"""DPRNN-TasNet speech separation: what the shared engine needs to know about this model.

Training: random ``data.segment``-second crops of LibriMix (or wsj0-2mix / WHAM!) mixtures,
DPRNN-TasNet (asteroid's, :mod:`.network`) -> estimated sources, permutation-invariant negative
SI-SDR (:mod:`.loss`). Evaluation: every mixture of a split at full length, SI-SNRi and SDRi
averaged over utterances (:mod:`.evaluate`), a per-utterance CSV, a few separated examples
(wav + spectrograms).
"""
import os
from dataclasses import dataclass

import numpy as np

from ..engine.recipe import Demo, Recipe
from ..errors import ConfigError, DataError
from ..recipes import MODELS
from .dataset import SeparationDataConfig
from .network import DPRNNTasNet


@dataclass
class SeparationEvalConfig:
    """``eval`` section."""
    sdr: bool = True              # BSS-eval SDR / SDRi too (mir_eval, ~0.4 s per 10 s mixture)
    valid_sdr: bool = False       # ... also in the validations during training (slower)
    examples: int = 3             # separated examples written as wav files and a spectrogram PNG
    max_items: int = 0            # evaluate the first N mixtures of the split; 0 = all
    untrained: bool = False       # also report the untrained network on the test split (the floor)


class SeparationRecipe(Recipe):
    data_schema = SeparationDataConfig
    eval_schema = SeparationEvalConfig
    batch_keys = ('mixture', 'sources')
    input_keys = ('mixture',)
    metrics = {'si_snri': 'max', 'sdri': 'max', 'si_snr': 'max'}
    best_metric = 'si_snri'
    curve_metrics = ('si_snri',)
    parameter_sets = {'encoder': ('encoder.',), 'masker': ('masker.',), 'decoder': ('decoder.',)}
    tiny_args = {'n_filters': 16, 'kernel_size': 4, 'stride': 2, 'bn_chan': 16, 'hid_size': 8,
                 'chunk_size': 10, 'hop_size': 5, 'n_repeats': 1}
    tiny_lr = 1e-3
    tiny_freeze = {'encoder': 'all'}

    # -- model facts --------------------------------------------------------------------------
    @staticmethod
    def n_src(cfg):
        return int(cfg.model.args.get('n_src', 2))

    @staticmethod
    def network_rate(cfg):
        return int(cfg.model.args.get('sample_rate', 8000))

    def _check_rates(self, cfg):
        if self.network_rate(cfg) != cfg.data.sample_rate:
            raise ConfigError(f"data.sample_rate {cfg.data.sample_rate} differs from the network's "
                              f"model.args.sample_rate {self.network_rate(cfg)}: set both to the "
                              "rate of the data (LibriMix: wav8k -> 8000, wav16k -> 16000)")
        if cfg.data.n_src != self.n_src(cfg):
            raise ConfigError(f"data.n_src {cfg.data.n_src} differs from model.args.n_src "
                              f"{self.n_src(cfg)}: set both to the number of sources of the data")

    # -- training -----------------------------------------------------------------------------
    def has_validation(self, cfg):
        return bool(cfg.data.valid_split)

    def train_set(self, cfg):
        from .dataset import separation_train_set
        self._check_rates(cfg)
        return separation_train_set(cfg.data)

    def build_loss_net(self, network, cfg, train_set):
        from .loss import SeparationLossNet
        return SeparationLossNet(network)

    def example_batch(self, cfg, batch_size, rng):
        from types import SimpleNamespace
        n_src, samples = self.n_src(cfg), self.network_rate(cfg) // 10
        sources = (0.1 * rng.standard_normal((batch_size, n_src, samples))).astype(np.float32)
        return {'mixture': sources.sum(axis=1), 'sources': sources}, SimpleNamespace()

    def load_pretrained(self, network, path):
        """asteroid's published ``DPRNNTasNet`` files (``.pth`` with ``model_args``, read without
        torch, see :func:`src.dprnn.convert.read_asteroid_file`; or an ``.npz`` of one), the
        ``.ckpt`` of ``tools/convert_asteroid_dprnn.py``, or a MindSpore checkpoint of this model."""
        from ..checkpoint import is_foreign_state, load_state
        from ..errors import CheckpointError
        if not is_foreign_state(path):
            return super().load_pretrained(network, path)
        from .convert import convert_asteroid_state, dprnn_args_from_asteroid, read_asteroid_file
        asteroid_args, state = read_asteroid_file(path)
        kwargs = dprnn_args_from_asteroid(asteroid_args, path)
        if kwargs['n_src'] != network.n_src:
            raise CheckpointError(f"{path} separates {kwargs['n_src']} sources, the config "
                                  f"{network.n_src}: set model.args.n_src={kwargs['n_src']} (and "
                                  f"data.n_src), or use a {network.n_src}-source model")
        load_state(network, convert_asteroid_state(state, kwargs, path),
                   subject=f"{path} does not fit the configured DPRNNTasNet (model.args must be "
                           "the file's model_args)")
        return []

    def check_checkpoint(self, cfg, params, path):
        """The number of sources and the encoder of a checkpoint must be the config's."""
        from ..errors import CheckpointError
        first_out = params.get('masker.first_out.1.weight')
        bn_chan = int(cfg.model.args.get('bn_chan', 128))
        if first_out is not None and np.shape(first_out)[0] % bn_chan == 0 \
                and np.shape(first_out)[0] // bn_chan != self.n_src(cfg):
            found = np.shape(first_out)[0] // bn_chan
            raise CheckpointError(f"{path} separates {found} sources, the config {self.n_src(cfg)}: "
                                  f"set model.args.n_src={found} (and data.n_src={found}), or use a "
                                  f"checkpoint of a {self.n_src(cfg)}-source model")
        filters = params.get('encoder.filterbank._filters')
        kernel = int(cfg.model.args.get('kernel_size', 16))
        if filters is not None and np.shape(filters)[-1] != kernel:
            raise CheckpointError(f"{path} has an encoder of kernel {np.shape(filters)[-1]}, the "
                                  f"config {kernel}: set model.args.kernel_size (and stride) as "
                                  "in its training config")

    # -- evaluation ---------------------------------------------------------------------------
    def _eval_set(self, cfg, split):
        """(the split's :class:`~src.dprnn.dataset.SeparationEvalSet`, the split's name)."""
        from .dataset import separation_eval_set
        self._check_rates(cfg)
        items = separation_eval_set(cfg.data, split)
        if split == 'test' and cfg.eval.max_items:
            items.items = items.items[:cfg.eval.max_items]
        return items, cfg.data.valid_split if split == 'valid' else cfg.data.test_split

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        """SI-SNRi / SDRi over the split's mixtures at full length. Each rank separates its share;
        rank 0 writes ``per_utterance.csv``, ``metrics.json`` and the examples. With
        ``eval.untrained`` the test split is also separated by the untrained network (seeded
        initialisation), the floor that training starts from."""
        from ..distributed import gather_to_rank0, shard
        from .evaluate import summarize, write_report
        items, split_name = self._eval_set(cfg, split)
        with_sdr = cfg.eval.sdr if split == 'test' else cfg.eval.valid_sdr
        mine = shard(len(items), rank, world)
        examples = cfg.eval.examples if rank == 0 and split == 'test' else 0
        values = gather_to_rank0(self._separate(network, cfg, items, mine, with_sdr, progress and rank == 0,
                                                split_name, os.path.join(out_dir, 'examples'), examples),
                                 rank, world)
        untrained = None
        if split == 'test' and cfg.eval.untrained:
            import mindspore as ms
            ms.set_seed(cfg.train.seed)
            untrained = gather_to_rank0(self._separate(self.build_network(cfg), cfg, items, mine, False,
                                                       progress and rank == 0, 'untrained network'),
                                        rank, world)
        if rank != 0:
            return {}
        n_src = items.n_src
        rows = [{'si_snr': v[0], 'si_snri': v[1], 'sdr': v[2], 'sdri': v[3],
                 'perm': _perm_decode(int(v[4]), n_src)} for v in values]
        metrics = summarize(rows, split_name)
        if untrained is not None:
            metrics['untrained_si_snri'] = float(np.mean(untrained[:, 1]))
        write_report(rows, [item.mixture_id for item in items.items],
                     [item.num_samples for item in items.items], metrics, out_dir)
        return metrics

    @staticmethod
    def _separate(network, cfg, items, mine, with_sdr, progress, desc, examples_dir='', examples=0):
        """Scores of the mixtures ``items[mine]``: float64 rows (si_snr, si_snri, sdr, sdri, the
        permutation as one number); the first ``examples`` are written to ``examples_dir``."""
        import mindspore as ms
        from ..engine.trainer import progress as bar
        from .evaluate import score_mixture, write_example
        network.set_train(False)
        run = _dynamic_length(network)
        values = np.full((len(mine), 5), np.nan)
        for row, index in enumerate(bar(mine, disable=None if progress else True, desc=desc)):
            item = items[index]
            mixture, references = item['mixture'], item['sources']
            estimates = run(ms.Tensor(mixture[None, :])).asnumpy()[0]
            scores = score_mixture(estimates, references, mixture, with_sdr)
            values[row, :4] = [scores[k] for k in ('si_snr', 'si_snri', 'sdr', 'sdri')]
            values[row, 4] = _perm_code(scores['perm'])
            if row < examples:
                write_example(examples_dir, item['mixture_id'], mixture, references, estimates,
                              scores['perm'], cfg.data.sample_rate)
        return values

    def format_metrics(self, metrics):
        from .evaluate import format_separation
        return format_separation(metrics)

    # -- offline inference (Ascend 310, infer.py bins) -------------------------------------------
    def write_inference_inputs(self, cfg, out_dir, progress=True):
        """The test split's mixtures as ``<out_dir>/feats/<n>.bin`` (float32 (1, samples)) and
        ``<out_dir>/mixtures.tsv`` (``n, mixture_id``); earlier inputs beyond them are removed."""
        from ..checkpoint import atomic_write_json
        from ..data.manifest import write_text
        from ..engine.trainer import progress as bar
        from ..inference.bins import remove_items_from, write_item
        items, split_name = self._eval_set(cfg, 'test')
        feats = os.path.join(out_dir, 'feats')
        os.makedirs(feats, exist_ok=True)
        rows = []
        for n in bar(range(len(items)), disable=None if progress else True, desc='mixtures'):
            item = items[n]
            write_item(feats, n, {'mixture': item['mixture'][None, :].astype(np.float32)})
            rows.append(f"{n}\t{item['mixture_id']}\n")
        remove_items_from(feats, len(rows))
        write_text(os.path.join(out_dir, 'mixtures.tsv'), ''.join(rows))
        atomic_write_json(os.path.join(out_dir, 'inputs.json'),
                          {'model': cfg.model.name, 'split': split_name, 'mixtures': len(rows)})
        return len(rows)

    def score_inference_outputs(self, cfg, input_dir, result_dir):
        """SI-SNRi / SDRi (as :meth:`evaluate`) from the separated sources ``<result_dir>/<n>_0.bin``
        (float32 (1, n_src, samples)) of the mixtures :meth:`write_inference_inputs` wrote."""
        from .evaluate import summarize, write_report, score_mixture
        table = os.path.join(input_dir, 'mixtures.tsv')
        if not os.path.exists(table):
            raise DataError(f"{table} not found: run `python preprocess.py infer_inputs` first")
        with open(table) as f:
            rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
        items, split_name = self._eval_set(cfg, 'test')
        by_id = {item.mixture_id: n for n, item in enumerate(items.items)}
        scores, ids, lengths = [], [], []
        for n, mixture_id in rows:
            if mixture_id not in by_id:
                raise DataError(f"{table}: mixture {mixture_id} is not in split {split_name!r} of "
                                "the config's data; write the inputs with this config again")
            item = items[by_id[mixture_id]]
            mixture, references = item['mixture'], item['sources']
            path = os.path.join(result_dir, f'{n}_0.bin')
            if not os.path.exists(path):
                raise DataError(f"{path} not found: the inference run wrote only part of the "
                                f"{len(rows)} outputs; run it on every file of {input_dir}/feats")
            estimates = np.fromfile(path, np.float32)
            if estimates.size != references.size:
                raise DataError(f"{path}: {estimates.size} values, expected {references.shape[0]} "
                                f"sources x {references.shape[1]} samples")
            scores.append(score_mixture(estimates.reshape(references.shape), references, mixture,
                                        cfg.eval.sdr))
            ids.append(mixture_id)
            lengths.append(len(mixture))
        metrics = summarize(scores, split_name)
        out_dir = os.path.join(os.path.dirname(os.path.abspath(result_dir)), 'eval')
        write_report(scores, ids, lengths, metrics, out_dir)
        return metrics

    # -- export -------------------------------------------------------------------------------
    def export_signature(self, cfg):
        return {'task': 'separation',
                'inputs': [{'name': 'mixture', 'dtype': 'float32', 'axes': ['batch', 'samples'],
                            'doc': 'mixture waveform at sample_rate (batch, samples)'}],
                'outputs': [{'name': 'sources', 'dtype': 'float32',
                             'axes': ['batch', self.n_src(cfg), 'samples'],
                             'doc': 'separated sources (batch, n_src, samples), in no fixed order'}]}

    def input_length(self, cfg, seconds):
        return int(round(seconds * self.network_rate(cfg)))

    def sidecar(self, cfg):
        return {'model': cfg.model.name, 'sample_rate': self.network_rate(cfg),
                'n_src': self.n_src(cfg)}

    def demo_inference(self, cfg, model_path):
        """Separate the first test mixture of the demo data into ``separated/`` of the run
        that exported ``model_path`` (``<run_dir>/export/<model>.mindir``)."""
        items, _ = self._eval_set(cfg, 'test')
        run_dir = os.path.dirname(os.path.dirname(os.path.abspath(model_path)))
        return ['separate', items.items[0].mixture_path, '--model', model_path,
                '--out', os.path.join(run_dir, 'separated')]


def _dynamic_length(network):
    """``network`` callable on (1, T) mixtures of any T without recompiling per length in graph
    mode (the time axis declared dynamic); in PyNative mode the network itself."""
    import mindspore as ms
    if ms.get_context('mode') == ms.GRAPH_MODE:
        network.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))
    return network


def _perm_code(perm):
    """A permutation as one number (base n_src digits), so that it travels in a float array."""
    code = 0
    for j in perm:
        code = code * len(perm) + int(j)
    return code


def _perm_decode(code, n_src):
    digits = []
    for _ in range(n_src):
        code, digit = divmod(code, n_src)
        digits.append(digit)
    return digits[::-1]


DEMO = Demo('dprnn', 'configs/dprnn/demo.yaml', ('librimix',),
            'Libri2Mix-layout demo of eSpeak NG speech: a small DPRNN on CPU, SI-SNRi on unseen '
            'speakers, separated examples (~12 min)')
MODELS.register('dprnn', SeparationRecipe(DPRNNTasNet, demo=DEMO))
