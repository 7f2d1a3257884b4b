"""Code generators that lower a PSG through the zipper (`nanopass.backends`)."""
