// The optimizers' fused in-place updates (kernels/reference.py has the same
// formulas as array expressions): one pass over each parameter instead of five
// to eight temporaries, on the pool of threads.h. Arithmetic is in the
// parameter's dtype, as PyTorch's and NumPy's are.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"
#include "threads.h"

namespace py = pybind11;
using csrc::i64;

namespace {

// Elements per thread worth waking it for: a fused update is a few ns each.
constexpr double kPerThread = 1 << 16;

// Pointers to the arrays, checked: one dtype T, C-contiguous, the same size,
// and writeable where written (all but the gradient, the second). `names`
// names them for the errors, comma-separated.
template <typename T>
std::vector<T *> operands(const char *what, const char *names,
                          std::initializer_list<py::array> arrays) {
  std::vector<T *> out;
  const py::array &p = *arrays.begin();
  std::string rest = names;
  int index = 0;
  for (const py::array &a : arrays) {
    const size_t comma = rest.find(',');
    const std::string name = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    auto fail = [&](const std::string &why) {
      throw std::invalid_argument(std::string(what) + ": " + name + " " + why + " (parameter: " +
                                  csrc::shape_str(p) + " " + std::string(py::str(p.dtype())) +
                                  ")");
    };
    if (!py::isinstance<py::array_t<T>>(a)) fail("has dtype " + std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style)) fail("is not contiguous");
    if (a.size() != p.size()) fail("has " + std::to_string(a.size()) + " elements");
    if (index != 1 && !a.writeable()) fail("is read-only");
    out.push_back(static_cast<T *>(const_cast<void *>(a.data())));
    ++index;
  }
  return out;
}

// f(begin, end) over chunks of [0, n), without the GIL. f's loops see only
// local pointers, so the compiler vectorizes them.
template <class F>
void each(i64 n, F f) {
  py::gil_scoped_release nogil;
  csrc::parallel_for(n, csrc::threads_for(double(n), kPerThread),
                     [&](i64 b, i64 e, int) { f(b, e); });
}

template <typename T>
void sgd(py::array p_, py::array g_, py::array buf_, double lr_, double momentum_,
         double dampening_, double wd_, bool nesterov, bool first) {
  const auto v = operands<T>("sgd_update", "param,grad,momentum_buffer", {p_, g_, buf_});
  const T lr = T(lr_), mom = T(momentum_), damp = T(1 - dampening_), wd = T(wd_);
  each(p_.size(), [&](i64 begin, i64 end) {
    T *p = v[0];
    const T *g = v[1];
    if (mom == T(0)) {                 // buf is p itself then: not touched
      for (i64 i = begin; i < end; ++i) p[i] -= lr * (g[i] + wd * p[i]);
      return;
    }
    T *buf = v[2];
    for (i64 i = begin; i < end; ++i) {
      const T d = g[i] + wd * p[i];
      const T b = first ? d : mom * buf[i] + damp * d;
      buf[i] = b;
      p[i] -= lr * (nesterov ? d + mom * b : b);
    }
  });
}

template <typename T>
void adam(py::array p_, py::array g_, py::array m_, py::array v_, py::array vmax_, double lr_,
          double beta1, double beta2, double eps_, double wd_, bool decoupled, bool amsgrad,
          double step) {
  const auto v = operands<T>("adam_update", "param,grad,exp_avg,exp_avg_sq,max_exp_avg_sq",
                                   {p_, g_, m_, v_, vmax_});
  const T lr = T(lr_), b1 = T(beta1), b2 = T(beta2), eps = T(eps_), wd = T(wd_);
  const T bc1 = T(1 - std::pow(beta1, step)), bc2 = T(1 - std::pow(beta2, step));
  each(p_.size(), [&](i64 begin, i64 end) {
    T *p = v[0], *m = v[2], *sq = v[3], *vmax = v[4];
    const T *g = v[1];
    for (i64 i = begin; i < end; ++i) {
      T gi = g[i];
      if (decoupled) p[i] *= T(1) - lr * wd;
      else gi += wd * p[i];
      m[i] = b1 * m[i] + (T(1) - b1) * gi;
      sq[i] = b2 * sq[i] + (T(1) - b2) * gi * gi;
      T vi = sq[i];
      if (amsgrad) vi = vmax[i] = std::max(vmax[i], vi);
      p[i] -= lr * (m[i] / bc1) / (std::sqrt(vi / bc2) + eps);
    }
  });
}

template <typename T>
void rmsprop(py::array p_, py::array g_, py::array sq_, py::array buf_, double lr_,
             double alpha_, double eps_, double wd_, double momentum_) {
  const auto v = operands<T>("rmsprop_update", "param,grad,square_avg,momentum_buffer",
                                   {p_, g_, sq_, buf_});
  const T lr = T(lr_), alpha = T(alpha_), eps = T(eps_), wd = T(wd_), mom = T(momentum_);
  each(p_.size(), [&](i64 begin, i64 end) {
    T *p = v[0], *sq = v[2], *buf = v[3];
    const T *g = v[1];
    for (i64 i = begin; i < end; ++i) {
      const T gi = g[i] + wd * p[i];
      sq[i] = alpha * sq[i] + (T(1) - alpha) * gi * gi;
      T step = gi / (std::sqrt(sq[i]) + eps);
      if (mom != T(0)) step = buf[i] = mom * buf[i] + step;
      p[i] -= lr * step;
    }
  });
}

}  // namespace

void register_optim(py::module_ &m) {
  m.def("sgd_update", [](py::array p, py::array g, py::array buf, double lr, double momentum,
                         double dampening, double weight_decay, bool nesterov, bool first) {
    csrc::by_dtype(
        p, "sgd_update",
        [&] { sgd<float>(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first); },
        [&] { sgd<double>(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first); },
        "parameter");
  }, "In place: SGD with momentum, dampening, Nesterov and weight decay (PyTorch's formulas).");
  m.def("adam_update", [](py::array p, py::array g, py::array m_, py::array v, py::array vmax,
                          double lr, double beta1, double beta2, double eps, double weight_decay,
                          bool decoupled, bool amsgrad, double step) {
    csrc::by_dtype(
        p, "adam_update",
        [&] { adam<float>(p, g, m_, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled,
                          amsgrad, step); },
        [&] { adam<double>(p, g, m_, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled,
                           amsgrad, step); },
        "parameter");
  }, "In place: Adam (decoupled: AdamW), optionally AMSGrad.");
  m.def("rmsprop_update", [](py::array p, py::array g, py::array sq, py::array buf, double lr,
                             double alpha, double eps, double weight_decay, double momentum) {
    csrc::by_dtype(
        p, "rmsprop_update",
        [&] { rmsprop<float>(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum); },
        [&] { rmsprop<double>(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum); },
        "parameter");
  }, "In place: RMSprop with optional momentum and weight decay.");
}
