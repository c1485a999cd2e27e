"""wav2vec 2.0 recipes end to end on a tiny demo LibriSpeech: pretraining with validation and its
logged terms, CTC fine-tuning started from the pretraining run, eval.py's WER / CER report,
export, infer.py transcribe (MindIR, config + checkpoint, chunked long files), the offline chain
(preprocess.py infer_inputs -> infer.py bins -> postprocess.py) and the one-line errors."""
import json
import os

import numpy as np
import pytest
import soundfile

import preprocess
from src.data.demo.librispeech import write_librispeech_demo
from src.errors import CheckpointError, UserError
from src.recipes import get_recipe
from src.wav2vec2.letters import Letters
from tests.helpers import raises_one_line, run_main

ENCODER = {'conv_dim': [16, 16, 16, 16, 16, 16, 16], 'hidden_size': 16, 'num_hidden_layers': 1,
           'num_attention_heads': 2, 'intermediate_size': 32, 'num_conv_pos_embeddings': 4,
           'num_conv_pos_embedding_groups': 2, 'hidden_dropout': 0.0, 'attention_dropout': 0.0,
           'activation_dropout': 0.0, 'feat_proj_dropout': 0.0, 'layerdrop': 0.0}
QUANTIZER = {'num_codevector_groups': 2, 'num_codevectors_per_group': 8, 'codevector_dim': 8,
             'proj_codevector_dim': 8}


@pytest.fixture(scope='module')
def manifests(tmp_path_factory):
    base = tmp_path_factory.mktemp('w2v')
    root, _ = write_librispeech_demo(base, train_speakers=2, dev_speakers=1, test_speakers=1,
                                     chapters=1, utterances=3, words=(4, 6))
    out = base / 'manifests'
    preprocess.main(['librispeech', '--root', root, '--out', str(out)])
    return out


def write_config(path, tree):
    path.write_text(json.dumps(tree))
    return str(path)


def data_section(manifests, **more):
    return dict({'root': str(manifests), 'max_tokens': 200000, 'min_sample_size': 16000,
                 'max_sample_size': 48000, 'mask_time_prob': 0.3, 'mask_time_length': 2,
                 'num_negatives': 5}, **more)


@pytest.fixture(scope='module')
def pretrained(manifests, tmp_path_factory):
    import train
    folder = tmp_path_factory.mktemp('pretrain')
    config = write_config(folder / 'pretrain.yaml', {
        'model': {'name': 'wav2vec2_pretraining', 'args': dict(ENCODER, **QUANTIZER)},
        'data': data_section(manifests), 'optim': {'lr': 1e-3},
        'train': {'epochs': 2, 'num_workers': 0, 'log_every': 1, 'eval_every': 1}})
    run_dir = folder / 'run'
    _, printed = run_main(train.main, '--config', config, '--run_dir', run_dir)
    return config, run_dir, printed


def test_pretraining_logs_its_terms_and_validates(pretrained):
    _, run_dir, _ = pretrained
    records = [json.loads(line) for line in (run_dir / 'train_log.jsonl').read_text().splitlines()]
    for key in ('contrastive', 'diversity', 'features_penalty', 'accuracy', 'code_perplexity',
                'prob_perplexity', 'loss_bits', 'gumbel_temperature'):
        assert all(np.isfinite(r[key]) for r in records), key
    # fairseq's temperature schedule, max(2 * 0.999995 ** update, 0.5), of the update it trained
    assert [r['gumbel_temperature'] for r in records] == \
        pytest.approx([2 * 0.999995 ** (r['step'] - 1) for r in records])
    evaluation = json.loads((run_dir / 'eval_log.jsonl').read_text().splitlines()[-1])
    assert evaluation['subset'] == 'valid' and 0 <= evaluation['accuracy'] <= 1
    assert 1 <= evaluation['code_perplexity'] <= 16 and np.isfinite(evaluation['loss'])
    assert os.path.exists(run_dir / 'checkpoints' / 'best.ckpt')


def test_pretraining_validation_is_the_same_problem_every_time(pretrained):
    import eval as evaluate
    config, run_dir, _ = pretrained
    first, said = run_main(evaluate.main, '--config', config, '--run_dir', run_dir)
    second, _ = run_main(evaluate.main, '--config', config, '--run_dir', run_dir)
    assert 'code perplexity' in said and first['subset'] == 'test'
    assert first['loss'] == second['loss'] and first['accuracy'] == second['accuracy']


