"""Issue 12, item 2: complex tensors cannot require grad (chainrule's autograd is real).

Before, z = 1+2j with requires_grad gave d|z*z|/dz = -4.4-0.8j (PyTorch: 2+4j), silently.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

REFUSAL = r"complex128 is complex, and chainrule's autograd is real-valued.*real and imaginary"


def test_a_complex_tensor_that_requires_grad_is_refused_at_creation():
    with pytest.raises(cr.DtypeError, match="requires_grad: dtype " + REFUSAL):
        cr.tensor(1 + 2j, requires_grad=True)
    with pytest.raises(cr.DtypeError, match=REFUSAL):
        cr.Tensor(np.ones(3, np.complex128), requires_grad=True)
    with pytest.raises(cr.DtypeError, match="complex64 is complex"):
        cr.zeros(2, dtype=np.complex64, requires_grad=True)
    with pytest.raises(cr.DtypeError, match=REFUSAL):
        cr.from_numpy(np.ones(2, np.complex128), requires_grad=True)


def test_requires_grad_on_a_complex_tensor_and_a_complex_parameter_are_refused():
    z = cr.tensor([1 + 2j])
    with pytest.raises(cr.DtypeError, match=REFUSAL):
        z.requires_grad_()
    assert not z.requires_grad
    with pytest.raises(cr.DtypeError, match="Parameter: dtype " + REFUSAL):
        nn.Parameter(np.ones((2, 2), np.complex128))


@pytest.mark.parametrize("make", [
    lambda x: x.astype(np.complex128),
    lambda x: x * 1j,
    lambda x: x + np.complex128(1j),
    lambda x: x * np.array([1j, 2j]),
    lambda x: np.multiply(x, 1j),
])
def test_an_op_that_makes_a_complex_result_from_a_grad_tensor_is_refused(make):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.DtypeError, match="of a tensor that requires grad: dtype complex"):
        make(x)


def test_fft_of_a_grad_tensor_is_refused_and_real_sqrt_of_negatives_stays_real():
    x = cr.tensor([-1.0, 4.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.fft has no chainrule gate"):
        np.fft.fft(x)
    with np.errstate(invalid="ignore"):
        y = cr.sqrt(x)
    assert y.dtype == np.float64 and np.isnan(y.data[0]) and y.data[1] == 2.0


def test_complex_tensors_without_grad_keep_working():
    z = cr.tensor(1 + 2j)
    assert (z * z).item() == -3 + 4j
    assert abs(z).item() == pytest.approx(np.sqrt(5))
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        assert (x * 1j).data.tolist() == [1j, 2j]
    assert (x.detach() * 1j).dtype == np.complex128
