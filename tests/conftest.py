"""Shared test set-up: CPU, PyNative by default, threads set once for the whole session."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('GLOG_v', '3')


@pytest.fixture(scope='session', autouse=True)
def runtime():
    from src.runtime import set_up_runtime
    return set_up_runtime('CPU', 'pynative')


@pytest.fixture(params=['pynative', 'graph'])
def mode(request):
    """Run a test in both execution modes; restores PyNative afterwards."""
    import mindspore as ms
    from src.runtime import MODES
    ms.set_context(mode=MODES[request.param])
    yield request.param
    ms.set_context(mode=MODES['pynative'])


@pytest.fixture(scope='session')
def stub_app(tmp_path_factory):
    """ascend310_infer built once against the stub MindSpore API (tests/ascend310/stub_app.py)."""
    import shutil
    from tests.ascend310.stub_app import build_stub_app
    if not shutil.which('g++'):
        pytest.skip('g++ not available')
    return build_stub_app(tmp_path_factory.mktemp('stub_build'))
