"""PANNs PyTorch checkpoints (audioset_tagging_cnn / panns_inference) -> this project's Cnn14/10/6.

Key map (PyTorch -> MindSpore, :mod:`src.panns.network`):

    spectrogram_extractor.stft.conv_real.weight (F, 1, n_fft)  \\  spectrogram_extractor.conv.weight
    spectrogram_extractor.stft.conv_imag.weight (F, 1, n_fft)  /   (2F, 1, 1, n_fft): real rows, then imaginary
    logmel_extractor.melW (F, mel)                                 logmel_extractor.melW
    <bn>.weight / bias / running_mean / running_var                <bn>.gamma / beta / moving_mean / moving_variance
    <bn>.num_batches_tracked                                       (dropped: MindSpore keeps no step count)
    conv_blockN.convM.weight, fc1.*, fc_audioset.*                 same names, same layouts

for <bn> in ``bn0`` and ``conv_blockN.bnM``. The architecture is read from the shapes: six conv
blocks = Cnn14, four with a second conv = Cnn10, four 5x5 single-conv blocks = Cnn6.
Inputs are plain ``{key: numpy array}`` dicts, so this module needs no torch.
"""
import re

import numpy as np

from src.checkpoint import load_state
from src.errors import CheckpointError

_NORM_FIELDS = {'weight': 'gamma', 'bias': 'beta', 'running_mean': 'moving_mean',
                'running_var': 'moving_variance'}
_STFT_REAL = 'spectrogram_extractor.stft.conv_real.weight'
_STFT_IMAG = 'spectrogram_extractor.stft.conv_imag.weight'
_STFT_TARGET = 'spectrogram_extractor.conv.weight'
_NORM_PATH = re.compile(r'bn0|conv_block\d+\.bn[12]')
_PLAIN_KEY = re.compile(r'logmel_extractor\.melW|conv_block\d+\.conv[12]\.weight|'
                        r'(fc1|fc_audioset)\.(weight|bias)')
HEAD_KEYS = ('fc_audioset.weight', 'fc_audioset.bias')
ARCHITECTURE_NAMES = {'cnn14': 'Cnn14', 'cnn10': 'Cnn10', 'cnn6': 'Cnn6'}


def convert_panns_state(state):
    """Convert a PANNs PyTorch state dict to MindSpore names and layouts.

    Args:
        state: {PyTorch key: numpy array}, e.g. ``torch.load(path)['model']`` after ``.numpy()``.

    Returns:
        {MindSpore parameter name: float32 array}.

    Raises:
        CheckpointError: a key that is not a PANNs Cnn14/Cnn10/Cnn6 key, or only one of the two
            STFT kernels.
    """
    converted = {}
    for key, value in state.items():
        if key in (_STFT_REAL, _STFT_IMAG):
            continue
        if _PLAIN_KEY.fullmatch(key):
            converted[key] = np.ascontiguousarray(value, dtype=np.float32)
            continue
        path, _, field = key.rpartition('.')
        if _NORM_PATH.fullmatch(path):
            if field == 'num_batches_tracked':
                continue
            if field in _NORM_FIELDS:
                converted[f'{path}.{_NORM_FIELDS[field]}'] = np.ascontiguousarray(value, dtype=np.float32)
                continue
        raise CheckpointError(f"unexpected key {key!r}: not a PANNs Cnn14/Cnn10/Cnn6 parameter "
                              "(is this an audioset_tagging_cnn checkpoint's 'model' state dict?)")
    has_real, has_imag = _STFT_REAL in state, _STFT_IMAG in state
    if has_real != has_imag:
        raise CheckpointError(f"the checkpoint has {'only ' + (_STFT_REAL if has_real else _STFT_IMAG)}: "
                              "both STFT kernels (conv_real, conv_imag) are needed")
    if has_real:
        kernels = np.concatenate([np.asarray(state[_STFT_REAL]), np.asarray(state[_STFT_IMAG])])
        converted[_STFT_TARGET] = np.ascontiguousarray(kernels[:, :, None, :], dtype=np.float32)
    return converted


def _shape(state, key):
    if key not in state:
        raise CheckpointError(f"missing key {key!r}: not a PANNs Cnn14/Cnn10/Cnn6 state dict")
    return tuple(np.shape(state[key]))


