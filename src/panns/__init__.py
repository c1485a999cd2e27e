"""PANNs audio tagging CNNs (Cnn14, Cnn10, Cnn6): network with its log-mel front end, checkpoint converter."""
