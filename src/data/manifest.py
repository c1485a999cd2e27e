"""List files of the data pipeline: CSV manifests, label maps, trial lists; written atomically.

Every reader fails with a one-line :class:`DataError` that names the file (and the line, for
row errors) and says what is expected; every writer writes a temporary file next to the
destination and renames it, so a reader never sees half a list.

Formats:

* manifest: CSV with a header row, e.g. ``utt_id,path,num_samples,speaker``.
* label map: JSON object ``{"name": integer label}``.
* trial list: one trial per line, ``label enroll test`` separated by white space, label 1 for a
  target (same speaker) and 0 for a non-target trial, the two utterances as paths relative to
  an audio root, e.g. VoxCeleb1's ``1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav``
  (``veri_test2.txt`` = Vox1-O, ``list_test_all2.txt`` = Vox1-E, ``list_test_hard2.txt`` = Vox1-H).
"""
import csv
import io
import json
import os
import uuid

from src.errors import DataError

# How many missing files a trial-list error names before it only counts them.
_MISSING_SHOWN = 5


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically; parent folders are created.

    Args:
        path: destination file.
        text: the whole content.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f'.{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}.tmp')
    try:
        with open(tmp, 'w', encoding='utf-8', newline='') as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_table(path, rows, columns):
    """Write a CSV manifest with a header row.

    Args:
        path: destination ``.csv``.
        rows: iterable of dicts holding at least ``columns``.
        columns: column names, in file order.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction='ignore',
                            lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_table(path, columns):
    """Read a CSV manifest and convert its columns.

    Args:
        path: a CSV file with a header row.
        columns: dict column name -> converter (``str``, ``int``, ``float`` ...) of the columns
            the caller needs; other columns are kept as strings.

    Returns:
        list of dicts, one per data row, in file order.

    Raises:
        DataError: missing or empty file, a missing column, a row with the wrong number of
            fields or a value the converter rejects (named by file:line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f'manifest not found: {path}')
    with open(path, encoding='utf-8', newline='') as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise DataError(f'manifest {path} is empty; expected a header row '
                            f'{",".join(columns)} and one row per utterance')
        missing = [name for name in columns if name not in header]
        if missing:
            raise DataError(f'manifest {path} lacks column(s) {", ".join(missing)} (header: '
                            f'{",".join(header)}); expected {",".join(columns)}')
        position = {name: header.index(name) for name in columns}
        rows = []
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(f'{path}:{line}: {len(fields)} fields, the header has '
                                f'{len(header)}; quote values that contain commas')
            row = dict(zip(header, fields))
            for name, convert in columns.items():
                try:
                    row[name] = convert(fields[position[name]])
                except ValueError:
                    raise DataError(f'{path}:{line}: bad {name} {fields[position[name]]!r} '
                                    f'(expected {convert.__name__})') from None
            rows.append(row)
    if not rows:
        raise DataError(f'manifest {path} has a header but no rows; re-run data preparation')
    return rows


def write_label_map(path, names):
    """Write the label map of ``names``: sorted unique names -> 0, 1, 2 ...

    Args:
        path: destination ``.json``.
        names: iterable of class names (duplicates allowed).

    Returns:
        the dict written.
    """
    labels = {name: index for index, name in enumerate(sorted(set(names)))}
    write_text(path, json.dumps(labels, indent=1) + '\n')
    return labels


def read_label_map(path):
    """Read a label map written by :func:`write_label_map`.

    Returns:
        dict name -> int label.

    Raises:
        DataError: missing or malformed file, labels that are not the integers 0 ... n-1.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f'label map not found: {path}')
    try:
        with open(path, encoding='utf-8') as handle:
            labels = json.load(handle)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f'label map {path} is not valid JSON ({exc}); '
                        're-run data preparation') from None
    if not isinstance(labels, dict) or not labels:
        raise DataError(f'label map {path} must be a non-empty JSON object name -> label')
    values = sorted(labels.values()) if all(type(v) is int for v in labels.values()) else None
    if values != list(range(len(labels))):
        raise DataError(f'label map {path}: the labels must be the integers 0 ... '
                        f'{len(labels) - 1}, each once')
    return labels


def write_trials(path, trials):
    """Write a trial list.

    Args:
        path: destination ``.txt``.
        trials: iterable of ``(label, enroll, test)``, label 0 or 1.
    """
    write_text(path, ''.join(f'{int(label)} {enroll} {test}\n' for label, enroll, test in trials))


def read_trials(path, audio_root=None, check_files=True):
    """Read a speaker-verification trial list (``label enroll test`` per line).

    Args:
        path: the trial list, e.g. VoxCeleb1 ``veri_test2.txt``.
        audio_root: the folder the utterance paths are relative to (for VoxCeleb1 the folder
            that holds the ``idNNNNN`` speaker folders).
        check_files: check that every utterance exists under ``audio_root`` (only when
            ``audio_root`` is given).

    Returns:
        list of ``(label: int, enroll: str, test: str)`` in file order; the paths as written.

    Raises:
        DataError: missing or empty file, a malformed line (named by file:line), or missing
            audio files (the first few named, and their count).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f'trial list not found: {path}')
    trials = []
    with open(path, encoding='utf-8') as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3 or fields[0] not in ('0', '1'):
                raise DataError(f'{path}:{line_number}: expected "label enroll test" with label '
                                f'0 or 1, got {line.strip()[:80]!r}')
            trials.append((int(fields[0]), fields[1], fields[2]))
    if not trials:
        raise DataError(f'trial list {path} has no trials')
    if check_files and audio_root is not None:
        utterances = sorted({utt for _, enroll, test in trials for utt in (enroll, test)})
        missing = [utt for utt in utterances if not os.path.isfile(os.path.join(audio_root, utt))]
        if missing:
            shown = ', '.join(missing[:_MISSING_SHOWN])
            raise DataError(f'{len(missing)} of the {len(utterances)} utterances of trial list '
                            f'{path} are missing under {audio_root} (e.g. {shown}); point the '
                            'audio root at the folder holding the idNNNNN speaker folders')
    return trials
