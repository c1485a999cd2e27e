"""src.runtime: one place for device, mode and threads."""
import mindspore as ms
import pytest

from src.runtime import set_up_runtime


def test_settings_are_applied_and_threads_set_once(runtime):
    assert runtime['threads'] >= 1
    again = set_up_runtime('CPU', 'graph', threads=runtime['threads'])
    try:
        assert ms.get_context('mode') == ms.GRAPH_MODE and again['threads'] == runtime['threads']
    finally:
        set_up_runtime('CPU', 'pynative')
    with pytest.raises(RuntimeError, match='threads'):
        set_up_runtime('CPU', 'pynative', threads=runtime['threads'] + 1)


@pytest.mark.parametrize('kwargs,word', [(dict(device_target='TPU'), 'device_target'),
                                         (dict(mode='eager'), 'mode')])
def test_bad_values_are_one_line_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        set_up_runtime(**kwargs)


def test_frontend_pipeline_is_disabled_on_cpu(runtime):
    # its spinning thread stalls whole steps on small machines (see src/runtime.py)
    from mindspore.graph.api import _pynative_executor
    was_disabled = _pynative_executor.disable_frontend_and_bprop_pipeline()
    assert was_disabled
