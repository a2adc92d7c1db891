"""What this installation can run on."""


def build_info():
    """A dict saying which backends are live and why the others are not."""
    from . import backend
    info = {"numpy": True}
    try:
        from .kernels import _C
        info["cpp"] = True
        info["cpp_build"] = _C.build_info()
        from .kernels import cpp
        info["cpp_gemm"] = cpp.gemm_kernel()   # the micro-kernel float32 products run on
    except ImportError as exc:
        info["cpp"] = False
        info["cpp_error"] = str(exc)
    try:
        import numba  # noqa: F401
        info["numba"] = True
    except ImportError as exc:
        info["numba"] = False
        info["numba_error"] = str(exc)
    status = backend.cuda_status()
    info["cuda"] = bool(status)
    if not status:
        info["cuda_error"] = status.reason
    return info
