"""MLIR dialects defined with xDSL (`nanopass.dialects`)."""
