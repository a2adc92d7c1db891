"""The README's Python examples run as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    exec(compile(BLOCKS[index], "README.md[%d]" % index, "exec"), {})


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1).splitlines()
    assert "examples/" in first[0] and "pytest" in first[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert first[1].split("#")[0].strip() in ci


def test_every_package_is_installed():
    """pyproject's explicit package list names every package directory (a missing one
    installs from a checkout, editable, and vanishes from the wheel)."""
    import tomllib
    root = README.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(root).parts)
             for p in (root / "autograd").rglob("__init__.py")}
    found |= {"autograd.kernels" + "".join("." + s for s in p.parent.relative_to(
        root / "kernels").parts) for p in (root / "kernels").rglob("__init__.py")}
    assert found <= listed, "not in pyproject's packages: %s" % sorted(found - listed)
