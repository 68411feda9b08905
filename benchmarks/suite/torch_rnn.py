"""PyTorch's own `nn.RNN` (its fused kernel; cuDNN on a GPU), timed like our models.

Only the torch backend's process imports this module.
"""

import numpy as np

from benchmarks.suite.measure import time_calls


def _synchronize(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_nn_rnn(size, warmup, repeats, seed=0):
    """(train step durations, inference durations, device name) of nn.RNN -> Linear.

    The training step is PyTorch's usual one: zero the gradients, forward, MSE
    loss, backward, `Adam.step()`; the same model, loss and optimizer as the
    Keras models, at the thread count the process was given.
    """
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(size.features, size.units, batch_first=True).to(device)
    head = torch.nn.Linear(size.units, 1).to(device)
    parameters = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(
        rng.standard_normal((size.batch, size.steps, size.features), dtype=np.float32)
    ).to(device)
    y = torch.as_tensor(rng.standard_normal((size.batch, 1), dtype=np.float32)).to(device)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        _, last = rnn(x)
        loss = torch.nn.functional.mse_loss(head(last[-1]), y)
        loss.backward()
        optimizer.step()
        _synchronize(torch, device)

    def infer():
        with torch.no_grad():
            _, last = rnn(x)
            head(last[-1]).cpu()

    train = time_calls(train_step, warmup, repeats)
    predict = time_calls(infer, warmup, repeats)
    return train, predict, str(device)
