"""Saving and loading that cannot run code, written atomically.

``save(obj, f)`` / ``load(f)`` (also ``autograd.save`` / ``autograd.load``, as in
PyTorch) take tensors, arrays, numbers, strings, None, dtypes, devices, and
dicts, lists and tuples of them nested to any depth: a state dict, an optimizer
state, a checkpoint with an epoch counter. The file is a ``.npz`` archive, one
entry per array, and one JSON entry describing the structure; it is read back
with ``allow_pickle=False``, so loading never unpickles. A path is written next
to its destination and renamed into place, so a crash mid-save leaves the
previous file intact.
"""
import io as _pyio
import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from .backend import Device, to_device
from .dtypes import dtype as _dtype
from .tensor import Tensor

__all__ = ["save", "load", "save_checkpoint", "load_checkpoint"]

_STRUCTURE = "__autograd__.json"
_FORMAT = 1


def _encode(obj, arrays):
    """``obj`` as JSON-able data, its arrays moved into ``arrays`` by name."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Tensor):
        name = "a%d" % len(arrays)
        arrays[name] = to_device(obj.array, "cpu")
        return {"$tensor": name, "device": str(obj.device), "requires_grad": obj.requires_grad,
                "parameter": type(obj).__name__ == "Parameter"}
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype == object:
            raise TypeError("save: cannot store an array of Python objects")
        name = "a%d" % len(arrays)
        arrays[name] = np.asarray(obj)
        return {"$array": name, "scalar": isinstance(obj, np.generic)}
    if isinstance(obj, _dtype):
        return {"$dtype": obj.name}
    if isinstance(obj, Device):
        return {"$device": str(obj)}
    if isinstance(obj, dict):
        return {"$dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()],
                "ordered": isinstance(obj, OrderedDict)}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    raise TypeError("save: cannot store a %s (tensors, arrays, numbers, strings, None, dtypes, "
                    "devices, and dicts, lists and tuples of them can be saved)"
                    % type(obj).__name__)


def _decode(data, arrays, map_location):
    if isinstance(data, list):
        return [_decode(v, arrays, map_location) for v in data]
    if not isinstance(data, dict):
        return data
    if "$tensor" in data:
        device = data["device"] if map_location is None else map_location
        value = to_device(arrays[data["$tensor"]], Device(device))
        if data.get("parameter"):
            from .nn.module import Parameter
            return Parameter(value, requires_grad=data["requires_grad"])
        return Tensor(value, requires_grad=data["requires_grad"])
    if "$array" in data:
        value = arrays[data["$array"]]
        return value[()] if data.get("scalar") else value
    if "$dtype" in data:
        return _dtype(data["$dtype"])
    if "$device" in data:
        return Device(data["$device"])
    if "$tuple" in data:
        return tuple(_decode(v, arrays, map_location) for v in data["$tuple"])
    if "$dict" in data:
        pairs = [(_hashable(_decode(k, arrays, map_location)), _decode(v, arrays, map_location))
                 for k, v in data["$dict"]]
        return OrderedDict(pairs) if data.get("ordered") else dict(pairs)
    raise ValueError("load: unknown entry %r in the file's structure" % (sorted(data),))


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def save(obj, f):
    """Write ``obj`` to ``f`` (a path, written atomically, or a binary file object)."""
    arrays = {}
    structure = {"format": _FORMAT, "object": _encode(obj, arrays)}   # fails before any write
    blob = np.frombuffer(json.dumps(structure).encode(), dtype=np.uint8)

    def write(handle):
        np.savez(handle, **arrays, **{_STRUCTURE: blob})

    if hasattr(f, "write"):
        write(f)
        return
    _write_atomically(os.fspath(f), write)


def _write_atomically(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = _temp_prefix(path)
    _remove_orphans(folder, prefix)
    fd, tmp = tempfile.mkstemp(prefix="%s%d-" % (prefix, os.getpid()), suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes it 0600; a file gets the umask's mode
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path):
    return ".%s.saving-" % os.path.basename(path)


def _remove_orphans(folder, prefix):
    """Delete temporary files that a save to the same path left when its process
    was killed (``.<name>.saving-<pid>-*.tmp`` whose pid no longer runs): without
    this, each killed save leaves a checkpoint-sized file behind."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:        # exists, but not ours to signal
        return True
    return True


def load(f, map_location=None, weights_only=True):
    """Read what :func:`save` wrote; never unpickles anything. ``map_location``
    ('cpu', 'cuda', a device) puts every tensor there instead of where it was
    saved. A PyTorch (pickle) file raises, saying how to convert it."""
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "the file")
    if hasattr(f, "read"):
        raw = f.read()
    else:
        with open(f, "rb") as handle:
            raw = handle.read()
    _check_format(raw, name)
    with np.load(_pyio.BytesIO(raw), allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    structure = json.loads(arrays.pop(_STRUCTURE).tobytes().decode())
    if structure.get("format", 0) > _FORMAT:
        raise ValueError("%s was written by a newer autograd (format %s, this one reads %d)"
                         % (name, structure.get("format"), _FORMAT))
    return _decode(structure["object"], arrays, map_location)


def _check_format(raw, name):
    if raw[:1] == b"\x80":
        raise ValueError("%s is a Python pickle (PyTorch's legacy format?): loading it could run "
                         "code, so autograd does not. Convert it where it is trusted: "
                         "obj = torch.load(f); autograd.save(<obj as tensors>, f2)" % name)
    if raw[:2] != b"PK":
        raise ValueError("%s is not a file written by autograd.save" % name)
    with zipfile.ZipFile(_pyio.BytesIO(raw)) as archive:
        names = archive.namelist()
    if any(n.endswith("data.pkl") for n in names):
        raise ValueError("%s was written by torch.save: its data.pkl is a pickle, and loading "
                         "it could run code, so autograd does not. Convert it where it is "
                         "trusted: sd = torch.load(f); autograd.save({k: v.numpy() for k, v in "
                         "sd.items()}, f2)" % name)
    if _STRUCTURE + ".npy" not in names:
        raise ValueError("%s is a zip/npz archive, but not one written by autograd.save "
                         "(no %s entry)" % (name, _STRUCTURE))


def save_checkpoint(path, model, optimizer=None, **extra):
    """Model weights, optionally optimizer state, and any JSON-able extras."""
    tree = {"model": model.state_dict()}
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict()
    if extra:
        tree["extra"] = extra
    save(tree, path)


def load_checkpoint(path, model, optimizer=None, strict=True):
    """Restore what :func:`save_checkpoint` wrote. Every shape and name is
    checked before anything changes; a mismatch raises listing all of them."""
    tree = load(path)
    if not isinstance(tree, dict) or "model" not in tree:
        raise ValueError("%s is not a checkpoint written by save_checkpoint" % path)
    if optimizer is not None and "optimizer" not in tree:
        raise ValueError("%s holds no optimizer state" % path)
    # load_state_dict checks everything before it changes the model; if the
    # optimizer's state then does not fit, put the model back as it was
    backup = model.state_dict()
    model.load_state_dict(tree["model"], strict=strict)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(tree["optimizer"])
        except Exception:
            model.load_state_dict(backup)
            raise
    return tree.get("extra", {})
