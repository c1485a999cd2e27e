"""Using a trained model: export with its sidecar, loading (MindIR or checkpoint), the offline
runtime on files and the registry of ``infer.py`` sub-commands."""
