"""Passes and analyses over the PSG (`nanopass.passes`), one per file."""
