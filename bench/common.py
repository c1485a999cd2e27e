"""What the model benchmarks share: PyTorch's reference times, the timing loop, and one compiled
training step built the way the trainer builds it."""
import json
import os
import statistics
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, '..', 'shared', 'reference', 'pytorch_cpu_bench.json')


def pytorch_reference(model):
    """The entry of ``model`` ('ecapa', 'cnn14', ...) in shared/reference/pytorch_cpu_bench.json,
    or None when the file or the entry is missing."""
    try:
        with open(REFERENCE) as f:
            return next(r for r in json.load(f) if r['model'] == model)
    except (OSError, StopIteration):
        return None


def timed(fn, warmup, iters):
    """(median, fastest) seconds of ``iters`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def time_train_step(recipe, cfg, batch, info, iters, warmup=2, lr=1e-4, step_inputs=None):
    """Median and fastest seconds of the compiled train step (loss, gradients, Adam) on ``batch``
    (and the recipe's per-step scalars ``step_inputs``, name -> value, as the trainer passes them:
    float32 graph inputs after the batch).

    Returns:
        (dict with ``params``, ``compile_s``, ``median_s``, ``min_s``; the network).
    """
    import mindspore as ms
    from src.engine.train_step import build_train_step
    net = recipe.build_network(cfg)
    loss_net = recipe.build_loss_net(net, cfg, info)
    step, _ = build_train_step(loss_net, cfg.optim, compiled=False)
    scale, rate = ms.Tensor(1.0, ms.float32), ms.Tensor(lr, ms.float32)
    inputs = [ms.Tensor(batch[k]) for k in recipe.batch_keys]
    inputs += [ms.Tensor(v, ms.float32) for v in (step_inputs or {}).values()]

    def run():
        step(scale, rate, *inputs)[0].asnumpy()

    t0 = time.perf_counter()
    run()
    compile_s = time.perf_counter() - t0
    median, fastest = timed(run, warmup - 1, iters)
    return {'params': int(sum(p.size for p in net.trainable_params())), 'compile_s': round(compile_s, 2),
            'median_s': round(median, 4), 'min_s': round(fastest, 4)}, net


def ratios_to_reference(ref, train=None, infer=None):
    """The summary fields of a model benchmark: this project's time / PyTorch's for the train
    step (median and fastest) and the 10 s inference (static and dynamic-length graph), with
    PyTorch's times; {} without a reference entry."""
    if not ref:
        return {}
    out = {}
    if train:
        out.update(train_step_ratio_median=round(train['median_s'] / ref['train_step_s_median'], 3),
                   train_step_ratio_min=round(train['min_s'] / ref['train_step_s_min'], 3),
                   pytorch_train_step_s=ref['train_step_s_median'])
    if infer:
        out.update(infer_ratio_median=round(infer['median_s'] / ref['infer_s_median'], 3),
                   infer_dynamic_ratio_median=round(infer['dynamic_length_median_s'] / ref['infer_s_median'], 3),
                   pytorch_infer_s=ref['infer_s_median'])
    return out
