"""Checkpoints: atomic writes, keep-last/best, clear errors for truncated or mismatched files."""
import json
import os

import numpy as np
import pytest

from src.checkpoint import CheckpointManager, check_fit, load_params_into, read_params, save_params
from src.errors import CheckpointError


def dense():
    from mindspore import nn
    return nn.Dense(3, 2)


def test_keep_last_and_best(tmp_path):
    m = CheckpointManager(str(tmp_path), keep_last=2, mode='min')
    net = dense()
    paths = [m.save(net, {'step': s, 'epoch': 0}) for s in (1, 2, 3)]
    assert not os.path.exists(paths[0]) and os.path.exists(paths[1]) and os.path.exists(paths[2])
    assert m.latest()[1]['step'] == 3
    assert m.update_best(paths[1], 'eer', 5.0, {'step': 2})
    assert not m.update_best(paths[2], 'eer', 6.0, {'step': 3})
    assert m.update_best(paths[2], 'eer', 4.0, {'step': 3})
    with open(tmp_path / 'best.json') as f:
        assert json.load(f) == {'metric': 'eer', 'value': 4.0, 'step': 3, 'epoch': None}
    # the run goes on selecting by another metric: its first value is not compared with an EER
    assert m.update_best(paths[2], 'min_dcf_0.01', 9.0, {'step': 3})
    assert not m.update_best(paths[2], 'min_dcf_0.01', 9.5, {'step': 3})


def test_crash_while_writing_keeps_the_previous_latest(tmp_path, monkeypatch):
    m = CheckpointManager(str(tmp_path), keep_last=3)
    net = dense()
    good = m.save(net, {'step': 1})
    real_replace = os.replace

    def crash(src, dst):
        if dst.endswith('.ckpt'):
            raise OSError('disk full')
        return real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(OSError):
        m.save(net, {'step': 2})
    monkeypatch.setattr(os, 'replace', real_replace)
    path, state = m.latest()
    assert path == good and state['step'] == 1
    read_params(path)     # intact


def test_truncated_empty_and_missing_files_are_clear_errors(tmp_path):
    path = str(tmp_path / 'net.ckpt')
    save_params(dense(), path)
    data = open(path, 'rb').read()
    with open(tmp_path / 'cut.ckpt', 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='unreadable or truncated'):
        read_params(str(tmp_path / 'cut.ckpt'))
    open(tmp_path / 'empty.ckpt', 'wb').close()
    with pytest.raises(CheckpointError, match='empty checkpoint'):
        read_params(str(tmp_path / 'empty.ckpt'))
    with pytest.raises(CheckpointError, match='not found'):
        read_params(str(tmp_path / 'none.ckpt'))


def test_a_checkpoint_that_does_not_fit_names_the_parameters(tmp_path):
    net = dense()
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    wrong = dict(params)
    wrong['extra.weight'] = np.zeros(2, np.float32)
    del wrong['bias']
    wrong['weight'] = np.zeros((2, 4), np.float32)
    with pytest.raises(CheckpointError) as err:
        check_fit(net, wrong, 'x.ckpt')
    text = str(err.value)
    assert 'missing 1 (bias)' in text and 'unexpected 1 (extra.weight)' in text
    assert 'wrong shape 1 (weight (2, 4) vs (2, 3))' in text
    # and a fitting one loads
    other = dense()
    load_params_into(other, params)
    np.testing.assert_array_equal(other.weight.asnumpy(), params['weight'])


def test_foreign_state_files_are_told_from_mindspore_checkpoints(tmp_path):
    # model.pretrained and the converters take either kind; the content decides, since
    # speechbrain's torch files are named .ckpt like MindSpore's
    from src.checkpoint import is_foreign_state, save_params
    ours = str(tmp_path / 'net.ckpt')
    save_params({'w': np.zeros(3, np.float32)}, ours)
    zipped = tmp_path / 'embedding_model.ckpt'
    zipped.write_bytes(b'PK\x03\x04' + b'\0' * 60)         # torch >= 1.6: a zip archive
    pickled = tmp_path / 'old.bin'
    pickled.write_bytes(b'\x80\x02' + b'\0' * 60)          # torch < 1.6: a pickle
    assert not is_foreign_state(ours)
    assert is_foreign_state(str(zipped)) and is_foreign_state(str(pickled))
    assert is_foreign_state(str(tmp_path / 'x.npz')) and is_foreign_state(str(tmp_path / 'Cnn6.pth'))
    assert not is_foreign_state(str(tmp_path / 'missing.ckpt'))
