"""The sub-commands of ``infer.py``: each model package registers its own.

    INFER_COMMANDS.register('tag', InferCommand(
        about='top-k sound classes of audio files', add_arguments=add_tag_arguments, run=run_tag,
        task='classification', subject='a sound classifier'))

``infer.py`` builds its parser from the registry (:func:`build_parser`) and calls the chosen
command's ``run(args)``. The modules of :data:`COMMAND_MODULES` are imported on first use only.
"""
import argparse
import importlib
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import UserError
from ..registry import Registry

INFER_COMMANDS = Registry('inference command')
# Modules that register sub-commands; a model with its own commands adds one line (as it adds
# its recipe module to src.recipes.RECIPE_MODULES).
COMMAND_MODULES = ('src.inference.bins', 'src.ecapa_tdnn.inference', 'src.panns.inference',
                   'src.dprnn.inference', 'src.wav2vec2.inference')


@dataclass(frozen=True)
class InferCommand:
    """One ``infer.py`` sub-command.

    Attributes:
        about: one line, shown in ``infer.py --help`` and as the command's description.
        add_arguments: ``add_arguments(parser)`` adds the command's arguments.
        run: ``run(args)`` does the work; its return value is ``infer.py``'s ``main``'s.
        task: the sidecar task of the models it runs (None: any model).
        subject: what such a model is called in messages, e.g. 'a sound classifier'.
        epilog: text after the arguments in the command's help.
    """
    about: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], object]
    task: Optional[str] = None
    subject: str = ''
    epilog: str = ''


def load_commands():
    for module in COMMAND_MODULES:
        importlib.import_module(module)        # registers its commands (once: imports are cached)
    return INFER_COMMANDS


def build_parser(description):
    """``infer.py``'s parser: one sub-command per registered command (``args.run`` runs it)."""
    commands = load_commands()
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    for name in commands.names():
        command = commands.get(name)
        p = sub.add_parser(name, help=command.about, description=command.about, epilog=command.epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def add_model_arguments(parser, what='exported .mindir'):
    """``--model`` (a MindIR with its sidecar), or ``--config`` with ``--checkpoint``."""
    parser.add_argument('--model', help=f'{what} (its .json sidecar beside it)')
    parser.add_argument('--config', help='config (with --checkpoint) instead of a MindIR')
    parser.add_argument('--checkpoint')


def check_one_model(args, flag, what):
    """UserError unless ``args`` names exactly one model: ``--model``, ``--config`` with
    ``--checkpoint``, or the command's own pretrained-file option ``flag`` (``'--panns'``),
    described as ``what`` in the message."""
    own = getattr(args, flag.lstrip('-'))
    chosen = [name for name, given in (('--model', args.model), (flag, own),
                                       ('--config', args.config or args.checkpoint)) if given]
    if len(chosen) != 1 or (args.config or args.checkpoint) and not (args.config and args.checkpoint):
        raise UserError(f"pass one model: --model M.mindir, --config C.yaml with --checkpoint "
                        f"X.ckpt, or {flag} {what}")


def check_task(meta, where, command):
    """UserError unless ``meta`` (a sidecar, or a config's model facts) describes a model of the
    task that sub-command ``command`` runs; the message names the sub-commands that run it."""
    commands = load_commands()
    wanted = commands.get(command)
    task = meta.get('task')
    if task == wanted.task:
        return
    runs = [name for name in commands.names() if commands.get(name).task == task]
    what = commands.get(runs[0]).subject if runs else f"a model of task {task!r}"
    hint = (f"run it with {' or '.join(f'`infer.py {name}`' for name in runs)}" if runs else
            "no infer.py sub-command but `bins` runs it")
    raise UserError(f"{where}: {meta.get('model', 'the model')} is {what}, not {wanted.subject}: {hint}")


def each_readable(paths, sample_rate, desc, labels=None):
    """``(path, wave, bar)`` for each audio file of ``paths`` that can be read (mono, resampled to
    ``sample_rate``), with a progress bar over two or more files; ``labels`` (one per path)
    come in place of the paths when given. An unreadable file is skipped with a line on
    stderr, and reported once at the end.

    Raises:
        DataError: at the end, when none of the files could be read.
    """
    import sys
    from ..audio import read_audio
    from ..engine.trainer import progress
    from ..errors import DataError
    failed, done = [], 0
    items = list(zip(paths, labels)) if labels is not None else [(path, path) for path in paths]
    bar = progress(items, desc=desc, unit='file', disable=True if len(paths) < 2 else None)
    for path, label in bar:
        try:
            wave = read_audio(path, sample_rate)
        except DataError as err:
            failed.append(str(err))
            bar.write(f"skipped: {err}", file=sys.stderr)
            continue
        done += 1
        yield label, wave, bar
    if not done:
        raise DataError(failed[0] if len(failed) == 1 else
                        f"none of the {len(failed)} files could be read; the first: {failed[0]}")
    if failed:
        print(f"{len(failed)} of {len(paths)} files could not be read and were skipped", file=sys.stderr)
