"""Passes and analyses over the PSG (`nanopass.passes`), one per file.

Importing this package imports every pass module, which registers each pass
by name so that pipeline text can refer to it.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
