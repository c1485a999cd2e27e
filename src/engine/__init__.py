"""The training engine every model shares: train step, schedules, checkpoints, run directory."""
