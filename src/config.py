"""Configs are plain data checked against a schema.

A run's config is a YAML file of nested sections (``model``, ``data``, ``optim``, ``schedule``,
``train``, ``eval``, ``export``, ``runtime``) plus dotted command-line overrides
(``train.epochs=3 model.args.channels=[512,512,512,512,1536]``). :func:`load_config` merges them
and checks the result against typed dataclasses: an unknown key, a value of the wrong type or a
value outside its allowed set is a :class:`~src.errors.ConfigError` naming the key, the file and
the nearest valid key. Sections whose fields depend on the model (``data``, ``eval``,
``model.args``) are checked against the schema the model's recipe declares.

The result is a tree of dataclass instances; :func:`to_dict` turns it back into plain data
(saved as ``config.yaml`` in the run directory, and loadable again with :func:`load_config`).
"""
import dataclasses
import difflib
import inspect
import os
import typing
from dataclasses import dataclass, field
from typing import Literal

import yaml

from .errors import ConfigError

AMP_LEVELS = ('O0', 'O1', 'O2', 'O3')


@dataclass
class ModelConfig:
    """Which registered model, and the keyword arguments of its network."""
    name: str = ''
    args: dict = field(default_factory=dict)
    # weights to start training from: a MindSpore checkpoint, or a format the recipe imports
    # (PANNs: the public AudioSet .pth / .npz); ignored when a run resumes
    pretrained: str = ''


@dataclass
class OptimConfig:
    """Optimizer (:mod:`src.engine.optim`). ``weight_decay`` is L2 added to the gradient for
    ``adam`` (torch ``Adam``), decoupled for ``adamw`` (torch ``AdamW``)."""
    name: Literal['adam', 'adamw', 'sgd'] = 'adam'
    lr: float = 1e-3                 # THE learning rate: the schedule multiplies it
    weight_decay: float = 0.0
    no_decay_bias_and_norm: bool = False   # no weight decay on biases and norm gains (ndim < 2)
    lr_scales: dict = field(default_factory=dict)   # {parameter set: scale of optim.lr}
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    grad_clip: float = 0.0          # max global gradient norm; 0 = off


@dataclass
class ScheduleConfig:
    """Learning-rate schedule (see :mod:`src.engine.schedules` for names and arguments)."""
    name: str = 'constant'
    args: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 8              # per device
    max_steps: int = 0               # stop after this many optimizer steps; 0 = all epochs
    seed: int = 0
    amp_level: Literal['O0', 'O1', 'O2', 'O3'] = 'O0'
    loss_scale: float = 65536.0      # initial dynamic loss scale (amp_level != O0)
    loss_scale_window: int = 1000    # steps without overflow before the scale doubles
    num_workers: int = 2             # data-loader worker processes; 0 = in the main process
    prefetch: int = 4                # batches prepared ahead per worker
    log_every: int = 10              # steps between logged training records
    ckpt_every: int = 0              # steps between checkpoints; 0 = at epoch end only
    keep_last: int = 3               # checkpoints kept besides the best one
    eval_every: int = 1              # epochs between validations; 0 = never during training
    eval_every_steps: int = 0        # updates between validations as well; 0 = off
    best_metric: str = ''            # validation metric that picks best.ckpt ('' = the recipe's)
    accum_steps: int = 1             # micro-batches per update (gradient accumulation)
    # parameter sets frozen for the first N updates or the whole run ('all'):
    # {feature_encoder: all, encoder: 10000}
    freeze: dict = field(default_factory=dict)
    max_bad_fraction: float = 0.01   # stop when more than this fraction of the items are unreadable
    nan_patience: int = 20           # consecutive skipped (overflowed) steps before stopping


@dataclass
class ExportConfig:
    file_format: Literal['MINDIR', 'AIR', 'ONNX'] = 'MINDIR'
    fixed_frames: int = 0            # 0 = dynamic time axis; > 0 = fixed input length
    fixed_seconds: float = 0.0       # fixed input of this much audio (the recipe's unit: frames, samples)
    impl: Literal['auto', 'native', 'gemm'] = 'auto'   # convolution kernels in the export
    target: Literal['CPU', 'GPU', 'Ascend', 'Ascend310'] = 'CPU'


