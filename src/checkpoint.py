"""Checkpoints that survive crashes, and loading that says what does not fit.

A training checkpoint is a MindSpore ``.ckpt`` (network, optimizer state) plus a JSON file of
the rest of the training state (epoch, step, loss scale, schedule, metrics). :class:`CheckpointManager`
writes both under temporary names, renames them into place and only then points ``latest.json``
at them, so a crash at any moment leaves the previous checkpoint and pointer intact. It keeps the
last ``keep_last`` checkpoints and, separately, the best one by a validation metric.
"""
import json
import os
import shutil

import numpy as np

from .errors import CheckpointError


def file_digest(path, chunk=1 << 20):
    """A short content hash of a file (caches and calibrations are keyed by the weights)."""
    import hashlib
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()[:16]


def atomic_write_json(path, obj):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_params(params, path):
    """Save a cell (or a list of parameters / a name->array dict) to ``path`` atomically."""
    import mindspore as ms
    # MindSpore appends '.ckpt' to names that lack it, so the temporary name keeps the suffix.
    tmp = f"{path}.tmp{os.getpid()}.ckpt"
    if isinstance(params, dict):
        params = [{'name': k, 'data': ms.Tensor(np.asarray(v))} for k, v in params.items()]
    ms.save_checkpoint(params, tmp)
    os.replace(tmp, path)


def read_params(path):
    """name -> numpy array of a ``.ckpt`` file; a missing or damaged file is a CheckpointError."""
    import mindspore as ms
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: empty checkpoint file (an interrupted copy?); use another one")
    try:
        params = ms.load_checkpoint(path)
    except Exception as err:   # MindSpore raises ValueError/RuntimeError with pages of text
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({first[:120]}); "
                              "use an intact copy (e.g. the previous one in the run directory)") from None
    return {k: v.asnumpy() for k, v in params.items()}


def check_fit(net, params, path, allow_missing=(), allow_unexpected=()):
    """Raise CheckpointError unless ``params`` (name -> array) fit ``net`` name for name and shape.

    Names starting with any prefix in ``allow_missing`` / ``allow_unexpected`` are not reported
    (e.g. the optimizer state when loading a training checkpoint into a bare network).
    """
    own = {p.name: tuple(p.shape) for p in net.get_parameters()}
    missing = [n for n in own if n not in params and not n.startswith(tuple(allow_missing) or ('\0',))]
    unexpected = [n for n in params if n not in own and not n.startswith(tuple(allow_unexpected) or ('\0',))]
    wrong = [f"{n} {tuple(params[n].shape)} vs {own[n]}" for n in own
             if n in params and tuple(params[n].shape) != own[n]]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:4])}"
                        f"{', ...' if len(unexpected) > 4 else ''})")
    if wrong:
        problems.append(f"wrong shape {len(wrong)} ({'; '.join(wrong[:3])}{'; ...' if len(wrong) > 3 else ''})")
    if problems:
        raise CheckpointError(f"{path} does not fit the network: {'; '.join(problems)}; "
                              "check model.args against the config the checkpoint was trained with")


def load_params_into(net, path_or_params, path=None, allow_missing=(), allow_unexpected=()):
    """Load a checkpoint into ``net`` after :func:`check_fit`; returns the name -> array dict."""
    import mindspore as ms
    if isinstance(path_or_params, str):
        path = path_or_params
        params = read_params(path)
    else:
        params = path_or_params
    check_fit(net, params, path or 'checkpoint', allow_missing, allow_unexpected)
    own = {p.name for p in net.get_parameters()}
    ms.load_param_into_net(net, {k: ms.Parameter(ms.Tensor(v), name=k)
                                 for k, v in params.items() if k in own}, strict_load=False)
    return params


def state_mismatches(expected, state, skip=(), shown=5):
    """What keeps ``state`` (name -> array) from filling a network of ``expected`` (name -> shape)
    exactly: phrases such as ``'missing: a, b (+3 more)'`` for the missing, unexpected and
    wrongly shaped names (at most ``shown`` of each); empty when it fits. Names in ``skip`` may
    be missing."""
    missing = [n for n in expected if n not in state and n not in skip]
    unexpected = [n for n in state if n not in expected]
    mismatched = [f"{n} {tuple(np.shape(state[n]))} vs {tuple(expected[n])}" for n in expected
                  if n in state and n not in skip and tuple(np.shape(state[n])) != tuple(expected[n])]
    problems = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('shape mismatch (checkpoint vs network)', mismatched)):
        if items:
            more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
            problems.append(f"{label}: {', '.join(items[:shown])}{more}")
    return problems


def load_state(net, state, skip=(), subject='checkpoint does not fit the network', hint=''):
    """Copy ``state`` (name -> array, names relative to ``net`` as ``parameters_and_names``
    gives them) into ``net``, strictly: every parameter but those in ``skip`` must be there
    with its shape, and nothing else.

    Raises:
        CheckpointError: ``subject``, then the first few missing, unexpected and wrongly shaped
            names, then ``hint``, on one line.
    """
    params = dict(net.parameters_and_names())
    problems = state_mismatches({n: tuple(p.shape) for n, p in params.items()}, state, skip)
    if problems:
        raise CheckpointError(f"{subject}: " + "; ".join(problems) + (f" ({hint})" if hint else ''))
    from mindspore import Tensor
    for name in (n for n in params if n not in skip):
        params[name].set_data(Tensor(np.asarray(state[name]), dtype=params[name].dtype))


