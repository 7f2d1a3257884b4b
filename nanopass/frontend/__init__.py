"""The Clef front end: layout-aware lexing, parsing, typing and lowering to the PSG."""
