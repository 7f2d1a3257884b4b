"""Support for users' own pass tests (hypothesis strategies, interpreters)."""
