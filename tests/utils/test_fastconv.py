"""use_fast_kernels computes the same functions with the same parameters: outputs,
gradients and a few optimiser steps agree with the unmodified braindecode models
to float32 rounding, state_dict keys and tensors are unchanged, and anything the
fast paths do not cover runs the original forward."""

from __future__ import annotations

import copy

import pytest
import torch
from braindecode.models import Deep4Net, ShallowFBCSPNet
from torch import nn

from brainalign.utils.fastconv import FastConv2d, IdentityMaxPool2d, use_fast_kernels


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


MODELS = {
    # eegmat's window: 19 x 200 at 100 Hz, where Deep4 shrinks its pools to (1, 1)
    "deep4": lambda: Deep4Net(n_chans=19, n_outputs=16, n_times=200, sfreq=100),
    "shallow": lambda: ShallowFBCSPNet(n_chans=19, n_outputs=3, n_times=200, sfreq=100),
}


def _grads(model, x, y, seed):
    torch.manual_seed(seed)  # the same dropout masks
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x.to(next(model.parameters()).dtype)), y)
    loss.backward()
    return loss.detach().double(), {n: p.grad.double() for n, p in model.named_parameters()}


def _rel(a, b, scale):
    return float((a - b).norm() / torch.maximum(b.norm(), 1e-3 * scale))


@pytest.mark.filterwarnings("ignore:n_times")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_same_outputs_gradients_and_steps(name):
    torch.manual_seed(0)
    stock = MODELS[name]()
    fast = copy.deepcopy(stock)
    assert use_fast_kernels(fast) > 0
    assert use_fast_kernels(fast) == 0  # idempotent
    sd0, sd1 = stock.state_dict(), fast.state_dict()
    assert list(sd0) == list(sd1) and all(torch.equal(sd0[k], sd1[k]) for k in sd0)

    x = torch.randn(4, 19, 200)
    y = torch.randint(0, 3, (4,))
    stock.eval(), fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), stock(x), rtol=1e-4, atol=1e-5)

    # gradients: the fast kernels are as close to float64 as the stock float32 kernels
    stock.train(), fast.train()
    exact = copy.deepcopy(stock).double()
    l64, g64 = _grads(exact, x, y, 0)
    l32, g32 = _grads(stock, x, y, 0)
    lf, gf = _grads(fast, x, y, 0)
    scale = torch.cat([g.flatten() for g in g64.values()]).norm()
    torch.testing.assert_close(lf, l64, rtol=1e-5, atol=1e-6)
    for name in g64:  # a bias before a BatchNorm has a zero gradient plus rounding noise: hence the scale
        stock_err, fast_err = _rel(g32[name], g64[name], scale), _rel(gf[name], g64[name], scale)
        assert fast_err < max(10 * stock_err, 1e-5), (name, fast_err, stock_err)

    # a few optimiser steps follow the same path
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-3) for m in (stock, fast)]
    for step in range(1, 4):
        losses = []
        for model, opt in zip((stock, fast), opts):
            loss, _ = _grads(model, x, y, step)
            opt.step()
            losses.append(loss)
        torch.testing.assert_close(losses[1], losses[0], rtol=1e-3, atol=1e-5)


def test_uncovered_inputs_run_the_original_forward():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, (3, 2), padding=(1, 0))
    fast = copy.deepcopy(conv)
    use_fast_kernels(fast)
    assert isinstance(fast, FastConv2d)
    x = torch.randn(2, 3, 9, 4)  # width 4: not a conv1d
    assert torch.equal(fast(x), conv(x))
    same = nn.Conv2d(3, 5, (3, 1), padding="same")
    fast_same = copy.deepcopy(same)
    use_fast_kernels(fast_same)
    x1 = torch.randn(2, 3, 9, 1)
    assert torch.equal(fast_same(x1), same(x1))
    pool = nn.MaxPool2d((3, 1), stride=(1, 1))
    use_fast_kernels(pool)
    assert type(pool) is nn.MaxPool2d  # a real pool is kept


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 0, 1)])
def test_conv1d_path_matches_conv2d(stride, padding, dilation):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 4, (5, 1), stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1))
    fast = copy.deepcopy(conv)
    use_fast_kernels(fast)
    x = torch.randn(3, 6, 40, 1)
    torch.testing.assert_close(fast(x), conv(x), rtol=1e-5, atol=1e-6)
    whole = nn.Conv2d(6, 4, (40, 1))  # the kernel spans the time axis: a dense layer
    fast_whole = copy.deepcopy(whole)
    use_fast_kernels(fast_whole)
    torch.testing.assert_close(fast_whole(x), whole(x), rtol=1e-5, atol=1e-5)
    assert fast_whole(x).shape == (3, 4, 1, 1)


def test_identity_pool_returns_the_input():
    pool = nn.MaxPool2d((1, 1), stride=(1, 1))
    use_fast_kernels(pool)
    assert isinstance(pool, IdentityMaxPool2d)
    x = torch.randn(2, 3, 7, 1)
    assert torch.equal(pool(x), nn.functional.max_pool2d(x, (1, 1), (1, 1)))
