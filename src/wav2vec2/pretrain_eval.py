"""The pretraining recipe's evaluation: the loss and its terms on held-out audio, with masks and
negatives drawn from a fixed seed, so that every validation of a run sees the same problem. Each
utterance is cropped to a level of the training crop grid (at most ``data.max_sample_size``), so
that the graph compiles once per level, not once per utterance length."""
import numpy as np

from ..errors import DataError


def evaluate_pretraining(recipe, network, cfg, out_dir, progress, split, loss_net, rank, world):
    """{'loss' (bits per masked frame), 'accuracy', 'code_perplexity', 'prob_perplexity',
    'contrastive', 'diversity', 'features_penalty', 'subset', 'utterances'}: each utterance's
    values weighted by its masked frames (as fairseq sums them over a validation epoch)."""
    import mindspore as ms
    from ..distributed import gather_to_rank0, shard
    from ..engine.trainer import progress as bar
    from .dataset import manifest_path, read_manifest
    from .evaluate import write_metrics
    from .loss import PretrainingLossNet
    from .pretrain_set import PretrainSet
    d = cfg.data
    name = d.valid_subset if split == 'valid' else d.test_subsets[0]
    items = read_manifest(manifest_path(d, name), labels=None).items
    limit = d.max_valid_items if split == 'valid' else cfg.eval.max_items
    if limit:
        items = sorted(items, key=lambda item: item.num_samples)[:limit]
    evaluation = PretrainSet(items, d.sample_rate, d.min_sample_size, d.max_sample_size,
                             d.mask_time_prob, d.mask_time_length, d.mask_time_min_masks,
                             d.num_negatives, d.normalize, recipe.kernels(cfg), recipe.strides(cfg),
                             crop_levels=recipe.crop_levels(cfg), source=manifest_path(d, name))
    if not len(evaluation):
        raise DataError(f"subset {name} of {d.root} has no utterance of at least "
                        f"{d.min_sample_size} samples to validate the pretraining on")
    if loss_net is None:
        args = {k: v for k, v in cfg.loss.items() if k != 'gumbel_temperature'}
        loss_net = PretrainingLossNet(network, **args)
    from ..engine.train_step import LossAndAuxValues
    keys = ('loss_bits', 'accuracy', 'code_perplexity', 'prob_perplexity', 'contrastive',
            'diversity', 'features_penalty', 'sample_size')
    scored = LossAndAuxValues(loss_net, keys)
    loss_net.set_train(False)
    temperature = ms.Tensor(recipe.step_inputs(cfg, 10 ** 9)['gumbel_temperature'], ms.float32)
    mine = shard(len(evaluation), rank, world)
    values = np.zeros((len(mine), len(keys)))
    for row, index in enumerate(bar(mine, disable=None if progress and rank == 0 else True,
                                    desc=f'validating on {name}')):
        batch = evaluation.make_batch([index], np.random.default_rng([cfg.eval.seed, int(index)]))
        _, aux = scored.named(*(ms.Tensor(batch[k]) for k in recipe.batch_keys), temperature)
        values[row] = [aux[k] for k in keys]
    loss_net.set_train(True)
    values = gather_to_rank0(values, rank, world)
    if rank != 0:
        return {}
    weights = values[:, -1] / values[:, -1].sum()
    means = {k: float(np.sum(weights * values[:, i])) for i, k in enumerate(keys[:-1])}
    metrics = {'loss': means.pop('loss_bits'), **means, 'subset': name, 'utterances': len(values)}
    write_metrics(out_dir, metrics)
    return metrics
