"""ECAPA-TDNN speaker embeddings: the network, its cosine head with AAM-softmax loss, and the
speechbrain checkpoint converter."""
