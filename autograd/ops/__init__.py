"""Differentiable ops, one family per file: each op's class (forward and derivative
side by side), then the function users call, then the Tensor methods it backs.

``__all__`` gathers every file's ``__all__``; ``DIFFERENTIABLE`` is all of it but
the ops a file declares ``NOT_DIFFERENTIABLE``, and the test suite gradchecks
(and gradgradchecks) each of those.
"""
from . import (activations, arrange, conv, device, elementwise, index, inplace, linalg, logic,
               reduce, shape)
from .activations import *  # noqa: F401,F403
from .arrange import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .index import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .logic import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403

_FAMILIES = (elementwise, activations, reduce, shape, arrange, index, linalg, conv, device,
             inplace, logic)

__all__ = [name for family in _FAMILIES for name in family.__all__]
DIFFERENTIABLE = [name for family in _FAMILIES for name in family.__all__
                  if name not in getattr(family, "NOT_DIFFERENTIABLE", ())]
