"""Model backends behind one interface, feature extraction, training and inference jobs."""
