# lit configuration for the filecheck tests of `nanopass opt` (xDSL style).
import os
import sys
import tempfile

import lit.formats

config.name = "nanopass"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".clef"]
config.test_source_root = os.path.dirname(__file__)
# Keep %t files out of the source tree.
config.test_exec_root = os.path.join(tempfile.gettempdir(), "nanopass-lit")
config.excludes = ["lit.cfg.py", "inputs"]
# The virtual environment's bin holds `nanopass` and `filecheck`.
bin_dir = os.path.dirname(sys.executable)
config.environment["PATH"] = bin_dir + os.pathsep + config.environment.get("PATH", os.environ.get("PATH", ""))
config.substitutions.append(("%inputs", os.path.join(os.path.dirname(__file__), "inputs")))
