"""The converted fixtures in the port's networks reproduce transformers' outputs
(tests/data/wav2vec2_fixtures/outputs.npz), and the converter tool's checkpoint and config stub
reload. Needs src.wav2vec2.network (the NET branch)."""

import numpy as np
import pytest
import yaml

import mindspore as ms

from src.checkpoint import load_state, read_params
from src.wav2vec2.pretrained import load_pretrained
from tests.wav2vec2.test_pretrained import fixture, load_tool

TOLERANCE = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope='module')
def outputs():
    with np.load(fixture('outputs.npz')) as z:
        return {k: z[k] for k in z.files}


def ctc_logits(net, outputs):
    masked, lengths = net(ms.Tensor(outputs['ctc.input_values']),
                          ms.Tensor(outputs['ctc.attention_mask']))
    unmasked, _ = net(ms.Tensor(outputs['ctc.input_values']))
    return masked.asnumpy(), lengths.asnumpy(), unmasked.asnumpy()


@pytest.mark.parametrize('source', ['hf_ctc', 'hf_ctc_bin', 'fairseq_ctc.pt'])
def test_converted_ctc_models_reproduce_transformers(outputs, source):
    net, _, vocab, head = load_pretrained(fixture(source))
    assert head == 'ctc' and vocab is not None and not net.training
    masked, lengths, unmasked = ctc_logits(net, outputs)
    # 1600 samples: 319, 159, 79, 39 frames after the four convolutions; 1200: 239, 119, 59, 29
    assert list(lengths) == [39, 29] and outputs['ctc.logits'].shape[1] == 39
    np.testing.assert_allclose(unmasked, outputs['ctc.logits_unmasked'], **TOLERANCE)
    for row, length in enumerate(lengths):   # the padded frames of row 1 are not compared
        np.testing.assert_allclose(masked[row, :length], outputs['ctc.logits'][row, :length], **TOLERANCE)


@pytest.mark.parametrize('source', ['hf_pretraining', 'fairseq_pretraining.pt', 'fairseq_pretraining_legacy.pt'])
def test_converted_pretraining_models_reproduce_transformers(outputs, source):
    net, _, vocab, head = load_pretrained(fixture(source))
    assert head == 'pretraining' and vocab is None
    x = ms.Tensor(outputs['pretraining.input_values'])
    mask = ms.Tensor(outputs['pretraining.mask_time_indices'].astype(np.float32))
    projected, quantized, code_perplexity, _, _ = net(x, mask)
    np.testing.assert_allclose(projected.asnumpy(), outputs['pretraining.projected_states'], **TOLERANCE)
    np.testing.assert_allclose(quantized.asnumpy(), outputs['pretraining.projected_quantized_states'], **TOLERANCE)
    np.testing.assert_allclose(code_perplexity.asnumpy(), outputs['pretraining.codevector_perplexity'], **TOLERANCE)
    encoder, _, _, head = load_pretrained(fixture(source), head='model')
    assert head == 'model'
    hidden, features, _ = encoder(x, mask_time_indices=mask)
    np.testing.assert_allclose(hidden.asnumpy(), outputs['pretraining.last_hidden_state'], **TOLERANCE)
    np.testing.assert_allclose(features.asnumpy(), outputs['pretraining.extract_features'], **TOLERANCE)


def test_converter_tool_writes_a_checkpoint_and_config_that_reload(outputs, tmp_path, capsys):
    from src.wav2vec2.network import Wav2Vec2ForCTC
    out = tmp_path / 'out' / 'w2v.ckpt'
    assert load_tool().main([fixture('fairseq_ctc.pt'), '--out', str(out)]) == 0
    assert 'wav2vec2 ctc' in capsys.readouterr().out
    letters = tmp_path / 'out' / 'w2v.dict.ltr.txt'
    assert letters.read_text() == open(fixture('dict.ltr.txt')).read()
    text = (tmp_path / 'out' / 'w2v.yaml').read_text()
    assert str(letters) in text.splitlines()[1]
    model = yaml.safe_load(text)['model']
    assert model['name'] == 'wav2vec2_ctc' and model['pretrained'] == str(out)
    net = Wav2Vec2ForCTC(**model['args'])
    net.set_train(False)
    load_state(net, read_params(str(out)))
    _, _, unmasked = ctc_logits(net, outputs)
    np.testing.assert_allclose(unmasked, outputs['ctc.logits_unmasked'], **TOLERANCE)
