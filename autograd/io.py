"""Checkpoints that cannot run code when loaded, written atomically.

Arrays go to a ``.npz`` archive read back with ``allow_pickle=False``; anything
else (optimizer options, epoch counters) is stored as JSON text inside it.
The file is written next to its destination and renamed into place, so a
crash mid-save leaves the previous checkpoint intact.
"""
import json
import os
import tempfile

import numpy as np

_META = "__meta__.json"


def _flatten(tree, prefix, arrays, meta):
    """Split a nested dict into arrays (by '/'-joined key) and JSON-able leaves."""
    for key, value in tree.items():
        name = prefix + str(key)
        if "/" in str(key):
            raise ValueError("checkpoint keys may not contain '/': %r" % (key,))
        if isinstance(value, dict):
            meta[name] = {"__dict__": True, "int_keys": all(isinstance(k, int) for k in value)}
            _flatten(value, name + "/", arrays, meta)
        elif hasattr(value, "shape") and hasattr(value, "dtype") and value.dtype != object:
            arrays[name] = np.asarray(value)
        else:
            meta[name] = {"value": value}


def save(path, tree):
    """Save a (nested) dict of arrays and JSON-able values to ``path`` atomically."""
    arrays, meta = {}, {}
    _flatten(tree, "", arrays, meta)
    if _META in arrays:
        raise ValueError("%r is a reserved checkpoint key" % _META)
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = _temp_prefix(path)
    _remove_orphans(folder, prefix)
    fd, tmp = tempfile.mkstemp(prefix="%s%d-" % (prefix, os.getpid()), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_META: blob})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def load(path):
    """Load what :func:`save` wrote. Never unpickles anything."""
    with np.load(path, allow_pickle=False) as archive:
        files = dict(archive.items())
    meta = json.loads(files.pop(_META).tobytes().decode()) if _META in files else {}
    root = {}

    def node(name):
        parts = name.split("/")
        d = root
        for i in range(1, len(parts)):
            d = d.setdefault(_key(parts[:i], meta), {})
        return d, _key(parts, meta)

    for name in sorted(meta):
        d, key = node(name)
        if meta[name].get("__dict__"):
            d.setdefault(key, {})
        else:
            d[key] = meta[name]["value"]
    for name, arr in files.items():
        d, key = node(name)
        d[key] = arr
    return root


def _key(parts, meta):
    parent = "/".join(parts[:-1])
    if parent and meta.get(parent, {}).get("int_keys"):
        return int(parts[-1])
    return parts[-1]


def save_checkpoint(path, model, optimizer=None, **extra):
    """Model weights, optionally optimizer state, and any JSON-able extras."""
    tree = {"model": dict(model.state_dict())}
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict()
    if extra:
        tree["extra"] = extra
    save(path, tree)


def load_checkpoint(path, model, optimizer=None, strict=True):
    """Restore what :func:`save_checkpoint` wrote. Every shape and name is
    checked before anything changes; a mismatch raises listing all of them."""
    tree = load(path)
    if "model" not in tree:
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