@dataclass
class RuntimeConfig:
    device_target: Literal['CPU', 'GPU', 'Ascend'] = 'CPU'
    device_id: int = -1              # -1: $DEVICE_ID (set by launchers per rank), else 0
    mode: Literal['graph', 'pynative'] = 'graph'
    threads: int = 0                 # CPU kernel threads; 0 = all available cores


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: object = None              # the recipe's data schema
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: dict = field(default_factory=dict)   # keyword arguments of the model's loss
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: object = None              # the recipe's evaluation schema
    export: ExportConfig = field(default_factory=ExportConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    run_dir: str = ''                # '' = runs/<config name>
    source: str = ''                 # the YAML file this config came from (set by load_config)


# ----------------------------------------------------------------------------------- parsing

def parse_override(text):
    """``'a.b=value'`` -> (['a', 'b'], parsed value); the value is read as YAML (``3``, ``[1,2]``, ``null``)."""
    if '=' not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split('=', 1)
    key = key.strip().lstrip('-')
    if not key:
        raise ConfigError(f"override {text!r} has no key before '='")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ''
    except yaml.YAMLError:
        value = raw
    return key.split('.'), value


def _set_dotted(tree, keys, value):
    node = tree
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


def read_yaml(path):
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path) as f:
            tree = yaml.safe_load(f) or {}
    except yaml.YAMLError as err:
        where = getattr(err, 'problem_mark', None)
        line = f" line {where.line + 1}" if where else ''
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return tree


def load_config(path, overrides=(), recipes=None):
    """Read ``path``, apply ``overrides`` (``'a.b=v'`` strings), check and return a :class:`Config`.

    Args:
        path: YAML file.
        overrides: dotted ``key=value`` strings, applied in order.
        recipes: callable ``model_name -> recipe`` (its ``data_schema``, ``eval_schema``,
            ``network_factory``, ``loss_factory`` define the model-specific sections); default:
            the model registry.
    """
    tree = read_yaml(path)
    for text in overrides:
        keys, value = parse_override(text)
        _set_dotted(tree, keys, value)
    tree.setdefault('source', path)
    return build_config(tree, where=path, recipes=recipes)


def build_config(tree, where='config', recipes=None):
    """Check a plain nested dict against the schema; return a :class:`Config`."""
    if recipes is None:
        from .recipes import get_recipe as recipes
    tree = dict(tree)
    model = tree.get('model') or {}
    if not isinstance(model, dict) or not model.get('name'):
        raise ConfigError(f"{where}: model.name is required (the registered model to train)")
    recipe = recipes(model['name'])
    cfg = _build(Config, tree, 'config', where,
                 {'data': recipe.data_schema, 'eval': recipe.eval_schema})
    cfg.model.args = check_kwargs(recipe.network_factory, cfg.model.args, 'model.args', where)
    if recipe.loss_factory is not None:
        cfg.loss = check_kwargs(recipe.loss_factory, cfg.loss, 'loss', where)
    elif cfg.loss:
        raise ConfigError(f"{where}: model {model['name']} has no configurable loss: remove "
                          f"the loss section (loss.{next(iter(cfg.loss))} would be ignored)")
    _check_ranges(cfg, where)
    _check_metric(cfg, recipe, where)
    from .engine.schedules import moved_argument_hint, schedule_arguments
    try:
        signature = schedule_arguments(cfg.schedule.name)
    except ConfigError as err:
        raise ConfigError(f"{where}: schedule.name: {err}") from None
    for name in cfg.schedule.args:
        hint = moved_argument_hint(name)
        if hint and name not in signature.parameters:
            raise ConfigError(f"{where}: {hint}")
    cfg.schedule.args = check_kwargs(signature, cfg.schedule.args, 'schedule.args', where)
    return cfg


def _check_metric(cfg, recipe, where):
    """``train.best_metric`` must be one of the recipe's declared metrics (with a direction)."""
    name = cfg.train.best_metric
    known = getattr(recipe, 'metrics', {}) or {}
    if name and name not in known:
        near = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ''
        raise ConfigError(f"{where}: train.best_metric {name!r} is not a metric of "
                          f"{cfg.model.name} ({', '.join(sorted(known)) or 'none'}){hint}")


