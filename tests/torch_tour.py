"""A tour of everyday PyTorch idioms, each a function of the library (``torch`` or
``autograd``) so one definition runs on both. ``python -m tests.torch_tour``
(with torch installed) records torch's answers in tests/data/torch_tour.npz,
which test_torch_tour.py compares against without torch."""
import json
import os

import numpy as np

_rng = np.random.default_rng(0)
A = _rng.standard_normal((3, 4)).astype(np.float32)
B = _rng.standard_normal((4, 5)).astype(np.float32)
C = _rng.standard_normal((2, 3, 4)).astype(np.float32)
V = _rng.standard_normal(4).astype(np.float32)
P = _rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
IMG = _rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
SEQ = _rng.standard_normal((2, 3, 8)).astype(np.float32)
LAB = np.array([1, 0, 3], dtype=np.int64)
PATH = os.path.join(os.path.dirname(__file__), "data", "torch_tour.npz")


def _grad(T, fn, data=A):
    x = T.tensor(data, requires_grad=True)
    fn(x).backward()
    return x.grad


def _second(T):
    x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (h,) = T.autograd.grad(g.sum(), x)
    return g.detach(), h


def _step(T, make_opt, steps=3):
    T.manual_seed(0)
    w = T.tensor(A, requires_grad=True)
    opt = make_opt(T, [w])
    for _ in range(steps):
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum() + w.abs().sum()
        loss.backward()
        opt.step()
    return w.detach()


def _schedule(T, make, steps=6):
    w = T.tensor([1.0], requires_grad=True)
    opt = T.optim.SGD([w], lr=0.1)
    sched = make(T, opt)
    lrs = []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return T.tensor(lrs, dtype=T.float64)


def _module(T, make, x, seed_weights=True):
    """A module's output, its weights set from a fixed pattern so both libraries agree."""
    m = make(T)
    with T.no_grad():
        for i, p in enumerate(m.parameters()):
            n = int(np.prod(tuple(p.shape)))
            p.copy_(T.tensor(np.sin(np.arange(n) * 0.37 + i).reshape(tuple(p.shape))
                             .astype(np.float32)))
    return m(T.tensor(x))


