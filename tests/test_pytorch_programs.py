"""PyTorch tutorial programs (examples/pytorch/) run with only the module name in
their import lines changed, and give torch's losses from the same initial weights.

Both libraries draw the same numbers: ``randn`` and the default initialization
of Linear/Conv layers are replaced, in whichever library runs, by one seeded
NumPy source (the narrowest boundary to fake; everything else is the program
as written). torch's losses are recorded in tests/data/pytorch_programs.json
(``python -m tests.test_pytorch_programs`` re-records them), and compared live
when torch is installed.
"""
import json
import math
import os
import re

import numpy as np
import pytest

import autograd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["blitz_classifier", "learning_pytorch_with_examples", "dataloader_scheduler"]
RECORD = os.path.join(os.path.dirname(__file__), "data", "pytorch_programs.json")


def as_autograd(source):
    """The program with ``torch`` replaced by ``autograd`` in its import lines only."""
    out = []
    for line in source.splitlines():
        if re.match(r"\s*import torch\s*$", line):
            line = line.replace("import torch", "import autograd as torch")
        elif re.match(r"\s*(import|from) torch\b", line):
            line = re.sub(r"\btorch\b", "autograd", line, count=1)
        out.append(line)
    return "\n".join(out) + "\n"


def _seeded(lib, monkeypatch):
    """One seeded NumPy source for ``randn`` and layer initialization in ``lib``."""
    rng = np.random.default_rng(1234)

    def randn(*size, dtype=None, device=None, requires_grad=False, **_):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        return lib.tensor(rng.standard_normal(size), dtype=dtype or lib.float32,
                          requires_grad=requires_grad)

    def reset_parameters(layer):
        fan_in = int(np.prod(tuple(layer.weight.shape)[1:]))
        bound = 1 / math.sqrt(fan_in)
        with lib.no_grad():
            for p in (layer.weight, layer.bias):
                if p is not None:
                    p.copy_(lib.tensor(rng.uniform(-bound, bound, tuple(p.shape)),
                                       dtype=lib.float32))

    monkeypatch.setattr(lib, "randn", randn)
    for layer in (lib.nn.Linear, lib.nn.Conv2d, lib.nn.Conv1d):
        monkeypatch.setattr(layer, "reset_parameters", reset_parameters)


def run(name, lib, monkeypatch):
    with open(os.path.join(ROOT, "examples", "pytorch", name + ".py")) as f:
        source = f.read()
    if lib is autograd:
        source = as_autograd(source)
        assert "import torch\n" not in source
    _seeded(lib, monkeypatch)
    lib.manual_seed(0)
    namespace = {"__name__": "tutorial_" + name}
    exec(compile(source, name + ".py", "exec"), namespace)
    return [float(v) for v in namespace["main"]()]


def _recorded():
    with open(RECORD) as f:
        return json.load(f)


def _compare(name, got, want):
    assert len(got) == len(want), "%s: %d losses, torch %d" % (name, len(got), len(want))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_import_lines_only_are_rewritten():
    src = ("import torch\nimport torch.nn as nn\nfrom torch import optim\n"
           "from torch.utils.data import DataLoader\nx = torch.zeros(2)  # torch stays\n")
    assert as_autograd(src) == ("import autograd as torch\nimport autograd.nn as nn\n"
                                "from autograd import optim\nfrom autograd.utils.data import "
                                "DataLoader\nx = torch.zeros(2)  # torch stays\n")


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_runs_and_matches_torchs_recorded_losses(name, monkeypatch, capsys):
    got = run(name, autograd, monkeypatch)
    assert all(math.isfinite(v) for v in got)
    _compare(name, got, _recorded()[name])


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_matches_live_torch(name, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    want = run(name, torch, monkeypatch)
    monkeypatch.undo()
    _compare(name, run(name, autograd, monkeypatch), want)


if __name__ == "__main__":
    import torch
    mp = pytest.MonkeyPatch()
    losses = {}
    for program in PROGRAMS:
        losses[program] = run(program, torch, mp)
        mp.undo()
    with open(RECORD, "w") as f:
        json.dump({"torch": torch.__version__, **losses}, f, indent=0)
    print("recorded", {k: len(v) for k, v in losses.items()})
