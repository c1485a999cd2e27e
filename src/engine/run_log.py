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

    def plot_curves(self, metrics=(), aux=()):
        """Training loss and learning rate per step, the loss network's ``aux`` values per step
        (one panel each, up to 6), and the validation ``metrics`` (names that share a scale, e.g.
        EER and the baseline EER in %) per update, as one PNG."""
        if not self.active:
            return None
        train = [r for r in self.read('train') if not r.get('skipped')]
        evals = [r for r in self.read('eval') if r.get('split', 'valid') == 'valid']
        if not train:
            return None
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        metrics = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for r in evals)]
        aux = [a for a in aux if any(isinstance(r.get(a), (int, float)) for r in train)][:6]
        panels = 2 + len(aux) + bool(metrics)
        columns = min(panels, 4)
        rows = (panels + columns - 1) // columns
        fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
        axes = axes.ravel()
        steps = [r['step'] for r in train]
        series = [('loss', 'training loss')] + [('lr', 'learning rate')] + [(a, a) for a in aux]
        for ax, (key, title) in zip(axes, series):
            ax.plot(steps, [r.get(key) for r in train])
            ax.set(xlabel='update', title=title)
        if metrics:
            ax = axes[len(series)]
            for name in metrics:
                ax.plot([r['step'] for r in evals if name in r],
                        [r[name] for r in evals if name in r], marker='o', label=name)
            ax.set(xlabel='update', title='validation')
            ax.legend()
        for ax in axes[:panels]:
            ax.grid(alpha=0.3)
        for ax in axes[panels:]:
            ax.set_visible(False)
        fig.tight_layout()
        out = self.path('plots', 'training_curves.png')
        tmp = out + '.tmp.png'
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        os.replace(tmp, out)
        return out