def infer_panns_config(state):
    """Architecture and network arguments that fit a PANNs state dict (PyTorch or converted keys).

    Args:
        state: {key: array}; only key names and shapes are read.

    Returns:
        dict: ``architecture`` ('cnn14' | 'cnn10' | 'cnn6'), ``classes_num``, ``mel_bins``
        (from ``bn0``) and ``window_size`` (from the mel matrix, when present).

    Raises:
        CheckpointError: keys missing or a block layout of none of the three networks.
    """
    blocks = sorted({int(m.group(1)) for k in state for m in [re.match(r'conv_block(\d+)\.', k)] if m})
    first = _shape(state, 'conv_block1.conv1.weight')
    double = 'conv_block1.conv2.weight' in state
    layout = (len(blocks), double, first[2:])
    known = {(6, True, (3, 3)): 'cnn14', (4, True, (3, 3)): 'cnn10', (4, False, (5, 5)): 'cnn6'}
    if blocks != list(range(1, len(blocks) + 1)) or layout not in known:
        raise CheckpointError(f"conv blocks {blocks} with kernel {first[2:]} and "
                              f"{'two convs' if double else 'one conv'} each match none of "
                              "Cnn14 (6 x two 3x3), Cnn10 (4 x two 3x3), Cnn6 (4 x one 5x5)")
    config = {'architecture': known[layout], 'classes_num': _shape(state, 'fc_audioset.weight')[0]}
    bn0 = 'bn0.weight' if 'bn0.weight' in state else 'bn0.gamma'
    config['mel_bins'] = _shape(state, bn0)[0]
    if 'logmel_extractor.melW' in state:
        config['window_size'] = 2 * (_shape(state, 'logmel_extractor.melW')[0] - 1)
    return config


def panns_front_end(window_size):
    """Front-end arguments of a public PANNs checkpoint, known from its STFT window length.

    A checkpoint holds the STFT kernels and the mel matrix but not the sample rate nor the hop,
    which PANNs ties to the window: 32 kHz (window 1024, hop 320, 50-14000 Hz, the ``Cnn14``,
    ``Cnn10``, ``Cnn6`` taggers), 16 kHz (512, 160, 50-8000) and 8 kHz (256, 80, 50-4000).

    Returns:
        dict of ``sample_rate``, ``window_size``, ``hop_size``, ``fmin``, ``fmax``.

    Raises:
        CheckpointError: a window of none of the three.
    """
    known = {1024: (32000, 320, 14000), 512: (16000, 160, 8000), 256: (8000, 80, 4000)}
    if window_size not in known:
        raise CheckpointError(f"a PANNs checkpoint with a {window_size}-sample STFT window: none of "
                              "the public 32/16/8 kHz front ends (1024/512/256)")
    sample_rate, hop_size, fmax = known[window_size]
    return {'sample_rate': sample_rate, 'window_size': window_size, 'hop_size': hop_size,
            'fmin': 50, 'fmax': fmax}


def load_panns_state(net, state):
    """Load a PANNs PyTorch state dict into a :class:`~src.panns.network.PannsCnn`.

    A checkpoint of another architecture is an error. One with another number of classes
    (e.g. AudioSet's 527 into a 50-class network) loads the backbone and leaves the
    network's freshly initialised ``fc_audioset`` alone: fine-tuning a new head.

    Args:
        net: the network (its ``architecture`` attribute names it).
        state: {PyTorch key: numpy array}; a state already converted by
            :func:`convert_panns_state` is accepted too.

    Returns:
        list of the MindSpore parameter names left as initialised (``fc_audioset.*`` when the
        class counts differ, else empty).

    Raises:
        CheckpointError: another architecture, or names / shapes that do not fit.
    """
    config = infer_panns_config(state)
    ours = getattr(net, 'architecture', None)
    if config['architecture'] != ours:
        theirs = ARCHITECTURE_NAMES[config['architecture']]
        raise CheckpointError(f"the checkpoint holds a PANNs {theirs}, the network is "
                              f"{ARCHITECTURE_NAMES.get(ours, ours)}: build {theirs} "
                              f"(classes_num={config['classes_num']}) or load a "
                              f"{ARCHITECTURE_NAMES.get(ours, ours)} checkpoint")
    converted = state if 'spectrogram_extractor.conv.weight' in state or \
        'bn0.gamma' in state else convert_panns_state(state)
    params = dict(net.parameters_and_names())
    skipped = []
    if tuple(np.shape(converted['fc_audioset.weight'])) != tuple(params['fc_audioset.weight'].shape):
        skipped = [k for k in HEAD_KEYS if k in params]
        converted = {k: v for k, v in converted.items() if k not in HEAD_KEYS}
    load_state(net, converted, skip=skipped, subject='PANNs checkpoint does not fit the network',
               hint="do sample_rate/window_size/mel_bins match the checkpoint's?")
    return skipped
