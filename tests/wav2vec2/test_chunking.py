"""Stitched chunk logits against one-shot logits, on a network whose frames are local."""
import numpy as np
import pytest

from src.errors import ConfigError
from src.wav2vec2.chunking import chunked_logits, plan_chunks
from src.wav2vec2.frames import output_frames

KERNELS, STRIDES = (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)


def local_logits(wave):
    """(1, T) -> (1, F, 3): frame j from the samples of its receptive field [320 j, 320 j + 400)
    only, as the convolutional encoder computes it."""
    frames = int(output_frames(wave.shape[1], KERNELS, STRIDES))
    out = np.zeros((1, frames, 3), np.float32)
    for j in range(frames):
        window = wave[0, 320 * j:320 * j + 400]
        out[0, j] = [window.sum(), (window ** 2).sum(), window[::7].max()]
    return out


@pytest.mark.parametrize('samples', [16000 * 7 + 123, 16000 * 3, 40000, 401, 16000 * 4 + 320])
def test_stitched_frames_are_the_one_shot_frames(samples):
    wave = np.random.default_rng(samples).standard_normal(samples).astype(np.float32)
    whole = local_logits(wave[None])[0]
    stitched = chunked_logits(local_logits, wave, 16000, (1600, 1600), KERNELS, STRIDES)
    assert stitched.shape == whole.shape
    np.testing.assert_allclose(stitched, whole, rtol=1e-6, atol=1e-5)


def test_every_frame_is_kept_once_with_context_on_both_sides():
    total = int(output_frames(100000, KERNELS, STRIDES))
    plan = plan_chunks(100000, 16000, (3200, 3200), KERNELS, STRIDES)
    assert len(plan) > 3
    kept = np.concatenate([np.arange(c.keep_from, c.keep_to) for c in plan])
    np.testing.assert_array_equal(kept, np.arange(total))
    for chunk in plan:
        assert chunk.start % 320 == 0 and chunk.stop - chunk.start <= 16000
        if chunk.start:           # at least the left stride of context before its first frame
            assert chunk.keep_from * 320 - chunk.start >= 3200
        if chunk.stop < 100000:   # and the right stride after its kept frames' hops
            assert chunk.stop - chunk.keep_to * 320 >= 3200


def test_one_chunk_when_it_fits_and_bad_strides_are_refused():
    assert len(plan_chunks(16000, 16000, (1600, 1600), KERNELS, STRIDES)) == 1
    with pytest.raises(ConfigError, match='longer than its two strides'):
        plan_chunks(100000, 6400, (3200, 3200), KERNELS, STRIDES)
    with pytest.raises(ConfigError, match='right stride'):
        plan_chunks(100000, 16000, (1600, 0), KERNELS, STRIDES)
