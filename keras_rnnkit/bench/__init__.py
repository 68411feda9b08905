"""The benchmark suite: `rnnkit bench`, `python benchmarks/run.py`, `python -m keras_rnnkit.bench`.

Times ElmanRNN, JordanRNN, TDNN and the streaming TDNNCell against the real
alternatives (SimpleRNN, a naive Jordan cell in `keras.layers.RNN`, Conv1D, a
gather-and-matmul TDNN, PyTorch's `nn.RNN`), one process per Keras backend in
the same run, and writes `results.json`, `results.md` and
`time_vs_length.png`. See docs/benchmarks.md.

Importing this package imports no framework beyond what `keras_rnnkit` itself
does; each backend runs in its own child process.
"""

from keras_rnnkit.bench.runner import main as main
