"""DPRNN-TasNet speech separation (asteroid's ``DPRNNTasNet``): the network, the PIT SI-SDR loss
and the asteroid checkpoint converter."""
