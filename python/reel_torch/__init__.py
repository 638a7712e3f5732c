"""reel_torch: from a PyTorch module to reel's YAML spec and weights, and proof that the C
reel generates computes what the module does.

  reel_torch.nn           PyTorch modules with reel's semantics for the ops PyTorch lacks
  reel_torch.export       trace a module, write <name>.yaml and <name>.safetensors
  reel_torch.verify       compile with reelc, run the C and the module, compare
  reel_torch.safetensors  save_file / load_file without the pip package

Runs on Debian's python3-torch alone. `python3 -m reel_torch --help` for the commands.
"""
from . import nn, safetensors  # noqa: F401
from .export import ExportError, export  # noqa: E402,F401  (the function hides the module)
from .verify import VerifyError, verify  # noqa: E402,F401
