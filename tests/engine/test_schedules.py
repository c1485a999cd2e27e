"""Learning-rate schedules against hand-computed values: multipliers of optim.lr."""
import math

import pytest

from src.engine.schedules import SCHEDULES, build_schedule


def test_cyclic_triangular_hand_values():
    s = build_schedule('cyclic', {'min_ratio': 0.01, 'step_size': 10}, 0, base_lr=1e-4)
    assert s.lr(0) == pytest.approx(1e-6)
    assert s.lr(5) == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6))
    assert s.lr(10) == pytest.approx(1e-4)
    assert s.lr(15) == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6))
    assert s.lr(20) == pytest.approx(1e-6)
    assert s.lr(30) == pytest.approx(1e-4)          # triangular: every peak at optim.lr


def test_cyclic_triangular2_halves_each_cycle():
    s = build_schedule('cyclic', {'min_ratio': 0.0, 'step_size': 4, 'mode': 'triangular2'}, 0, base_lr=1.0)
    assert [s.lr(4), s.lr(12), s.lr(20)] == pytest.approx([1.0, 0.5, 0.25])


def test_warmup_cosine_and_linear():
    c = build_schedule('warmup_cosine', {'warmup_steps': 4, 'min_ratio': 0.1}, 104, base_lr=1.0)
    assert [c.lr(0), c.lr(3)] == pytest.approx([0.25, 1.0])
    assert c.lr(4) == pytest.approx(1.0)
    assert c.lr(54) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert c.lr(104) == pytest.approx(0.1)
    lin = build_schedule('warmup_linear', {'warmup_steps': 0}, 10, base_lr=2.0)
    assert [lin.lr(0), lin.lr(5), lin.lr(10)] == pytest.approx([2.0, 1.0, 0.0])


def test_tri_stage_hand_values():
    # fairseq tri_stage over 100 updates: 10 warm-up (from 0.01), 40 hold, 50 exponential decay to 0.05
    s = build_schedule('tri_stage', {'phase_ratio': [0.1, 0.4, 0.5], 'init_lr_scale': 0.01,
                                     'final_lr_scale': 0.05}, 100, base_lr=3e-5)
    assert s.lr(0) == pytest.approx(3e-7)
    assert s.lr(5) == pytest.approx(3e-5 * (0.01 + 0.99 * 0.5))
    assert s.lr(10) == pytest.approx(3e-5) and s.lr(49) == pytest.approx(3e-5)
    assert s.lr(75) == pytest.approx(3e-5 * math.sqrt(0.05))
    assert s.lr(100) == pytest.approx(3e-5 * 0.05) and s.lr(1000) == pytest.approx(3e-5 * 0.05)
    with pytest.raises(Exception, match='phase_ratio'):
        build_schedule('tri_stage', {'phase_ratio': [0.5, 0.5, 0.5]}, 100, base_lr=1.0)


def test_step_decay():
    s = build_schedule('step', {'step_size': 3, 'gamma': 0.5}, 0, base_lr=1.0)
    assert [s.lr(i) for i in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.5, 0.25])


@pytest.mark.parametrize('name,args', [('constant', {}), ('cyclic', {'step_size': 7}),
                                       ('warmup_cosine', {'warmup_steps': 3}),
                                       ('warmup_linear', {'warmup_steps': 3}),
                                       ('step', {'step_size': 4, 'gamma': 0.5}), ('plateau', {}),
                                       ('tri_stage', {})])
def test_every_schedule_scales_the_base_rate(name, args):
    # optim.lr is the one source of the rate: doubling it doubles the whole curve
    one = build_schedule(name, args, 40, base_lr=1e-3)
    two = build_schedule(name, args, 40, base_lr=2e-3)
    for step in range(0, 40, 3):
        assert two.lr(step) == pytest.approx(2 * one.lr(step)) and one.lr(step) > 0


def test_plateau_reacts_to_metrics_and_its_state_round_trips():
    s = build_schedule('plateau', {'factor': 0.5, 'patience': 1}, 0, base_lr=1.0, mode='min')
    for metric in (5.0, 4.0, 4.5, 4.2):       # two evaluations without improvement > patience
        s.observe(metric)
    assert s.lr(0) == 0.5
    t = SCHEDULES.get('plateau')(base_lr=1.0, factor=0.5, patience=1)
    t.load_state_dict(s.state_dict())
    s.observe(4.9), t.observe(4.9)
    assert s.lr(0) == t.lr(0) and s.state_dict() == t.state_dict()


def test_plateau_follows_a_max_metric():
    # SI-SNRi or accuracy improving must never lower the rate; stalling must
    rising = build_schedule('plateau', {'factor': 0.5, 'patience': 1}, 0, base_lr=1.0, mode='max')
    for metric in (5.0, 6.0, 7.0, 8.0, 9.0):
        rising.observe(metric)
    assert rising.lr(0) == 1.0
    for metric in (8.5, 8.7):
        rising.observe(metric)
    assert rising.lr(0) == 0.5
