"""wav2vec 2.0 (Baevski et al. 2020): self-supervised pretraining and CTC fine-tuning, as fairseq
trains it, with the layout and parameter names of Hugging Face transformers' ``Wav2Vec2``."""
