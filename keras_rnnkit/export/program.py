"""One time step of a whole-sequence model, with its states passed in and out.

`StepProgram` follows the layer graph of a functional or Sequential model and
replaces each recurrent layer by one call of its cell, and each causal `TDNN`
by a `TDNNCell` that shares its weights. Layers that act on each time step on
its own (Dense, activations, normalisation over features, merges, ...) run
unchanged on a (B, 1, F) step; after a recurrent layer that returns only its
last output (no time axis), every layer runs unchanged. Everything is
`keras.ops`, so a step runs on every backend, eagerly or traced.

Shapes: B batch, D input features; `states` is a flat list of (B, S_i)
tensors, one per state of each recurrent layer, in graph order.
"""

import keras

from keras_rnnkit.export import checks
from keras_rnnkit.layers.tdnn import TDNN
from keras_rnnkit.layers.tdnn import TDNNCell

# Layers that act on every time step independently: on a (B, 1, F) step they
# give that step of their output on (B, T, F).
_PER_STEP = (
    keras.layers.Dense,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.SpatialDropout1D,
    keras.layers.ActivityRegularization,
    keras.layers.UnitNormalization,
    keras.layers.Rescaling,
    keras.layers.Identity,
    keras.layers.TimeDistributed,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
)
# Per step only when they work along the feature axis.
_FEATURE_AXIS = (
    keras.layers.LayerNormalization,
    keras.layers.BatchNormalization,
    keras.layers.Concatenate,
    keras.layers.Softmax,
)


def _along_features(layer):
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return all(axis in (-1, 2) for axis in axes)


class _Recurrent:
    """A recurrent layer as one call of `cell` per step."""

    def __init__(self, layer, cell):
        self.layer = layer
        self.cell = cell
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        self.state_sizes = [int(size) for size in sizes]
        self.return_sequences = getattr(layer, "return_sequences", True)
        self.return_state = getattr(layer, "return_state", False)

    def __call__(self, step, states):
        y, new_states = self.cell(step[:, 0], list(states), training=False)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        output = keras.ops.expand_dims(y, 1) if self.return_sequences else y
        if self.return_state:
            return [output, *new_states], new_states
        return output, new_states


def _streaming_tdnn_cell(owner, layer):
    """A `TDNNCell` that computes `layer` (a causal TDNN) with the same variables."""
    if layer.context[-1] > 0:
        raise ValueError(
            f"{owner}: TDNN {layer.name!r} has future offsets (context={layer.context}): "
            "its output at step t needs inputs that have not arrived yet, so it cannot "
            "stream. Train a causal TDNN (every offset <= 0, e.g. context=(-4, ..., 0)) "
            "to stream, or export the whole-sequence model instead."
        )
    if layer.padding == "valid" or layer.strides != 1:
        raise ValueError(
            f"{owner}: TDNN {layer.name!r} has padding={layer.padding!r}, "
            f"strides={layer.strides}: its output steps are not one per input step, so "
            "it cannot stream. Use padding='causal' (or 'same') and strides=1 to stream."
        )
    cell = TDNNCell(
        layer.units,
        layer.context,
        activation=layer.activation,
        use_bias=layer.use_bias,
        layer_norm=layer.layer_norm,
        dtype=layer.dtype_policy,
        name=f"{layer.name}_stream",
    )
    # Shared, not copied: the streaming form follows the model's training.
    for name in ("kernel", "bias", "layer_norm_scale", "layer_norm_offset"):
        setattr(cell, name, getattr(layer, name))
    cell.built = True
    return cell


def _ids(tensors):
    tensors = tensors if isinstance(tensors, (list, tuple)) else [tensors]
    return [id(t) for t in tensors]