def ctc_tree(manifests, **train):
    vocab = len(Letters.from_fairseq_dict(manifests / 'dict.ltr.txt'))
    return {'model': {'name': 'wav2vec2_ctc', 'args': dict(ENCODER, vocab_size=vocab)},
            'data': data_section(manifests, mask_channel_prob=0.2, mask_channel_length=2),
            'optim': {'lr': 1e-3},
            'train': dict({'epochs': 2, 'num_workers': 0, 'log_every': 1, 'eval_every': 1,
                           'freeze': {'feature_encoder': 'all'}}, **train)}


@pytest.fixture(scope='module')
def finetuned(manifests, pretrained, tmp_path_factory):
    import train
    folder = tmp_path_factory.mktemp('ctc')
    config = write_config(folder / 'ctc.yaml', ctc_tree(manifests))
    run_dir = folder / 'run'
    # a pretraining run directory as model.pretrained: its best checkpoint's encoder
    _, printed = run_main(train.main, '--config', config, '--run_dir', run_dir,
                          f'model.pretrained={pretrained[1]}')
    return config, run_dir, printed


def test_fine_tuning_starts_from_the_pretraining_run(finetuned, pretrained):
    from src.checkpoint import read_params
    _, run_dir, printed = finetuned
    assert 'initialised from' in printed and 'best.ckpt' in printed
    assert 'left as initialised: lm_head.weight, lm_head.bias' in printed
    # the frozen feature encoder is the pretrained one, bit for bit
    start = read_params(str(pretrained[1] / 'checkpoints' / 'best.ckpt'))
    final = read_params(str(run_dir / 'checkpoints' / 'best.ckpt'))
    name = 'network.wav2vec2.feature_extractor.conv_layers.0.conv.weight'
    np.testing.assert_array_equal(start[name], final[name])
    assert not np.array_equal(start['network.wav2vec2.encoder.layers.0.feed_forward.output_dense.weight'],
                              final['network.wav2vec2.encoder.layers.0.feed_forward.output_dense.weight'])


def test_eval_prints_wer_and_cer_and_writes_the_hypotheses(finetuned, manifests):
    import eval as evaluate
    config, run_dir, _ = finetuned
    metrics, said = run_main(evaluate.main, '--config', config, '--run_dir', run_dir)
    line = [line for line in said.splitlines() if 'WER = ' in line][0]
    assert line.startswith('test: WER = ') and '%  CER = ' in line
    out = run_dir / 'eval' / 'best'
    hyps = (out / 'hyp.test.txt').read_text().splitlines()
    refs = (out / 'ref.test.txt').read_text().splitlines()
    assert len(hyps) == len(refs) == metrics['test_utterances'] == 3
    words = (manifests / 'test.wrd').read_text().splitlines()
    assert sorted(r.split('\t', 1)[1] for r in refs) == sorted(words)
    # the corpus WER of the written hypotheses is the reported one
    from src.metrics.asr import compute_wer
    wer = 100 * compute_wer([r.split('\t', 1)[1] for r in refs], [h.split('\t', 1)[1] for h in hyps])
    assert wer == pytest.approx(metrics['wer'])
    assert 'hypothesis' in (out / 'per_utterance.test.csv').read_text().splitlines()[0]
    assert json.loads((out / 'metrics.json').read_text())['wer'] == pytest.approx(metrics['wer'])


def test_export_transcribe_and_the_offline_chain_reproduce_eval(finetuned, manifests, tmp_path):
    import eval as evaluate
    import export
    import infer
    import postprocess
    config, run_dir, _ = finetuned
    run_main(export.main, '--config', config, '--run_dir', run_dir)
    mindir = str(run_dir / 'export' / 'wav2vec2_ctc.mindir')
    sidecar = json.loads(open(mindir[:-7] + '.json').read())
    assert sidecar['task'] == 'asr' and [o['name'] for o in sidecar['outputs']] == ['logits', 'output_lengths']
    assert sidecar['letters'][4] == '|' and sidecar['sample_rate'] == 16000
    checkpoint = str(run_dir / 'checkpoints' / 'best.ckpt')
    reference, _ = run_main(evaluate.main, '--config', config, '--run_dir', run_dir,
                            '--checkpoint', checkpoint)
    hyps = dict(line.split('\t', 1) for line in
                (run_dir / 'eval' / 'best' / 'hyp.test.txt').read_text().splitlines())
    # infer.py transcribe: the MindIR and the checkpoint give eval.py's hypotheses
    with open(manifests / 'test.tsv') as f:
        root, *rows = f.read().splitlines()
    paths = [os.path.join(root, row.split('\t')[0]) for row in rows]
    for model in (['--model', mindir], ['--config', config, '--checkpoint', checkpoint]):
        done, _ = run_main(infer.main, 'transcribe', *paths, *model, '--jsonl', tmp_path / 'out.jsonl')
        assert [text for _, text in done] == \
            [hyps[os.path.splitext(os.path.basename(p))[0]] for p in paths]
    lines = [json.loads(line) for line in (tmp_path / 'out.jsonl').read_text().splitlines()]
    assert [line['path'] for line in lines] == paths and all(line['seconds'] > 0 for line in lines)
    # offline: the exported model on the .bin inputs gives eval.py's WER
    offline = str(tmp_path / 'offline')
    run_main(preprocess.main, 'infer_inputs', '--config', config, '--out', offline)
    run_main(infer.main, 'bins', '--model', mindir, '--input', f'{offline}/feats', '--output', f'{offline}/result')
    scored, _ = run_main(postprocess.main, '--config', config, '--input_dir', offline,
                         '--result_dir', f'{offline}/result')
    assert scored['test_utterances'] == reference['test_utterances']
    assert scored['wer'] == pytest.approx(reference['wer']) and scored['cer'] == pytest.approx(reference['cer'])


