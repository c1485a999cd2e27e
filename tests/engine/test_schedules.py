"""Learning-rate schedules against hand-computed values."""
import math

import pytest

from src.engine.schedules import SCHEDULES, build_schedule


def test_cyclic_triangular_hand_values():
    s = build_schedule('cyclic', {'base_lr': 1e-6, 'max_lr': 1e-4, 'step_size': 10}, 0)
    assert s.lr(0) == pytest.approx(1e-6)
    assert s.lr(5) == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6))
    assert s.lr(10) == pytest.approx(1e-4)
    assert s.lr(15) == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6))
    assert s.lr(20) == pytest.approx(1e-6)
    assert s.lr(30) == pytest.approx(1e-4)          # triangular: every peak at max_lr


def test_cyclic_triangular2_halves_each_cycle():
    s = build_schedule('cyclic', {'base_lr': 0.0, 'max_lr': 1.0, 'step_size': 4, 'mode': 'triangular2'}, 0)
    assert [s.lr(4), s.lr(12), s.lr(20)] == pytest.approx([1.0, 0.5, 0.25])


def test_warmup_cosine_and_linear():
    c = build_schedule('warmup_cosine', {'lr': 1.0, 'warmup_steps': 4, 'min_lr': 0.1}, 104)
    assert [c.lr(0), c.lr(3)] == pytest.approx([0.25, 1.0])
    assert c.lr(4) == pytest.approx(1.0)
    assert c.lr(54) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert c.lr(104) == pytest.approx(0.1)
    lin = build_schedule('warmup_linear', {'lr': 1.0, 'warmup_steps': 0}, 10)
    assert [lin.lr(0), lin.lr(5), lin.lr(10)] == pytest.approx([1.0, 0.5, 0.0])


def test_step_decay():
    s = build_schedule('step', {'lr': 1.0, 'step_size': 3, 'gamma': 0.5}, 0)
    assert [s.lr(i) for i in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.5, 0.25])


def test_plateau_reacts_to_metrics_and_its_state_round_trips():
    s = build_schedule('plateau', {'lr': 1.0, 'factor': 0.5, 'patience': 1, 'mode': 'min'}, 0)
    for metric in (5.0, 4.0, 4.5, 4.2):       # two evaluations without improvement > patience
        s.observe(metric)
    assert s.lr(0) == 0.5
    t = SCHEDULES.get('plateau')(lr=1.0, factor=0.5, patience=1)
    t.load_state_dict(s.state_dict())
    s.observe(4.9), t.observe(4.9)
    assert s.lr(0) == t.lr(0) and s.state_dict() == t.state_dict()
