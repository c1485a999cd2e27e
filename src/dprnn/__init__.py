"""DPRNN-TasNet speech separation (asteroid's ``DPRNNTasNet``): LibriMix / wsj0-2mix / WHAM!
data, the network, the PIT SI-SDR loss, the asteroid checkpoint converter, the recipe, scoring,
windowed inference (``infer.py separate``)."""