class StepProgram:
    """The layers of `model`, rewritten to run one time step with explicit states.

    Args:
        model: A built functional or Sequential model with one input
            (B, T, D).
        owner: The name errors are reported under.

    Call arguments:
        x_t: (B, D) input of one step.
        states: List of (B, S_i) states (`initial_state` for a new sequence).

    Returns:
        `(outputs, new_states)`: `outputs` as the model's outputs for the
        sequence so far, with a time axis of length 1 where the model's
        output has a time axis; `new_states` like `states`.
    """

    def __init__(self, model, owner="StepProgram"):
        self.owner = owner
        inputs = self._single_sequence_input(model)
        self._input_id = id(inputs)
        self.input_features = int(inputs.shape[-1])
        self.input_dtype = inputs.dtype
        self.model_outputs = list(model.outputs)
        self._output_is_list = len(self.model_outputs) > 1
        timed = {id(inputs)}  # values that still have a time axis
        self.instructions = []  # (runner, input ids, output ids, state slice)
        self.state_sizes = []
        pending = [
            layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
        ]
        # `layer.input` also lists the masks Keras passes along (not the
        # output of any layer); only the values layers produce are followed.
        self._produced = {id(inputs)}.union(*(_ids(layer.output) for layer in pending))
        known = {id(inputs)}
        while pending:
            ready = [layer for layer in pending if all(i in known for i in self._inputs(layer))]
            if not ready:
                names = [layer.name for layer in pending]
                raise ValueError(
                    f"{owner}: cannot follow the graph of model {model.name!r} through the "
                    f"layers {names}: streaming needs every layer to be called once."
                )
            for layer in ready:
                pending.remove(layer)
                self._add(layer, timed)
                known.update(_ids(layer.output))
        self.timed_outputs = {id(t) for t in self.model_outputs if id(t) in timed}

    def _single_sequence_input(self, model):
        inputs = checks.graph_inputs(self.owner, model)
        if len(inputs) != 1 or len(inputs[0].shape) != 3:
            raise ValueError(
                f"{self.owner}: streaming needs a model with one (batch, time, features) "
                f"input. Received: input shapes {[tuple(i.shape) for i in inputs]}. A "
                "teacher-forced JordanRNN needs its targets only while training: rebuild "
                "the model for inference as keras.Model(x, jordan(x)) with the same layers."
            )
        return inputs[0]

    def _inputs(self, layer):
        return [i for i in _ids(layer.input) if i in self._produced]

    def _add(self, layer, timed):
        in_ids, out_ids = self._inputs(layer), _ids(layer.output)
        has_time = [i in timed for i in in_ids]
        runner, n_states = self._runner(layer, any(has_time))
        if any(has_time) and not all(has_time):
            raise ValueError(
                f"{self.owner}: layer {layer.name!r} mixes sequences with per-sequence "
                "values, which streaming cannot reproduce step by step."
            )
        if any(has_time):
            outputs_timed = out_ids if not isinstance(runner, _Recurrent) else []
            if isinstance(runner, _Recurrent) and runner.return_sequences:
                outputs_timed = out_ids[:1]
            timed.update(outputs_timed)
        start = len(self.state_sizes)
        if n_states:
            self.state_sizes.extend(runner.state_sizes)
        self.instructions.append((runner, in_ids, out_ids, (start, len(self.state_sizes))))

    def _runner(self, layer, has_time):
        owner, name = self.owner, layer.name
        if not has_time:
            return layer, 0
        if isinstance(layer, keras.layers.Bidirectional) or getattr(layer, "go_backwards", False):
            raise ValueError(
                f"{owner}: layer {name!r} reads the sequence backwards, so each output "
                "needs the whole future of the sequence; it cannot stream. Export the "
                "whole-sequence model instead (the SavedModel `serve` signature, TFLite "
                "or ONNX)."
            )
        if isinstance(layer, keras.layers.RNN):
            if len(self._inputs(layer)) != 1:
                raise ValueError(
                    f"{owner}: layer {name!r} is called with more than its sequence "
                    "(initial_state or targets); streaming starts every layer from its "
                    "own zero state. Rebuild the model for inference without them."
                )
            return _Recurrent(layer, layer.cell), 1
        if isinstance(layer, TDNN):
            cell = _streaming_tdnn_cell(owner, layer)
            return _Recurrent(layer, cell), 1
        if isinstance(layer, keras.layers.Masking):
            return _Identity(), 0
        if isinstance(layer, _PER_STEP) or (
            isinstance(layer, _FEATURE_AXIS) and _along_features(layer)
        ):
            return layer, 0
        raise ValueError(
            f"{owner}: layer {name!r} ({type(layer).__name__}) may combine different time "
            "steps, so it cannot run one step at a time. Streaming supports ElmanRNN, "
            "JordanRNN, keras.layers.RNN cells, causal TDNN, and per-step layers (Dense, "
            "activations, dropout, LayerNormalization, merges, TimeDistributed) before "
            "the last recurrent layer; any layer after one that returns only its last output."
        )

    def initial_state(self, batch_size, dtype="float32"):
        """Zeros for every state: the start of a new sequence."""
        return [keras.ops.zeros((batch_size, size), dtype=dtype) for size in self.state_sizes]

    def __call__(self, x_t, states):
        if len(states) != len(self.state_sizes):
            raise ValueError(
                f"{self.owner}: expected {len(self.state_sizes)} states. "
                f"Received: {len(states)} states"
            )
        values = {self._input_id: keras.ops.expand_dims(x_t, 1)}
        new_states = list(states)
        for runner, in_ids, out_ids, (start, stop) in self.instructions:
            args = [values[i] for i in in_ids]
            arg = args if len(args) > 1 else args[0]
            if isinstance(runner, _Recurrent):
                outputs, new = runner(arg, states[start:stop])
                new_states[start:stop] = new
            elif isinstance(runner, keras.layers.Layer):
                outputs = runner(arg, training=False)
            else:
                outputs = runner(arg)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            values.update(zip(out_ids, outputs))
        result = [values[id(t)] for t in self.model_outputs]
        return (result if self._output_is_list else result[0]), new_states


class _Identity:
    """Masking, in a stream: a stream has no padding (send only the real steps)."""

    def __call__(self, value):
        return value
