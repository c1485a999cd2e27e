"""ECAPA-TDNN evaluation: embeddings in padded batches of a few static shapes equal the one-at-a-
time dynamic-length path, the metrics do not change, and each rank embeds its share."""
import numpy as np
import pytest

import mindspore as ms

from src.config import build_config
from src.data.demo import make_demo
from src.ecapa_tdnn.evaluate import EmbeddingExtractor, evaluate_verification
from src.ecapa_tdnn.network import EcapaTdnn
from src.recipes import get_recipe
from tests.helpers import randomise_batch_norms

# one SE-Res2Net block (every kind of layer, quick to compile), as in test_network.py
ONE_BLOCK = dict(channels=(16, 16, 32), kernel_sizes=(5, 3, 1), dilations=(1, 2, 1),
                 groups=(1, 1, 1), attention_channels=8, se_channels=8, res2net_scale=4,
                 lin_neurons=16)
# 12 test utterances of 0.6 - 3.5 s
DEMO = dict(train_speakers=2, train_videos=1, train_utterances=1, test_speakers=3, test_videos=2,
            test_utterances=2, test_seconds=(0.6, 3.5), num_trials=24)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    return make_demo('voxceleb', tmp_path_factory.mktemp('demo'), **DEMO)


@pytest.fixture(scope='module')
def network():
    ms.set_seed(0)
    net = EcapaTdnn(**ONE_BLOCK)
    net.set_train(False)
    return randomise_batch_norms(net, 1)


def config(demo, **evaluation):
    return build_config({'model': {'name': 'ecapa_tdnn', 'args': ONE_BLOCK},
                         'data': {'trials': demo['trials'], 'eval_audio_root': demo['audio_root']},
                         'eval': dict({'det_curve': False, 'batch_min_utterances': 0}, **evaluation)})


def paths_of(demo):
    import glob
    import os
    return sorted(glob.glob(os.path.join(demo['audio_root'], '*', '*', '*.wav')))


class ShapeSpy:
    """Records the input shapes of the padded-batch cell."""

    def __init__(self, extractor):
        self.shapes, self.cell = [], extractor.padded
        extractor.padded = self

    def __call__(self, feats, lengths):
        self.shapes.append(tuple(feats.shape))
        return self.cell(feats, lengths)


def test_padded_batches_in_graph_mode_equal_the_dynamic_one_at_a_time_path(demo, network):
    paths = paths_of(demo)
    fbank = get_recipe('ecapa_tdnn').fbank(config(demo))
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        one_at_a_time = EmbeddingExtractor(network, fbank, 16000, batch_seconds=0)(paths, progress=False)
        batched = EmbeddingExtractor(network, fbank, 16000, batch_seconds=4.0, bucket_ratio=1.5,
                                     bucket_max_seconds=3.0)
        spy = ShapeSpy(batched)
        frames = [batched.num_frames(p) for p in paths]
        got = batched(paths, progress=False)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    np.testing.assert_allclose(got, one_at_a_time, rtol=1e-4, atol=1e-5)
    assert [len(batched.features(p)) for p in paths] == frames          # lengths from the headers
    # the batches cover the utterances up to 3 s (301 frames), the longer ones go alone
    longer = sum(n > 301 for n in frames)
    assert 0 < longer < len(paths)
    assert sum(shape[0] for shape in spy.shapes) >= len(paths) - longer
    # padded to a geometric grid from 1 s (101 frames) to the longest batched utterance: at most
    # one shape per level (the last, smaller batch filled up with empty rows)
    levels = [101, 152, 228, max(n for n in frames if n <= 301)]
    assert levels[-1] > 228
    assert {shape[1] for shape in spy.shapes} <= set(levels)
    assert len(set(spy.shapes)) == len({shape[1] for shape in spy.shapes}) < len(set(frames))
    assert all(shape[0] == 401 // shape[1] for shape in spy.shapes)     # 4 s of padded frames
    # a short list goes one at a time: one graph to compile, not one per batch shape
    few = EmbeddingExtractor(network, fbank, 16000, batch_seconds=4.0, batch_min_utterances=len(paths) + 1)
    batches, alone = few.plan(frames)
    assert batches == [] and alone.tolist() == list(range(len(paths)))


@pytest.fixture(scope='module')
def batched(demo, network, tmp_path_factory):
    """Evaluation in batches of 3 s: (metrics, output folder)."""
    out = tmp_path_factory.mktemp('batched')
    return evaluate_verification(get_recipe('ecapa_tdnn'), network, config(demo, batch_seconds=3.0), out,
                                 progress=False), out


def scores(folder):
    return np.array([float(line.split()[2]) for line in (folder / 'scores_veri_test2.txt').read_text().splitlines()])


def test_metrics_are_those_of_the_one_at_a_time_path(demo, network, batched, tmp_path):
    old = evaluate_verification(get_recipe('ecapa_tdnn'), network, config(demo, batch_seconds=0), tmp_path,
                                progress=False)
    new, folder = batched
    assert new.keys() == old.keys() and new['trials'] == 24
    for key in ('eer', 'min_dcf_0.01', 'min_dcf_0.05'):
        assert new[key] == pytest.approx(old[key], abs=1e-6), key
    np.testing.assert_allclose(scores(folder), scores(tmp_path), atol=1e-5)


def test_each_rank_embeds_its_share_and_rank_0_scores(demo, network, batched, tmp_path, monkeypatch):
    """Two ranks in one process: the collective is replaced by what it does (rank 0 receives
    the shares in rank order)."""
    import src.distributed
    recipe, cfg = get_recipe('ecapa_tdnn'), config(demo, batch_seconds=3.0)
    shares = {}

    def gather(value, rank, world):
        shares[rank] = value
        return np.concatenate([shares[r] for r in range(world)]) if rank == 0 else None
    monkeypatch.setattr(src.distributed, 'gather_to_rank0', gather)
    assert evaluate_verification(recipe, network, cfg, tmp_path / 'rank1', progress=False, rank=1, world=2) == {}
    assert not (tmp_path / 'rank1').exists()                              # rank 0 writes the files
    metrics = evaluate_verification(recipe, network, cfg, tmp_path / 'rank0', progress=False, rank=0, world=2)
    assert len(shares[0]) == len(shares[1]) == 6                          # 12 utterances, half each
    assert metrics == batched[0]
    np.testing.assert_allclose(scores(tmp_path / 'rank0'), scores(batched[1]), atol=1e-6)
