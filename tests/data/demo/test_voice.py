"""The synthetic voice model: what makes a speaker (a few narrow resonances), what changes per
utterance (pitch, style) and per video (the channel), and why the naive baseline is weak."""
import copy
import dataclasses

import numpy as np
import pytest

from src.audio import Fbank
from src.data.demo.voice import (Channel, Speaker, draw_channel, draw_speaker, draw_style,
                                 speaker_resonances_db, synthesize)
from tests.data.demo import estimate_f0


def test_equaliser_moves_the_mean_spectrum_but_not_normalised_features():
    """The design the demo relies on: a recording channel shifts the utterance-mean log-mel
    (what the naive baseline compares) while mean-normalised features barely change."""
    rng = np.random.default_rng(7)
    speaker = draw_speaker(rng)
    channel = draw_channel(rng, snr_db=(50.0, 50.0), level_db=(-25.0, -25.0))
    other = Channel(eq_db=channel.eq_db + 6.0 * np.cos(np.linspace(0, 3 * np.pi, 257)),
                    noise_db=channel.noise_db, snr_db=channel.snr_db, level_db=channel.level_db)
    # The same utterance (same random stream) through both channels.
    state = copy.deepcopy(rng.bit_generator.state)
    wave_a = synthesize(speaker, channel, 32000, rng)
    rng.bit_generator.state = state
    wave_b = synthesize(speaker, other, 32000, rng)
    raw, normalised = Fbank(mean_norm=False), Fbank()
    mean_shift = np.abs(raw(wave_a).mean(0) - raw(wave_b).mean(0)).mean()
    frame_change = np.abs(normalised(wave_a) - normalised(wave_b)).mean()
    assert mean_shift > 3.0                       # dB: what the naive baseline sees
    assert frame_change < 0.3 * mean_shift        # what a model on normalised features sees


def test_speaker_identity_is_a_few_narrow_resonances():
    speakers = [draw_speaker(np.random.default_rng([0, k])) for k in range(40)]
    mel_of = lambda hz: 2595 * np.log10(1 + hz / 700) / (2595 * np.log10(1 + 8000 / 700))
    centres = np.concatenate([s.resonance_mel for s in speakers])
    gains = np.concatenate([s.resonance_db for s in speakers])
    assert len(centres) == 40 * 6
    assert mel_of(1000) <= centres.min() and centres.max() <= mel_of(5000)
    assert np.all((10 <= np.abs(gains)) & (np.abs(gains) <= 16))
    assert 0.3 < np.mean(gains > 0) < 0.7                                # peaks and notches
    # One resonance by hand: its full gain at the centre bin, nothing four widths away.
    one = Speaker(resonance_mel=np.array([mel_of(2000.0)]), resonance_db=np.array([12.0]),
                  resonance_width=0.015)
    curve = speaker_resonances_db(one)
    bins_mel = mel_of(np.arange(257) * 16000 / 512)
    centre = np.argmin(np.abs(bins_mel - mel_of(2000.0)))
    assert curve[centre] == pytest.approx(12.0, abs=0.3)
    assert np.all(np.abs(curve[np.abs(bins_mel - mel_of(2000.0)) > 4 * 0.015]) < 0.05)


def test_resonances_survive_mean_normalisation():
    """The identity is visible to a model on normalised features: the same utterance with and
    without the speaker's resonance differs around the resonance's mel band and nowhere else.
    Unlike the channel's equaliser, the resonance colours the voice but not the background
    noise, so mean normalisation keeps part of it (the contrast with pauses and quiet frames)."""
    rng = np.random.default_rng(3)
    hz = 2500.0
    speaker = Speaker(resonance_mel=np.array([np.log1p(hz / 700) / np.log1p(8000 / 700)]),
                      resonance_db=np.array([14.0]), resonance_width=0.015)
    flat = Speaker(speaker.resonance_mel, np.zeros(1), 0.015)
    channel = draw_channel(rng, snr_db=(60.0, 60.0), level_db=(-25.0, -25.0))
    state = copy.deepcopy(rng.bit_generator.state)
    wave = synthesize(speaker, channel, 32000, rng)
    rng.bit_generator.state = state
    wave_flat = synthesize(flat, channel, 32000, rng)
    band_centres = np.array([700 * (10 ** (m / 2595) - 1) for m in np.linspace(
        0, 2595 * np.log10(1 + 8000 / 700), 82)[1:-1]])
    nearest = int(np.argmin(np.abs(band_centres - hz)))
    raw = Fbank(mean_norm=False)
    level = raw(wave_flat)[:, nearest]
    loud = level > np.quantile(level, 0.75)           # frames where the voice rules that band
    raw_change = (raw(wave) - raw(wave_flat))[loud].mean(0)                 # (80,) dB
    change = (Fbank()(wave) - Fbank()(wave_flat))[loud].mean(0)
    far = np.abs(np.arange(80) - nearest) > 6
    for values, least in ((raw_change, 5.0), (change, 1.5)):
        assert np.argmax(values) in (nearest - 1, nearest, nearest + 1)
        assert values[nearest - 1:nearest + 2].max() > least
        assert np.abs(values[far]).max() < 0.5


def test_style_changes_per_utterance_and_sets_the_pitch():
    """Pitch is a property of the utterance (drawn by :func:`draw_style`), not of the speaker:
    the estimated f0 of each rendered utterance follows its style's f0."""
    f0 = np.array([draw_style(np.random.default_rng([1, k])).f0 for k in range(200)])
    assert 85 <= f0.min() and f0.max() <= 255
    assert np.mean(f0 < 130) > 0.25 and np.mean(f0 > 170) > 0.25       # log-uniform 85-255 Hz
    rng = np.random.default_rng(5)
    speaker = draw_speaker(rng)
    channel = draw_channel(rng, snr_db=(60.0, 60.0))
    estimated, drawn = [], []
    for target in (95.0, 140.0, 210.0):
        # A flat intonation and no fricatives, so that every loud frame is voiced at ~f0.
        style = dataclasses.replace(draw_style(rng, f0_hz=(target, target)), f0_range=0.0,
                                    consonant_prob=0.0)
        estimated.append(estimate_f0(synthesize(speaker, channel, 24000, rng, style=style)))
        drawn.append(style.f0)
    np.testing.assert_allclose(estimated, drawn, rtol=0.12)