def _check_ranges(cfg, where):
    """Values that type-check but cannot work (caught here, not as a crash mid-run)."""
    t = cfg.train
    for key in ('epochs', 'batch_size', 'log_every', 'prefetch', 'accum_steps'):
        if getattr(t, key) < 1:
            raise ConfigError(f"{where}: train.{key} must be at least 1, got {getattr(t, key)}")
    for key in ('max_steps', 'ckpt_every', 'eval_every', 'eval_every_steps', 'num_workers'):
        if getattr(t, key) < 0:
            raise ConfigError(f"{where}: train.{key} must be 0 or more, got {getattr(t, key)}")
    if len(cfg.optim.betas) != 2 or not all(isinstance(b, (int, float)) for b in cfg.optim.betas):
        raise ConfigError(f"{where}: optim.betas must be two numbers, got {list(cfg.optim.betas)}")
    if cfg.export.fixed_frames < 0 or cfg.export.fixed_seconds < 0:
        raise ConfigError(f"{where}: export.fixed_frames and export.fixed_seconds must be 0 (dynamic) "
                          f"or positive, got {cfg.export.fixed_frames} and {cfg.export.fixed_seconds}")
    if cfg.optim.lr < 0 or cfg.optim.weight_decay < 0 or cfg.optim.grad_clip < 0:
        raise ConfigError(f"{where}: optim.lr, optim.weight_decay and optim.grad_clip must be >= 0")
    for name, scale in cfg.optim.lr_scales.items():
        scale = _coerce(float, scale, f"optim.lr_scales.{name}", where)   # YAML reads 1e-1 as text
        if scale < 0:
            raise ConfigError(f"{where}: optim.lr_scales.{name} must be a number >= 0, got {scale!r}")
        cfg.optim.lr_scales[name] = scale
    for name, until in cfg.train.freeze.items():
        if not (until == 'all' or (isinstance(until, int) and not isinstance(until, bool) and until >= 0)):
            raise ConfigError(f"{where}: train.freeze.{name} must be 'all' or a number of updates "
                              f">= 0, got {until!r}")


def check_kwargs(factory, args, key, where):
    """Check ``args`` against ``factory``'s keyword parameters (names, and types of the defaults);
    ``factory`` may also be an ``inspect.Signature``."""
    signature = factory if isinstance(factory, inspect.Signature) else inspect.signature(factory)
    params = {n: p for n, p in signature.parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    out = dict(args)
    for name, value in args.items():
        if name not in params:
            raise ConfigError(_unknown(f"{key}.{name}", name, [f"{key}.{p}" for p in params], where))
        default = params[name].default
        if default is not inspect.Parameter.empty and default is not None and value is not None:
            out[name] = _coerce(type(default), value, f"{key}.{name}", where)
    return out


def _unknown(full_key, name, valid, where):
    short = [v.rsplit('.', 1)[-1] for v in valid]
    near = difflib.get_close_matches(name, short, n=1, cutoff=0.5)
    parent = full_key.rsplit('.', 1)[0] + '.' if '.' in full_key else ''
    hint = f"; did you mean {parent}{near[0]}?" if near else ''
    return f"{where}: unknown key {full_key!r}{hint}"


def _build(cls, tree, key, where, dynamic=None):
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{where}: {key} must be a mapping, got {type(tree).__name__} {tree!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for name in tree:
        if name not in names:
            raise ConfigError(_unknown(f"{key}.{name}" if key != 'config' else name, str(name),
                                       [f"{key}.{n}" for n in names], where))
    kwargs = {}
    for f in dataclasses.fields(cls):
        sub = f.name if key == 'config' else f"{key}.{f.name}"
        if dynamic and f.name in dynamic:
            schema = dynamic[f.name]
            kwargs[f.name] = _build(schema, tree.get(f.name), sub, where) if schema else None
        elif f.name in tree:
            kwargs[f.name] = _coerce(hints[f.name], tree[f.name], sub, where)
    return cls(**kwargs)


def _coerce(tp, value, key, where):
    """Check ``value`` against annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, where)
    if origin is typing.Union:                      # Optional[X]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key, where)
    if origin is Literal:
        if value not in args:
            near = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ''
            raise ConfigError(f"{where}: {key} must be one of {', '.join(map(repr, args))}, "
                              f"got {value!r}{hint}")
        return value
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads '1e-3' (no dot) as a string; accept what Python reads as a number.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(key, 'a number', value, where)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, 'an integer', value, where)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(key, 'true or false', value, where)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(key, 'a string', value, where)
        return value
    if tp in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _type_error(key, 'a list', value, where)
        if args and args[0] is not Ellipsis:
            value = [_coerce(args[0], v, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return tuple(value) if (tp is tuple or origin is tuple) else list(value)
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise _type_error(key, 'a mapping', value, where)
        return dict(value)
    return value


def _type_error(key, expected, value, where):
    return ConfigError(f"{where}: {key} must be {expected}, got {type(value).__name__} {value!r}")


def to_dict(cfg):
    """The config as plain data (tuples become lists), ready for YAML."""
    def plain(v):
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(cfg)


def save_config(cfg, path):
    """Write the resolved config as YAML, atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, 'w') as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False)
    os.replace(tmp, path)