def converted_paths(out, config_out=None):
    """(checkpoint path, config JSON path) of a converter's output; ``out`` must end in .ckpt."""
    from .errors import UserError
    if not out.endswith('.ckpt'):
        raise UserError(f"--out {out}: name the checkpoint *.ckpt (MindSpore would append the suffix)")
    return out, config_out or os.path.splitext(out)[0] + '.json'


def save_converted(params, out, config_path, config):
    """A converter's result: the parameters as a MindSpore checkpoint and the network config
    beside it, both written atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_params(params, out)
    atomic_write_json(config_path, config)


def is_foreign_state(path):
    """True for a file to read with :func:`read_torch_state`: an ``.npz``, a ``.pth``/``.pt``, or
    a PyTorch file by its content (a zip archive, or a pickle from torch < 1.6) whatever its
    suffix (speechbrain names them ``.ckpt`` like MindSpore)."""
    if path.endswith(('.npz', '.pth', '.pt')):
        return True
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except OSError:
        return False
    return head == b'PK\x03\x04' or head[:1] == b'\x80'


def read_torch_state(path, inner_key=None):
    """{key: numpy array} of a PyTorch state-dict file (torch needed) or an ``.npz`` of one
    (keys starting '__' skipped), for the checkpoint converters.

    Args:
        path: ``.pt``/``.pth``/``.ckpt`` torch file, or ``.npz``.
        inner_key: the file holds ``{inner_key: state_dict, ...}`` (PANNs: 'model'); a bare
            state dict is accepted too.

    Raises:
        UserError: the file is missing, or is a torch file and torch is not installed.
        CheckpointError: the file cannot be read as a state dict.
    """
    from .errors import UserError
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    if path.endswith('.npz'):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files if not k.startswith('__')}
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{path}: unreadable .npz ({err})") from None
    try:
        import torch
    except ImportError:
        raise UserError(f"reading {path} needs PyTorch: pip install torch, or pass the state dict "
                        "as an .npz instead") from None
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:   # torch raises many types for a bad file
        raise CheckpointError(f"{path}: not a readable torch state dict ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''})") from None
    if inner_key and isinstance(state, dict) and isinstance(state.get(inner_key), dict):
        state = state[inner_key]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, expected a state dict"
                              + (f" or a dict with a {inner_key!r} state dict" if inner_key else ''))
    return {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, 'detach')}


class CheckpointManager:
    """Training checkpoints in ``directory``: ``step_<N>.ckpt`` + ``step_<N>.json``, ``latest.json``,
    ``best.ckpt`` + ``best.json``.

    Args:
        directory: where the checkpoints live (created).
        keep_last: how many of the periodic checkpoints to keep (the best one is kept apart).
        mode: 'min' or 'max', the direction in which the best metric improves.
    """

    def __init__(self, directory, keep_last=3, mode='min'):
        self.directory = directory
        self.keep_last = max(1, keep_last)
        self.mode = mode
        os.makedirs(directory, exist_ok=True)

    def _path(self, name):
        return os.path.join(self.directory, name)

    def save(self, cell, state):
        """Write the checkpoint of ``cell`` with training ``state`` (a JSON-able dict with 'step')."""
        name = f"step_{state['step']:08d}"
        save_params(cell, self._path(name + '.ckpt'))
        atomic_write_json(self._path(name + '.json'), state)
        history = self.history()
        history = [h for h in history if h != name] + [name]
        atomic_write_json(self._path('latest.json'), {'latest': name, 'history': history[-self.keep_last:]})
        for old in history[:-self.keep_last]:
            for ext in ('.ckpt', '.json'):
                if os.path.exists(self._path(old + ext)):
                    os.remove(self._path(old + ext))
        return self._path(name + '.ckpt')

    def update_state(self, state):
        """Rewrite the training state of the checkpoint of ``state['step']`` (atomically)."""
        atomic_write_json(self._path(f"step_{state['step']:08d}.json"), state)

    def history(self):
        pointer = self._path('latest.json')
        if not os.path.exists(pointer):
            return []
        with open(pointer) as f:
            return json.load(f).get('history', [])

    def latest(self):
        """(ckpt path, state dict) of the latest checkpoint, or None when there is none."""
        pointer = self._path('latest.json')
        if not os.path.exists(pointer):
            return None
        try:
            with open(pointer) as f:
                name = json.load(f)['latest']
            with open(self._path(name + '.json')) as f:
                state = json.load(f)
        except (OSError, ValueError, KeyError) as err:
            raise CheckpointError(f"{pointer}: cannot read the latest checkpoint ({err}); "
                                  "delete latest.json to start over or point it at an intact step_*.ckpt") from None
        return self._path(name + '.ckpt'), state

    def best_value(self):
        path = self._path('best.json')
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)['value']

    def _best_metric(self):
        path = self._path('best.json')
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f).get('metric')

    def update_best(self, ckpt_path, metric, value, state):
        """Copy ``ckpt_path`` to ``best.ckpt`` if ``value`` beats the best so far; True if it did.
        A best kept under another metric (the run continued with another ``train.best_metric``)
        is not compared with: the first value of the new metric replaces it."""
        best = self.best_value()
        if best is not None and self._best_metric() not in (None, metric):
            best = None
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return False
        if best is not None and not (value < best if self.mode == 'min' else value > best):
            return False
        tmp = self._path(f"best.tmp{os.getpid()}.ckpt")
        shutil.copyfile(ckpt_path, tmp)
        os.replace(tmp, self._path('best.ckpt'))
        atomic_write_json(self._path('best.json'), {'metric': metric, 'value': value,
                                                    'step': state.get('step'), 'epoch': state.get('epoch')})
        return True
