"""What a model contributes to the shared engine: the small, model-specific part of a run.

A recipe is registered under the model's name in :data:`src.recipes.MODELS`. The engine and the
top-level scripts only call the methods below; they never branch on the model's name.
"""


class Recipe:
    """Base class of model recipes.

    Class attributes:
        data_schema, eval_schema: dataclasses checked against the config's ``data`` / ``eval``.
        batch_keys: names of the batch arrays, in the order the loss network takes them.
        best_metric, best_mode: the evaluation metric that picks the best checkpoint, 'min'/'max'.
        curve_metrics: evaluation metrics on one scale drawn beside the loss in training_curves.png.
    """
    data_schema = None
    eval_schema = None
    batch_keys = ()
    best_metric = ''
    best_mode = 'min'
    tiny_args = {}        # network kwargs of a tiny variant, for the registry-driven tests
    tiny_lr = 1e-2        # Adam learning rate at which a few steps lower that variant's loss
    curve_metrics = ()    # evaluation metrics drawn in the training curves (default: best_metric)
    folds = ()            # cross-validation folds (``--fold`` / ``--folds``), e.g. ESC-50's 1-5
    default_checkpoint = 'best'   # what eval.py / export.py take from a run: 'best' or 'last'
    fold_key = ''         # the ``data`` field naming the held-out fold

    def __init__(self, network_factory, loss_factory=None):
        self.network_factory = network_factory
        self.loss_factory = loss_factory

    def build_network(self, cfg):
        """The network (what is exported and evaluated), from ``model.args``."""
        return self.network_factory(**cfg.model.args)

    def batch_sampler(self, cfg, train_set):
        """Which items make each training step (:mod:`src.data.sampler`): by default
        ``train.batch_size`` random items per rank; recipes with items of varying length return
        a :class:`~src.data.sampler.BucketBatches` (the dataset then pads to each batch's
        ``pad_length``)."""
        from ..data.sampler import RandomBatches
        return RandomBatches(len(train_set), cfg.train.batch_size, seed=cfg.train.seed, shuffle=True)

    def build_loss_net(self, network, cfg, train_set):
        """A cell mapping the batch tensors (``batch_keys`` order) to a scalar loss. It must hold
        the network as its attribute ``network`` (checkpoint names start with ``network.``)."""
        raise NotImplementedError

    def example_batch(self, cfg, batch_size, rng):
        """A random batch in the training layout: (dict of numpy arrays, object with what
        ``build_loss_net`` reads from a training set, e.g. ``num_classes``)."""
        raise NotImplementedError

    def train_set(self, cfg):
        """The training dataset (``__len__``, ``make_batch(indices, rng)``)."""
        raise NotImplementedError

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', rank=0, world=1):
        """Evaluate ``network`` (in inference mode); returns a dict of metrics, writes files to
        ``out_dir``. ``cache_key`` identifies the weights, so that cached work can be reused.

        Called on every data-parallel rank: a recipe may share the work out
        (:func:`src.distributed.shard`, :func:`src.distributed.gather_to_rank0`); rank 0 returns
        the metrics and writes the files, the other ranks return {}."""
        raise NotImplementedError

    def format_metrics(self, metrics):
        """Human-readable lines of the metrics (what eval.py prints)."""
        return '\n'.join(f"{k} = {v}" for k, v in metrics.items())

    def write_inference_inputs(self, cfg, out_dir, progress=True):
        """Write the evaluation inputs as raw ``.bin`` files for an offline runtime (Ascend 310);
        returns how many."""
        raise NotImplementedError

    def score_inference_outputs(self, cfg, input_dir, result_dir):
        """Metrics from the outputs an offline runtime wrote for :meth:`write_inference_inputs`."""
        raise NotImplementedError

    def export_inputs(self, cfg, length=None):
        """Example input tensors for export; ``length`` None = dynamic along time."""
        raise NotImplementedError

    def input_length(self, cfg, seconds):
        """Length of the exported input's time axis for ``seconds`` of audio (frames, samples)."""
        from ..errors import ConfigError
        raise ConfigError("this model cannot convert export.fixed_seconds to its input length: "
                          "give export.fixed_frames")

    def sidecar(self, cfg):
        """JSON-able facts an exported model needs beside it (sample rate, features ...)."""
        return {}

    def load_pretrained(self, network, path):
        """Initialise ``network`` from pretrained weights (``model.pretrained``) before training.

        The base reads a MindSpore checkpoint (a run's or a bare network's) and loads every
        parameter whose name and shape fit; recipes extend it to other toolkits' formats.

        Returns:
            names of the network's parameters left as initialised (e.g. a classification layer
            with another number of classes), for the trainer to report.

        Raises:
            CheckpointError: nothing in the file fits the network.
        """
        from ..checkpoint import read_params
        return load_matching(network, network_params(read_params(path)), path)

    def combine_folds(self, fold_results, out_dir):
        """Extra summary of a cross-validation (e.g. a confusion matrix over all folds) from the
        ``{fold: {'metrics': ..., 'eval_dir': ...}}`` of every fold; returns JSON-able facts."""
        return {}

    def demo_config(self):
        """Path of the model's demo config (small network, demo data, CPU, minutes)."""
        raise NotImplementedError


def load_matching(network, params, path):
    """Load the entries of ``params`` (name -> array) whose name and shape fit ``network``;
    returns the names of the network's parameters left as they were."""
    import mindspore as ms
    from ..errors import CheckpointError
    # names relative to the network: inside the loss cell, Parameter.name carries 'network.'
    own = dict(network.parameters_and_names())
    fits = {k: v for k, v in params.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    if not fits:
        raise CheckpointError(f"{path}: no parameter fits the network (names such as "
                              f"{', '.join(list(params)[:3])}); is it a checkpoint of this model?")
    for name, value in fits.items():
        own[name].set_data(ms.Tensor(value, dtype=own[name].dtype))
    return [name for name in own if name not in fits]


def network_params(params):
    """The network's parameters out of a training checkpoint (``network.`` prefix stripped);
    a checkpoint of the bare network is returned unchanged."""
    if any(k.startswith('network.') for k in params):
        return {k[len('network.'):]: v for k, v in params.items() if k.startswith('network.')}
    return params
