"""What a model contributes to the shared engine: the small, model-specific part of a run.

A recipe is registered under the model's name in :data:`src.recipes.MODELS`. The engine and the
top-level scripts only call the methods below; they never branch on the model's name.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Demo:
    """A model's demo, what ``bash scripts/run_demo.sh NAME`` runs: demo data, a small config, CPU,
    minutes (``python -m src.recipes demos`` lists them).

    Attributes:
        name: the script's MODEL argument.
        config: the demo config, relative to the repository root; it reads the demo corpora
            from ``data/demo``, where the script writes them.
        corpora: the demo corpora it needs (``preprocess.py demo CORPORA``).
        about: one line: what the demo shows and about how long it takes.
        stages: its training runs (:class:`DemoStage`) when there are several; ``config`` is
            then the exported stage's.
    """
    name: str
    config: str
    corpora: tuple
    about: str
    stages: tuple = ()

    def runs(self):
        """The demo's training runs in order (:class:`DemoStage`); a one-stage demo is its
        ``config``, trained, evaluated and exported in the demo's run directory."""
        return self.stages or (DemoStage('', self.config, exported=True),)


@dataclass(frozen=True)
class DemoStage:
    """One training run of a demo of several (wav2vec 2.0: pretraining, then CTC fine-tuning
    from it, and a from-scratch baseline beside it).

    Attributes:
        name: the stage's sub-directory of the demo's run directory ('' = that directory).
        config: its config, relative to the repository root.
        init_from: the name of an earlier stage whose trained network starts this one
            (``model.pretrained`` = that stage's run directory); '' = from scratch.
        exported: the stage whose network the demo exports and runs ``infer.py`` with (one).
        about: what the stage shows, one line.
    """
    name: str
    config: str
    init_from: str = ''
    exported: bool = False
    about: str = ''


class Recipe:
    """Base class of model recipes.

    Class attributes:
        data_schema, eval_schema: dataclasses checked against the config's ``data`` / ``eval``.
        batch_keys: names of the batch arrays, in the order the loss network takes them.
        metrics: every evaluation metric the recipe reports that can select a model, with its
            direction: ``{'eer': 'min'}``, ``{'accuracy': 'max'}``. The best checkpoint, the
            ``plateau`` schedule and cross-validation follow the direction of the metric that
            ``train.best_metric`` names.
        best_metric: the default of ``train.best_metric``.
        curve_metrics: evaluation metrics on one scale drawn beside the loss in training_curves.png.
        parameter_sets: named sets of the network's parameters, ``{name: (name prefix, ...)}``,
            for ``train.freeze`` and ``optim.lr_scales``.
        folds: cross-validation (:class:`src.engine.crossval.Folds`), or None.
        pretrained_prefix, pretrained_heads: what ``model.pretrained`` must fill (see
            :func:`load_matching`): every parameter whose name starts with the prefix ('' = the
            whole network), except those under a head prefix, which may be left as initialised.
    """
    data_schema = None
    eval_schema = None
    batch_keys = ()
    input_keys = ()       # the batch arrays the network itself takes (default: the first one)
    metrics = {}
    best_metric = ''
    tiny_args = {}        # network kwargs of a tiny variant, for the registry-driven tests
    tiny_freeze = {}      # train.freeze of the registry-driven train-step test (frozen parts)
    tiny_lr = 1e-2        # Adam learning rate at which a few steps lower that variant's loss
    curve_metrics = ()    # evaluation metrics drawn in the training curves (default: best_metric)
    parameter_sets = {}
    folds = None
    pretrained_prefix = ''    # model.pretrained must fill these parameters ('' = all) ...
    pretrained_heads = ()     # ... but these prefixes (e.g. a classifier of another size)

    @property
    def network_input_keys(self):
        return tuple(self.input_keys) or tuple(self.batch_keys[:1])

    @property
    def best_mode(self):
        """'min' or 'max': the direction of the default selection metric."""
        return self.metric_direction(self.best_metric)

    def metric_direction(self, name):
        """'min' or 'max' for a declared metric (ConfigError for an undeclared one)."""
        if name not in self.metrics:
            from ..errors import ConfigError
            raise ConfigError(f"metric {name!r} is not declared by this model's recipe "
                              f"({', '.join(sorted(self.metrics)) or 'none'})")
        return self.metrics[name]

    def __init__(self, network_factory, loss_factory=None, demo=None):
        self.network_factory = network_factory
        self.loss_factory = loss_factory
        self.demo = demo          # a Demo, on the one registered variant that has a demo

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

    def step_inputs(self, cfg, step):
        """Per-update scalars passed to the loss network after the batch arrays, as
        ``{name: float}`` in a fixed order (e.g. wav2vec 2.0's Gumbel temperature
        ``max(2 * 0.999995 ** step, 0.5)``). They are inputs of the compiled step, so a new value
        each update reaches the graph, and they are logged with the training records."""
        return {}

    def training_warning(self, cfg, record):
        """A one-line warning about a logged training record (its loss, aux values and step
        inputs, as ``train_log.jsonl`` holds them), or None: the known failures a user should
        hear of while the run goes on (wav2vec 2.0: the quantizer's codebook collapsing)."""
        return None

    def has_validation(self, cfg):
        """Whether ``cfg`` configures a validation split (held-out training data, a dev set).

        Model selection (``best.ckpt``, the ``plateau`` schedule) looks at validation results
        only: without a validation split nothing is evaluated during training, and the test set
        is evaluated by eval.py (or at the end of each cross-validation fold)."""
        return False

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        """Evaluate ``network`` (in inference mode) on ``split`` ('valid' or 'test'); returns a
        dict of metrics, writes files to ``out_dir``.

        ``cache_key`` identifies the weights, so that cached work can be reused; ``loss_net`` is
        the training loss network, for evaluations that need more than the network (wav2vec 2.0
        pretraining validation needs the quantizer). Called on every data-parallel rank: a
        recipe may share the work out (:func:`src.distributed.shard`,
        :func:`src.distributed.gather_to_rank0`); rank 0 returns the metrics and writes the
        files, the other ranks return {}."""
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

    def export_signature(self, cfg):
        """What the exported network takes and returns, and its task: ``{'task': str,
        'inputs': [{'name', 'dtype', 'axes', 'doc'}], 'outputs': [{'name', 'dtype', 'axes',
        'doc'}]}``, in the network's argument and output order. An axis is a size or a name
        (dynamic; ``'batch'`` is the batch). See :mod:`src.inference.signature`."""
        raise NotImplementedError

    def inference_network(self, network):
        """The cell that is exported and takes :meth:`export_signature`'s inputs: by default the
        network itself; a pretraining network exports its encoder (wav2vec 2.0's
        representations), not its training heads."""
        return network

    def export_inputs(self, cfg, length=None):
        """Example input tensors for export, one per input of :meth:`export_signature`;
        ``length`` None = dynamic along time, else the batch 1 and every other named axis
        ``length``."""
        from ..inference.signature import export_tensors
        return export_tensors(self.export_signature(cfg), length)

    def input_length(self, cfg, seconds):
        """Length of the exported input's time axis for ``seconds`` of audio (frames, samples)."""
        from ..errors import ConfigError
        raise ConfigError("this model cannot convert export.fixed_seconds to its input length: "
                          "give export.fixed_frames")

    def sidecar(self, cfg):
        """JSON-able facts an exported model needs beside it (sample rate, features ...)."""
        return {}

    def export_facts(self, cfg, checkpoint):
        """JSON-able facts of ``checkpoint`` for its sidecar, such as a decision threshold
        calibrated by its evaluation in ``cfg.run_dir``; {} when there are none."""
        return {}

    def load_pretrained(self, network, path):
        """Initialise ``network`` from pretrained weights (``model.pretrained``) before training.

        The base reads a MindSpore checkpoint (a run's or a bare network's) and loads it with
        :func:`load_matching` under ``pretrained_prefix`` / ``pretrained_heads``; recipes extend
        it to other toolkits' formats.

        Returns:
            names of the network's parameters left as initialised (e.g. a classification layer
            with another number of classes), for the trainer to report.

        Raises:
            CheckpointError: a parameter under ``pretrained_prefix`` that the file lacks or holds
                with another shape.
        """
        from ..checkpoint import read_params
        return load_matching(network, network_params(read_params(path)), path,
                             self.pretrained_prefix, self.pretrained_heads)

    def check_checkpoint(self, cfg, params, path):
        """Raise a one-line CheckpointError when ``params`` (a checkpoint's network parameters,
        name -> array) come from another configuration of the model than ``cfg``'s, naming the
        setting that differs and its value in the checkpoint (e.g. DPRNN's ``model.args.n_src``).
        Called before a trained network is loaded (eval.py, export.py, infer.py); by default it
        checks nothing, and a mismatch shows as the loader's list of mis-shaped parameters."""

    def demo_inference(self, cfg, model_path):
        """``infer.py`` arguments that show the exported ``model_path`` at work on the demo data
        of ``cfg`` (the last step of ``scripts/run_demo.sh``); empty: no such step."""
        return []


