"""DPRNN-TasNet speech separation: LibriMix / wsj0-2mix / WHAM! data, the network and its loss."""
