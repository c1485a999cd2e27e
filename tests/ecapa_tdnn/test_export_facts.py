"""The ECAPA recipe's export facts: the EER threshold that eval.py calibrated for exactly these
weights on raw cosine scores, and nothing otherwise."""
import json

from src.checkpoint import file_digest
from src.config import build_config
from src.recipes import get_recipe


def test_threshold_of_the_evaluated_weights_only(tmp_path):
    recipe = get_recipe('ecapa_tdnn')
    cfg = build_config({'model': {'name': 'ecapa_tdnn'}, 'run_dir': str(tmp_path)})
    ckpt = tmp_path / 'checkpoints' / 'best.ckpt'
    ckpt.parent.mkdir()
    ckpt.write_bytes(b'weights')
    assert recipe.export_facts(cfg, str(ckpt)) == {}                       # not evaluated
    metrics = tmp_path / 'eval' / 'best' / 'metrics.json'
    metrics.parent.mkdir(parents=True)
    evaluated = {'eer': 5.0, 'eer_threshold': 0.42, 'weights': file_digest(ckpt), 'as_norm': False}
    metrics.write_text(json.dumps(evaluated))
    assert recipe.export_facts(cfg, str(ckpt)) == {'threshold': 0.42}
    metrics.write_text(json.dumps(dict(evaluated, as_norm=True)))           # normalised scores
    assert recipe.export_facts(cfg, str(ckpt)) == {}
    metrics.write_text(json.dumps(evaluated))
    ckpt.write_bytes(b'other weights')                                     # trained on since
    assert recipe.export_facts(cfg, str(ckpt)) == {}
    assert get_recipe('panns_cnn6').export_facts(cfg, str(ckpt)) == {}