IDIOMS = {
    # construction and dtypes
    "tensor_int": lambda T: T.tensor([1, 2, 3]),
    "tensor_float": lambda T: T.tensor([1.0, 2.5]),
    "tensor_bool": lambda T: T.tensor([True, False]),
    "tensor_dtype": lambda T: T.tensor([1, 2], dtype=T.float32),
    "zeros": lambda T: T.zeros(2, 3),
    "zeros_tuple": lambda T: T.zeros((2, 3), dtype=T.long),
    "ones_like": lambda T: T.ones_like(T.tensor(A)),
    "full": lambda T: T.full((2, 2), 7.0),
    "full_int": lambda T: T.full((2,), 3),
    "eye": lambda T: T.eye(3),
    "eye_rect": lambda T: T.eye(2, 3),
    "arange": lambda T: T.arange(5),
    "arange_float": lambda T: T.arange(0, 1, 0.25),
    "linspace": lambda T: T.linspace(0, 1, 5),
    "empty_shape": lambda T: T.tensor(tuple(T.empty(2, 3).shape)),
    "from_numpy": lambda T: T.from_numpy(np.arange(4.0)),
    "as_tensor": lambda T: T.as_tensor([1.0, 2.0]),
    "zeros_like_dtype": lambda T: T.zeros_like(T.tensor(A), dtype=T.float64),
    "float_method": lambda T: T.tensor([1, 2]).float(),
    "double_method": lambda T: T.tensor(A).double(),
    "long_method": lambda T: T.tensor([1.7, -2.3]).long(),
    "int_method": lambda T: T.tensor([1.7, 2.3]).int(),
    "bool_method": lambda T: T.tensor([0.0, 2.0]).bool(),
    "half_method": lambda T: T.tensor([1.5, 2.25]).half(),
    "type_cast": lambda T: T.tensor([1, 2]).type(T.float64),
    "to_dtype": lambda T: T.tensor(A).to(T.float64),
    "dtype_eq": lambda T: T.tensor([T.tensor(A).dtype == T.float32, T.tensor([1]).dtype == T.int64,
                                    T.tensor(A).dtype == T.float]),
    "is_floating_point": lambda T: T.tensor([T.tensor(A).is_floating_point(),
                                             T.is_floating_point(T.tensor([1]))]),
    "is_tensor": lambda T: T.tensor([T.is_tensor(T.tensor(A)), T.is_tensor(A)]),
    # shape facts
    "size": lambda T: T.tensor(list(T.tensor(C).size())),
    "size_dim": lambda T: T.tensor(T.tensor(C).size(1)),
    "shape_index": lambda T: T.tensor(T.tensor(C).shape[-1]),
    "numel": lambda T: T.tensor(T.tensor(C).numel()),
    "dim": lambda T: T.tensor(T.tensor(C).dim()),
    "len": lambda T: T.tensor(len(T.tensor(C))),
    "size_numel": lambda T: T.tensor(T.tensor(C).size().numel()),
    # arithmetic and promotion
    "add": lambda T: T.tensor(A) + T.tensor(A) * 2,
    "radd": lambda T: 1 + T.tensor(A),
    "sub_bcast": lambda T: T.tensor(C) - T.tensor(V),
    "div": lambda T: T.tensor(A) / 3,
    "int_div_true": lambda T: T.tensor([3, 4]) / 2,
    "floordiv_like": lambda T: T.floor(T.tensor([3.5, -1.5])),
    "pow_scalar": lambda T: T.tensor(A) ** 2,
    "pow_method": lambda T: T.tensor(P).pow(0.5),
    "pow_int_tensor": lambda T: T.tensor(P) ** T.tensor([1, 2, 3, 1]),
    "int_plus_float": lambda T: T.tensor([1, 2]) + 0.5,
    "int_times_float_tensor": lambda T: T.tensor([1, 2]) * T.tensor([0.5, 0.25]),
    "f32_plus_f64_scalar_tensor": lambda T: T.tensor(V) + T.tensor(2.0, dtype=T.float64),
    "f32_plus_f64": lambda T: T.tensor(V) + T.tensor(V, dtype=T.float64),
    "int32_plus_int64": lambda T: T.tensor([1], dtype=T.int32) + T.tensor([2]),
    "bool_plus_int": lambda T: T.tensor([True, False]) + 1,
    "neg": lambda T: -T.tensor(A),
    "abs": lambda T: T.abs(T.tensor(A)),
    "square": lambda T: T.square(T.tensor(A)),
    "sqrt": lambda T: T.sqrt(T.tensor(P)),
    "rsqrt": lambda T: T.rsqrt(T.tensor(P)),
    "exp_log": lambda T: T.log(T.exp(T.tensor(A))),
    "log1p": lambda T: T.log1p(T.tensor(P)),
    "sin_cos": lambda T: T.sin(T.tensor(A)) + T.cos(T.tensor(A)),
    "clamp": lambda T: T.clamp(T.tensor(A), -0.5, 0.5),
    "clamp_min": lambda T: T.tensor(A).clamp(min=0),
    "clip": lambda T: T.tensor(A).clip(-1, 1),
    "sign": lambda T: T.sign(T.tensor(A)),
    "round": lambda T: T.round(T.tensor([0.5, 1.5, 2.4, -0.5])),
    "ceil": lambda T: T.ceil(T.tensor(A)),
    "trunc": lambda T: T.trunc(T.tensor(A)),
    "reciprocal": lambda T: T.reciprocal(T.tensor(P)),
    "maximum": lambda T: T.maximum(T.tensor(A), T.tensor(V)),
    "max_two_tensors": lambda T: T.max(T.tensor(A), T.tensor(V)),
    "where": lambda T: T.where(T.tensor(A) > 0, T.tensor(A), 0.0),
    "where_tensors": lambda T: T.where(T.tensor(A) > 0, T.tensor(A), T.tensor(P)),
    "matmul_op": lambda T: T.tensor(A) @ T.tensor(B),
    "mm": lambda T: T.mm(T.tensor(A), T.tensor(B)),
    "bmm": lambda T: T.bmm(T.tensor(C), T.tensor(C).transpose(1, 2)),
    "matmul_vec": lambda T: T.matmul(T.tensor(A), T.tensor(V)),
    "mv": lambda T: T.mv(T.tensor(A), T.tensor(V)),
    "dot": lambda T: T.dot(T.tensor(V), T.tensor(V)),
    "outer": lambda T: T.outer(T.tensor(V), T.tensor(V[:2])),
    "einsum_mm": lambda T: T.einsum("ij,jk->ik", T.tensor(A), T.tensor(B)),
    "einsum_batch": lambda T: T.einsum("bij,bkj->bik", T.tensor(C), T.tensor(C)),
    "einsum_trace_like": lambda T: T.einsum("ij->j", T.tensor(A)),
    "einsum_ellipsis": lambda T: T.einsum("...j,j->...", T.tensor(C), T.tensor(V)),
    # comparisons
    "gt": lambda T: T.tensor(A) > 0,
    "eq_method": lambda T: T.tensor([1, 2, 3]).eq(T.tensor([1, 0, 3])),
    "ne": lambda T: T.tensor([1, 2]) != 2,
    "isnan": lambda T: T.isnan(T.tensor([1.0, float("nan")])),
    "isinf": lambda T: T.isinf(T.tensor([1.0, float("inf")])),
    "isfinite": lambda T: T.isfinite(T.tensor([1.0, float("inf"), float("nan")])),
    "allclose": lambda T: T.tensor(T.allclose(T.tensor(A), T.tensor(A) + 1e-9)),
    "equal": lambda T: T.tensor([T.equal(T.tensor(A), T.tensor(A)),
                                 T.equal(T.tensor(A), T.tensor(A[:2]))]),
    "logical_and": lambda T: T.logical_and(T.tensor(A) > 0, T.tensor(P) > 0.5),
    "any_all": lambda T: T.tensor([bool((T.tensor(A) > 0).any()), bool((T.tensor(A) > 0).all())]),
    "any_dim": lambda T: (T.tensor(A) > 1).any(dim=1),
    # reductions with dim and keepdim
    "sum": lambda T: T.tensor(A).sum(),
    "sum_dim": lambda T: T.tensor(A).sum(dim=1),
    "sum_dim_keep": lambda T: T.tensor(C).sum(dim=(0, 2), keepdim=True),
    "sum_positional": lambda T: T.sum(T.tensor(C), 1),
    "mean_dim": lambda T: T.tensor(C).mean(dim=-1),
    "mean_keepdim": lambda T: T.mean(T.tensor(A), dim=0, keepdim=True),
    "int_sum": lambda T: T.tensor([1, 2, 3]).sum(),
    "bool_sum": lambda T: (T.tensor(A) > 0).sum(),
    "var": lambda T: T.tensor(A).var(),
    "var_dim_biased": lambda T: T.tensor(A).var(dim=1, unbiased=False),
    "std_dim": lambda T: T.tensor(A).std(dim=0),
    "prod": lambda T: T.tensor(P).prod(),
    "prod_dim": lambda T: T.prod(T.tensor(P), dim=1),
    "cumsum": lambda T: T.cumsum(T.tensor(A), dim=1),
    "cumsum_method": lambda T: T.tensor([1, 2, 3]).cumsum(0),
    "norm": lambda T: T.tensor(A).norm(),
    "norm_dim": lambda T: T.norm(T.tensor(A), dim=1),
    "norm_p1": lambda T: T.tensor(A).norm(p=1),
    "logsumexp": lambda T: T.logsumexp(T.tensor(A), dim=1),
    "amax": lambda T: T.amax(T.tensor(C), dim=(1, 2)),
    "amin": lambda T: T.tensor(C).amin(dim=0),
    "max_all": lambda T: T.max(T.tensor(A)),
    "max_dim": lambda T: T.max(T.tensor(A), 1),
    "max_dim_method": lambda T: T.tensor(A).max(dim=0),
    "max_dim_keep": lambda T: T.tensor(A).max(1, keepdim=True),
    "max_values": lambda T: T.tensor(A).max(dim=1).values,
    "max_indices": lambda T: T.tensor(A).max(dim=1)[1],
    "min_dim": lambda T: T.min(T.tensor(A), dim=1),
    "predicted": lambda T: T.max(T.tensor(A), 1)[1],
    "argmax": lambda T: T.tensor(A).argmax(),
    "argmax_dim": lambda T: T.tensor(A).argmax(dim=1),
    "argmin_keep": lambda T: T.argmin(T.tensor(A), dim=0, keepdim=True),
    "accuracy": lambda T: (T.tensor(A).argmax(1) == T.tensor([1, 0, 3])).float().mean(),
    "count_correct": lambda T: (T.tensor(A).argmax(1) == T.tensor(LAB)).sum().item(),
    "count_nonzero": lambda T: T.count_nonzero(T.tensor(A) > 0),
    # sorting and selection
    "sort": lambda T: T.sort(T.tensor(A)),
    "sort_desc": lambda T: T.tensor(A).sort(dim=0, descending=True),
    "argsort": lambda T: T.argsort(T.tensor(A), dim=1),
    "topk": lambda T: T.topk(T.tensor(A), 2),
    "topk_dim": lambda T: T.tensor(A).topk(2, dim=0, largest=False),
    "unique": lambda T: T.unique(T.tensor([3, 1, 2, 3, 1])),
    "unique_counts": lambda T: T.unique(T.tensor([3, 1, 2, 3, 1]), return_counts=True),
    "gather": lambda T: T.gather(T.tensor(A), 1, T.tensor([[0], [2], [1]])),
    "gather_labels": lambda T: T.tensor(A).gather(1, T.tensor(LAB).unsqueeze(1)).squeeze(1),
    "scatter": lambda T: T.zeros(3, 4).scatter(1, T.tensor(LAB).unsqueeze(1), 1.0),
    "scatter_src": lambda T: T.zeros(2, 4).scatter(1, T.tensor([[0, 2], [3, 1]]),
                                                   T.tensor([[1.0, 2.0], [3.0, 4.0]])),
    "scatter_add": lambda T: T.zeros(4).scatter_add(0, T.tensor([0, 1, 1, 3]),
                                                    T.tensor([1.0, 2.0, 3.0, 4.0])),
    "index_select": lambda T: T.index_select(T.tensor(A), 0, T.tensor([2, 0])),
    "masked_fill": lambda T: T.tensor(A).masked_fill(T.tensor(A) < 0, 0.0),
    "masked_fill_inf": lambda T: T.tensor(A).masked_fill(T.tensor(P) > 0.5, float("-inf")),
    "nonzero": lambda T: T.nonzero(T.tensor([[0, 1], [2, 0]])),
    "where_single": lambda T: T.where(T.tensor([0, 3, 0, 4]) > 0)[0],
    "bool_index": lambda T: T.tensor(A)[T.tensor(A) > 0],
    "fancy_index": lambda T: T.tensor(A)[T.tensor([0, 2]), T.tensor([1, 3])],
    "row_pick": lambda T: T.tensor(A)[T.arange(3), T.tensor(LAB)],
    # shapes
    "view": lambda T: T.tensor(C).view(-1, 4),
    "view_flat": lambda T: T.tensor(C).view(2, -1),
    "reshape": lambda T: T.reshape(T.tensor(C), (4, 6)),
    "flatten": lambda T: T.flatten(T.tensor(C), 1),
    "flatten_method": lambda T: T.tensor(C).flatten(),
    "squeeze": lambda T: T.tensor(A).unsqueeze(1).squeeze(1),
    "squeeze_noop": lambda T: T.tensor(A).squeeze(0),
    "unsqueeze_dim": lambda T: T.tensor(V).unsqueeze(dim=0),
    "transpose": lambda T: T.tensor(C).transpose(0, 2),
    "t": lambda T: T.tensor(A).t(),
    "T": lambda T: T.tensor(A).T,
    "permute": lambda T: T.tensor(C).permute(2, 0, 1),
    "contiguous": lambda T: T.tensor(A).t().contiguous(),
    "clone": lambda T: T.tensor(A).clone(),
    "cat": lambda T: T.cat([T.tensor(A), T.tensor(A)], dim=0),
    "cat_dim1": lambda T: T.cat((T.tensor(A), T.tensor(P)), 1),
    "stack": lambda T: T.stack([T.tensor(V), T.tensor(V) * 2], dim=1),
    "split": lambda T: T.tensor(A).split(2, dim=1),
    "chunk": lambda T: T.chunk(T.tensor(C), 2, dim=2),
    "repeat": lambda T: T.tensor(V).repeat(2, 2),
    "expand": lambda T: T.tensor(V).expand(3, 4),
    "expand_as": lambda T: T.tensor(V).expand_as(T.tensor(A)),
    "view_as": lambda T: T.tensor(A).view_as(T.tensor(A).reshape(4, 3)),
    "flip": lambda T: T.flip(T.tensor(A), [1]),
    "tile": lambda T: T.tile(T.tensor(A), (2,)),
    "movedim": lambda T: T.movedim(T.tensor(C), 0, -1),
    "narrow": lambda T: T.tensor(A).narrow(1, 1, 2),
    "slice": lambda T: T.tensor(C)[:, 1:, ::2],
    "ellipsis": lambda T: T.tensor(C)[..., 0],
    "none_index": lambda T: T.tensor(V)[None, :],
    "setitem": lambda T: _setitem(T),
    "type_as": lambda T: T.tensor([1, 2]).type_as(T.tensor(A)),
    # activations and functional
    "relu": lambda T: T.relu(T.tensor(A)),
    "F_relu": lambda T: T.nn.functional.relu(T.tensor(A)),
    "sigmoid": lambda T: T.sigmoid(T.tensor(A)),
    "tanh_method": lambda T: T.tensor(A).tanh(),
    "softmax": lambda T: T.softmax(T.tensor(A), dim=1),
    "F_softmax": lambda T: T.nn.functional.softmax(T.tensor(A), dim=0),
    "log_softmax": lambda T: T.nn.functional.log_softmax(T.tensor(A), dim=1),
    "F_gelu": lambda T: T.nn.functional.gelu(T.tensor(A)),
    "F_silu": lambda T: T.nn.functional.silu(T.tensor(A)),
    "F_leaky": lambda T: T.nn.functional.leaky_relu(T.tensor(A), 0.1),
    "F_elu": lambda T: T.nn.functional.elu(T.tensor(A)),
    "F_softplus": lambda T: T.nn.functional.softplus(T.tensor(A)),
    "F_one_hot": lambda T: T.nn.functional.one_hot(T.tensor(LAB), 4),
    "F_one_hot_infer": lambda T: T.nn.functional.one_hot(T.tensor([0, 2])),
    "F_linear": lambda T: T.nn.functional.linear(T.tensor(A), T.tensor(B.T), T.tensor(B[0])),
    "F_pad": lambda T: T.nn.functional.pad(T.tensor(A), (1, 2)),
    "F_pad_2d": lambda T: T.nn.functional.pad(T.tensor(IMG), (1, 1, 2, 0), value=0.5),
    "F_adaptive": lambda T: T.nn.functional.adaptive_avg_pool2d(T.tensor(IMG), (4, 3)),
    "F_adaptive_1": lambda T: T.nn.functional.adaptive_avg_pool2d(T.tensor(IMG), 1),
    "F_max_pool": lambda T: T.nn.functional.max_pool2d(T.tensor(IMG), 2),
    "F_avg_pool": lambda T: T.nn.functional.avg_pool2d(T.tensor(IMG), 3, stride=2, padding=1),
    "F_interp_nearest": lambda T: T.nn.functional.interpolate(T.tensor(IMG), scale_factor=2),
    "F_interp_size": lambda T: T.nn.functional.interpolate(T.tensor(IMG), size=(4, 9)),
    "F_interp_bilinear": lambda T: T.nn.functional.interpolate(T.tensor(IMG), size=(9, 4),
                                                               mode="bilinear",
                                                               align_corners=False),
    "F_interp_bilinear_ac": lambda T: T.nn.functional.interpolate(T.tensor(IMG), scale_factor=2,
                                                                  mode="bilinear",
                                                                  align_corners=True),
    "F_interp_linear": lambda T: T.nn.functional.interpolate(T.tensor(SEQ), size=5, mode="linear"),
    "F_normalize": lambda T: T.nn.functional.normalize(T.tensor(A), dim=1),
    "F_layer_norm": lambda T: T.nn.functional.layer_norm(T.tensor(C), (4,)),
    "F_dropout_eval": lambda T: T.nn.functional.dropout(T.tensor(A), 0.5, training=False),
    "F_conv1d": lambda T: T.nn.functional.conv1d(T.tensor(SEQ), T.tensor(np.ones((4, 3, 3),
                                                 np.float32)), padding=1),
    # losses
    "F_cross_entropy": lambda T: T.nn.functional.cross_entropy(T.tensor(A), T.tensor(LAB)),
    "CrossEntropyLoss": lambda T: T.nn.CrossEntropyLoss()(T.tensor(A), T.tensor(LAB)),
    "CrossEntropyLoss_smooth": lambda T: T.nn.CrossEntropyLoss(label_smoothing=0.1)(
        T.tensor(A), T.tensor(LAB)),
    "CrossEntropyLoss_sum": lambda T: T.nn.CrossEntropyLoss(reduction="sum")(T.tensor(A),
                                                                             T.tensor(LAB)),
    "NLLLoss": lambda T: T.nn.NLLLoss()(T.nn.functional.log_softmax(T.tensor(A), 1), T.tensor(LAB)),
    "MSELoss": lambda T: T.nn.MSELoss()(T.tensor(A), T.tensor(P)),
    "MSELoss_none": lambda T: T.nn.MSELoss(reduction="none")(T.tensor(A), T.tensor(P)),
    "L1Loss": lambda T: T.nn.L1Loss()(T.tensor(A), T.tensor(P)),
    "BCELoss": lambda T: T.nn.BCELoss()(T.tensor(P), (T.tensor(A) > 0).float()),
    "BCEWithLogitsLoss": lambda T: T.nn.BCEWithLogitsLoss()(T.tensor(A), (T.tensor(A) > 0).float()),
    "BCEWithLogits_pos": lambda T: T.nn.BCEWithLogitsLoss(pos_weight=T.tensor([2.0] * 4))(
        T.tensor(A), T.tensor(P)),
    # layers (weights set from one pattern)
    "Linear": lambda T: _module(T, lambda T: T.nn.Linear(4, 2), A),
    "Conv2d": lambda T: _module(T, lambda T: T.nn.Conv2d(3, 2, 3, padding=1), IMG),
    "Conv1d": lambda T: _module(T, lambda T: T.nn.Conv1d(3, 2, 3, stride=2), SEQ),
    "LayerNorm": lambda T: _module(T, lambda T: T.nn.LayerNorm(8), SEQ),
    "BatchNorm2d": lambda T: _module(T, lambda T: T.nn.BatchNorm2d(3), IMG),
    "Embedding": lambda T: _module(T, lambda T: T.nn.Embedding(5, 2), np.array([[0, 4], [2, 2]])),
    "Sequential": lambda T: _module(T, lambda T: T.nn.Sequential(
        T.nn.Linear(4, 3), T.nn.ReLU(), T.nn.Linear(3, 2), T.nn.LogSoftmax(dim=1)), A),
    "Sequential_flatten": lambda T: _module(T, lambda T: T.nn.Sequential(
        T.nn.Conv2d(3, 2, 3), T.nn.MaxPool2d(2), T.nn.Flatten(), T.nn.Linear(8, 2)), IMG),
    "ModuleList": lambda T: _module(T, lambda T: _Stack(T), A),
    "Identity_Softmax": lambda T: T.nn.Softmax(dim=1)(T.nn.Identity()(T.tensor(A))),
    "AdaptiveAvgPool2d": lambda T: T.nn.AdaptiveAvgPool2d((1, 1))(T.tensor(IMG)),
    "num_params": lambda T: T.tensor(sum(p.numel() for p in T.nn.Sequential(
        T.nn.Conv2d(3, 8, 3), T.nn.Linear(10, 4)).parameters())),
    "state_dict_keys": lambda T: T.tensor(len(T.nn.Sequential(
        T.nn.Linear(2, 2), T.nn.BatchNorm1d(2)).state_dict())),
    # autograd
    "grad_sum": lambda T: _grad(T, lambda x: (x * x).sum()),
    "grad_mean_max": lambda T: _grad(T, lambda x: x.max(dim=1).values.mean()),
    "grad_softmax": lambda T: _grad(T, lambda x: (T.softmax(x, dim=1) * T.tensor(P)).sum()),
    "grad_norm": lambda T: _grad(T, lambda x: x.norm()),
    "grad_prod": lambda T: _grad(T, lambda x: x.prod(), P),
    "grad_cumsum": lambda T: _grad(T, lambda x: (x.cumsum(1) ** 2).sum()),
    "grad_gather": lambda T: _grad(T, lambda x: x.gather(1, T.tensor([[0, 0], [1, 2], [3, 3]]))
                                   .pow(2).sum()),
    "grad_topk": lambda T: _grad(T, lambda x: x.topk(2, dim=1).values.sum()),
    "grad_where": lambda T: _grad(T, lambda x: T.where(x > 0, x, x * 0.1).sum()),
    "grad_masked_fill": lambda T: _grad(T, lambda x: x.masked_fill(x > 0.5, 0.0).exp().sum()),
    "grad_einsum": lambda T: _grad(T, lambda x: T.einsum("ij,ij->", x, x)),
    "grad_ce": lambda T: _grad(T, lambda x: T.nn.functional.cross_entropy(x, T.tensor(LAB))),
    "second_order": _second,
    "no_grad": lambda T: T.tensor(_no_grad(T)),
    "detach": lambda T: T.tensor(T.tensor(A, requires_grad=True).detach().requires_grad),
    "requires_grad_flag": lambda T: T.tensor((T.tensor(A, requires_grad=True) * 2).requires_grad),
    "inference_mode": lambda T: T.tensor(_inference(T)),
    "data_update": lambda T: _data_update(T),
    "data_max": lambda T: T.max(T.tensor(A, requires_grad=True).data, 1),
    "data_fill": lambda T: _data_fill(T),
    "data_numpy": lambda T: T.tensor(A).data.numpy(),
    "normal_shape": lambda T: T.tensor(tuple(T.empty(3, 2).normal_(0, 0.02).shape)),
    # optimizers and schedules
    "SGD": lambda T: _step(T, lambda T, ps: T.optim.SGD(ps, lr=0.1)),
    "SGD_momentum": lambda T: _step(T, lambda T, ps: T.optim.SGD(ps, lr=0.1, momentum=0.9,
                                                                  nesterov=True)),
    "Adam": lambda T: _step(T, lambda T, ps: T.optim.Adam(ps, lr=0.1)),
    "AdamW": lambda T: _step(T, lambda T, ps: T.optim.AdamW(ps, lr=0.1, weight_decay=0.1)),
    "RMSprop": lambda T: _step(T, lambda T, ps: T.optim.RMSprop(ps, lr=0.01)),
    "Adagrad": lambda T: _step(T, lambda T, ps: T.optim.Adagrad(ps, lr=0.1, lr_decay=0.01,
                                                                weight_decay=0.1)),
    "StepLR": lambda T: _schedule(T, lambda T, o: T.optim.lr_scheduler.StepLR(o, 2, gamma=0.5)),
    "MultiStepLR": lambda T: _schedule(T, lambda T, o: T.optim.lr_scheduler.MultiStepLR(
        o, [1, 4], gamma=0.1)),
    "ExponentialLR": lambda T: _schedule(T, lambda T, o: T.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    "CosineAnnealingLR": lambda T: _schedule(T, lambda T, o:
                                             T.optim.lr_scheduler.CosineAnnealingLR(o, 5, 0.01)),
    "LambdaLR": lambda T: _schedule(T, lambda T, o: T.optim.lr_scheduler.LambdaLR(
        o, lambda e: 1 / (1 + e))),
    "LinearLR": lambda T: _schedule(T, lambda T, o: T.optim.lr_scheduler.LinearLR(
        o, start_factor=0.25, total_iters=3)),
    "clip_grad_norm": lambda T: _clip(T),
    # data
    "TensorDataset_item": lambda T: T.utils.data.TensorDataset(T.tensor(A), T.tensor(LAB))[1],
    "DataLoader_batches": lambda T: [b[1] for b in T.utils.data.DataLoader(
        T.utils.data.TensorDataset(T.tensor(A), T.tensor(LAB)), batch_size=2)],
    "DataLoader_drop_last": lambda T: T.tensor(len(T.utils.data.DataLoader(
        T.utils.data.TensorDataset(T.tensor(C)), batch_size=3, drop_last=True))),
    "default_collate": lambda T: T.utils.data.DataLoader(_Pairs(), batch_size=3).__iter__()
    .__next__(),
    "random_split_sizes": lambda T: T.tensor([len(s) for s in T.utils.data.random_split(
        T.utils.data.TensorDataset(T.arange(10)), [0.7, 0.3])]),
}


class _Pairs:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i, float(i) / 2


def _Stack(T):
    class Stack(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = T.nn.ModuleList([T.nn.Linear(4, 4) for _ in range(2)])
            self.heads = T.nn.ModuleDict({"out": T.nn.Linear(4, 1)})

        def forward(self, x):
            for layer in self.layers:
                x = T.tanh(layer(x))
            return self.heads["out"](x)
    return Stack()


def _setitem(T):
    x = T.zeros(3, 4)
    x[0] = 1.0
    x[:, 2] = T.tensor([5.0, 6.0, 7.0])
    x[x > 5] = -1.0
    return x


def _data_update(T):
    w = T.tensor(A, requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.1 * w.grad.data
    return w.detach(), T.tensor(w.requires_grad), T.tensor(w.is_leaf)


def _data_fill(T):
    layer = T.nn.Linear(2, 3)
    layer.weight.data.fill_(0.5)
    layer.bias.data.zero_()
    T.nn.init.constant_(layer.bias.data, 0.25)
    return layer(T.tensor(A[:, :2]))


def _no_grad(T):
    w = T.tensor(A, requires_grad=True)
    with T.no_grad():
        y = w * 2
    return y.requires_grad


def _inference(T):
    w = T.tensor(A, requires_grad=True)
    with T.inference_mode():
        y = w * 2
    return y.requires_grad


def _clip(T):
    w = T.tensor(A, requires_grad=True)
    (w * T.tensor(P) * 3).sum().backward()
    norm = T.nn.utils.clip_grad_norm_([w], 1.0)
    return norm, w.grad


def flatten(value):
    """An idiom's answer as a list of NumPy arrays (nested tuples and lists in order)."""
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in flatten(v)]
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        return [np.asarray(value.numpy())]
    return [np.asarray(value)]


def dtype_name(array):
    return array.dtype.name


def record():
    import torch
    arrays, meta = {}, {}
    for name, fn in IDIOMS.items():
        out = flatten(fn(torch))
        meta[name] = [dtype_name(a) for a in out]
        for i, a in enumerate(out):
            arrays["%s/%d" % (name, i)] = a
    np.savez(PATH, **arrays, __meta__=np.frombuffer(json.dumps(
        {"torch": torch.__version__, "dtypes": meta}).encode(), np.uint8))
    print("recorded %d idioms from torch %s in %s" % (len(IDIOMS), torch.__version__, PATH))


if __name__ == "__main__":
    record()
