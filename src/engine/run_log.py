"""The run directory's logs: console mirror, JSON lines of every record, training-curve plots.

Layout written by rank 0 (other ranks write nothing)::

    <run_dir>/config.yaml        the resolved config
    <run_dir>/log.txt            what was printed
    <run_dir>/train_log.jsonl    one record per logged training step
    <run_dir>/eval_log.jsonl     one record per evaluation
    <run_dir>/plots/training_curves.png
    <run_dir>/checkpoints/       see src.checkpoint
"""
import json
import math
import os
import time


class RunLog:
    def __init__(self, run_dir, rank=0):
        self.run_dir = run_dir
        self.active = rank == 0
        if self.active:
            os.makedirs(os.path.join(run_dir, 'plots'), exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    def print(self, message):
        if not self.active:
            return
        print(message, flush=True)
        with open(self.path('log.txt'), 'a') as f:
            f.write(time.strftime('%Y-%m-%d %H:%M:%S ') + message + '\n')

    def record(self, kind, **fields):
        """Append one JSON line to ``<kind>_log.jsonl`` (non-finite floats become null)."""
        if not self.active:
            return
        fields = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                  for k, v in fields.items()}
        fields.setdefault('time', round(time.time(), 3))
        with open(self.path(f'{kind}_log.jsonl'), 'a') as f:
            f.write(json.dumps(fields) + '\n')

    def read(self, kind):
        path = self.path(f'{kind}_log.jsonl')
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def plot_curves(self, metrics=()):
        """Training loss and learning rate per step, and the evaluation ``metrics`` (names that
        share a scale, e.g. EER and the baseline EER in %) per epoch, as one PNG."""
        if not self.active:
            return None
        train, evals = self.read('train'), self.read('eval')
        if not train:
            return None
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        metrics = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for r in evals)]
        fig, axes = plt.subplots(1, 2 + bool(metrics), figsize=(5 * (2 + bool(metrics)), 3.6))
        steps = [r['step'] for r in train]
        axes[0].plot(steps, [r.get('loss') for r in train])
        axes[0].set(xlabel='step', ylabel='training loss', title='loss')
        axes[1].plot(steps, [r.get('lr') for r in train])
        axes[1].set(xlabel='step', ylabel='learning rate', title='learning rate')
        if metrics:
            for name in metrics:
                axes[2].plot([r['epoch'] for r in evals if name in r],
                             [r[name] for r in evals if name in r], marker='o', label=name)
            axes[2].set(xlabel='epoch', title='evaluation')
            axes[2].legend()
        for ax in axes:
            ax.grid(alpha=0.3)
        fig.tight_layout()
        out = self.path('plots', 'training_curves.png')
        tmp = out + '.tmp.png'
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        os.replace(tmp, out)
        return out
