"""The benchmark suite's machinery; its one entry point is `python benchmarks/run.py`.

Times ElmanRNN, JordanRNN, TDNN and the streaming TDNNCell against the real
alternatives (SimpleRNN, a naive Jordan cell in `keras.layers.RNN`, Conv1D, a
gather-and-matmul TDNN, PyTorch's `nn.RNN`), one process per Keras backend in
the same run, and writes `results.json`, `results.md` and
`time_vs_length.png`. See docs/benchmarks.md. It lives in the checkout, not in the
installed package: it holds the issue's speed targets, which are no part of the library.
"""

from benchmarks.suite.runner import main as main
