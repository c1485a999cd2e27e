"""The demo-corpus registry: every corpus module registers its generator, imported on first use."""
import subprocess
import sys

import pytest

from src.data.demo import DEMO_CORPORA, make_demo
from src.errors import ConfigError
from tests.helpers import ROOT


def test_registry_lists_the_corpora():
    assert DEMO_CORPORA.names() == ['esc50', 'librimix', 'librispeech', 'musan', 'rirs_noises',
                                   'voxceleb']
    with pytest.raises(ConfigError, match='unknown demo corpus'):
        make_demo('librispeach', '/nonexistent')


def test_importing_the_package_imports_no_corpus_module():
    code = ('import sys, src.data.demo as d; '
            'print(sorted(m for m in sys.modules if m.startswith("src.data.demo.") or m == "src.panns.dataset")); '
            'd.DEMO_CORPORA.names(); print(sorted(m for m in sys.modules if m.startswith("src.data.demo.")));'
            'print([m for m in ("espeakng_loader", "pyloudnorm") if m in sys.modules])')
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after, optional = done.stdout.splitlines()
    assert before == '[]'
    assert after == str(sorted(f'src.data.demo.{name}' for name in (
        'dsp', 'esc50', 'espeak', 'librimix', 'librispeech', 'musan', 'rirs_noises', 'sentences',
        'voice', 'voxceleb')))
    # The speech corpora's packages are imported only when they write.
    assert optional == '[]'
