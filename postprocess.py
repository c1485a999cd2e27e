"""Score the outputs of an offline inference run (Ascend 310 app or ``infer.py bins``).

    python preprocess.py infer_inputs --config configs/ecapa_tdnn/demo.yaml --out runs/demo/infer
    <runtime>: runs/demo/infer/feats/<n>.bin -> runs/demo/infer/result/<n>_0.bin
    python postprocess.py --config configs/ecapa_tdnn/demo.yaml --input_dir runs/demo/infer \\
        --result_dir runs/demo/infer/result

prints the model's metrics (speaker verification: ``EER = x.xx%`` and minDCF), as eval.py does.
"""
import json

from src.cli import config_parser, load_run_config, run_main


def main(argv=None):
    p = config_parser(__doc__.splitlines()[0])
    p.add_argument('--input_dir', required=True, help='folder written by preprocess.py infer_inputs')
    p.add_argument('--result_dir', required=True, help='folder of the runtime\'s <n>_0.bin outputs')
    args = p.parse_args(argv)
    cfg = load_run_config(args)
    from src.recipes import get_recipe
    recipe = get_recipe(cfg.model.name)
    metrics = recipe.score_inference_outputs(cfg, args.input_dir, args.result_dir)
    print(recipe.format_metrics(metrics))
    print(json.dumps(metrics))
    return metrics


if __name__ == '__main__':
    run_main(main)