def test_a_long_file_in_chunks_gives_the_one_shot_text(manifests, tmp_path):
    # a network whose frames depend on a few neighbours only (no attention layer, a short
    # positional convolution): the stitched chunks are exactly the one-shot logits
    import infer
    import mindspore as ms
    from src.checkpoint import save_params
    from src.config import load_config
    tree = ctc_tree(manifests)
    # (and a per-frame layer norm in the feature encoder: group norm's statistics span the file)
    tree['model']['args'].update(num_hidden_layers=0, feat_extract_norm='layer')
    config = write_config(tmp_path / 'local.yaml', tree)
    cfg = load_config(config)
    ms.set_seed(3)
    network = get_recipe('wav2vec2_ctc').build_network(cfg)
    save_params(network, str(tmp_path / 'local.ckpt'))
    rng = np.random.default_rng(0)
    wave = np.concatenate([soundfile.read(p)[0] for p in sorted(
        os.path.join(d, n) for d, _, names in os.walk(manifests.parent / 'LibriSpeech')
        for n in names if n.endswith('.flac'))]).astype(np.float32)
    wave += 1e-3 * rng.standard_normal(len(wave)).astype(np.float32)
    soundfile.write(str(tmp_path / 'long.flac'), wave, 16000)
    model = ['--config', config, '--checkpoint', str(tmp_path / 'local.ckpt')]
    whole, _ = run_main(infer.main, 'transcribe', str(tmp_path / 'long.flac'), *model, '--chunk_seconds', 0)
    chunked, _ = run_main(infer.main, 'transcribe', str(tmp_path / 'long.flac'), *model,
                          '--chunk_seconds', 2, '--stride_seconds', 0.5)
    assert len(wave) > 3 * 32000 and whole[0][1] and chunked == whole


def test_bad_input_is_a_one_line_error(finetuned, manifests, tmp_path, capsys):
    import infer
    config, run_dir, _ = finetuned
    checkpoint = str(run_dir / 'checkpoints' / 'best.ckpt')
    # a checkpoint of another vocabulary
    tree = json.loads(open(config).read())
    tree['model']['args']['vocab_size'] += 2
    other = write_config(tmp_path / 'other.yaml', tree)
    audio = str(manifests.parent / 'LibriSpeech' / 'test-clean')
    raises_one_line(CheckpointError, lambda: infer.main(['transcribe', audio, '--config', other,
                                                          '--checkpoint', checkpoint]),
                    'outputs', f"vocab_size={tree['model']['args']['vocab_size'] - 2}")
    # two models at once, an HF folder without vocab.json
    raises_one_line(UserError, lambda: infer.main(['transcribe', 'a.flac', '--model', 'x.mindir',
                                                   '--pretrained', 'y']), 'pass one model')
    folder = tmp_path / 'hf'
    folder.mkdir()
    fixtures = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'data', 'wav2vec2_fixtures', 'hf_ctc')
    for name in os.listdir(fixtures):
        if name != 'vocab.json':
            (folder / name).write_bytes(open(os.path.join(fixtures, name), 'rb').read())
    raises_one_line(CheckpointError, lambda: infer.main(['transcribe', audio, '--pretrained', str(folder)]),
                    'vocab.json')
    # audio shorter than the receptive field: skipped and counted, not a crash
    soundfile.write(str(tmp_path / 'short.wav'), np.zeros(300, np.float32), 16000)
    with open(manifests / 'test.tsv') as f:
        root, first = f.read().splitlines()[:2]
    capsys.readouterr()
    done, _ = run_main(infer.main, 'transcribe', str(tmp_path / 'short.wav'),
                       os.path.join(root, first.split('\t')[0]), '--config', config,
                       '--checkpoint', checkpoint)
    assert len(done) == 1 and '1 of 2 files were shorter than the receptive field' in capsys.readouterr().err