def load_matching(network, params, path, must_fill='', may_skip=(), subject='', hint=''):
    """Load pretrained ``params`` (name -> array, names as ``network.parameters_and_names()``
    gives them) into ``network``, strictly where it matters.

    Every parameter whose name starts with ``must_fill`` ('' = every parameter) and not with one
    of the ``may_skip`` prefixes must be in ``params`` with its shape. The others load where
    name and shape fit, and are left as initialised where not: a new classification layer, or
    one with another number of classes. Entries of ``params`` the network lacks are ignored (a
    converted checkpoint may carry a training head).

    Returns:
        the names of the network's parameters left as initialised.

    Raises:
        CheckpointError (one line): ``subject`` (default: the file does not fit the network),
            how many of the required parameters do not load, the first few missing and
            mis-shaped ones, then ``hint``; or nothing in the file fits at all.
    """
    import numpy as np
    from ..checkpoint import load_state
    from ..errors import CheckpointError
    own = dict(network.parameters_and_names())
    may_skip = tuple(may_skip)

    def required(name):
        return name.startswith(must_fill) and not (may_skip and name.startswith(may_skip))

    def fits(name):
        return name in params and tuple(np.shape(params[name])) == tuple(own[name].shape)

    if not any(fits(name) for name in own):
        raise CheckpointError(f"{path}: no parameter fits the network (names such as "
                              f"{', '.join(list(params)[:3])}); is it a checkpoint of this model?")
    left = [name for name in own if not required(name) and not fits(name)]
    needed = [name for name in own if required(name)]
    failing = sum(1 for name in needed if not fits(name))
    scope = f" under '{must_fill}'" if must_fill else ''
    load_state(network, {name: params[name] for name in own if name not in left and name in params},
               skip=left, hint=hint,
               subject=f"{subject or f'{path} does not fit the network'}: {failing} of "
                       f"{len(needed)} parameters{scope} do not load")
    return left


def network_params(params):
    """The network's parameters out of a training checkpoint (``network.`` prefix stripped);
    a checkpoint of the bare network is returned unchanged."""
    if any(k.startswith('network.') for k in params):
        return {k[len('network.'):]: v for k, v in params.items() if k.startswith('network.')}
    return params
