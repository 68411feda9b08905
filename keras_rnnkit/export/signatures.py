"""The TensorFlow functions an export holds: `serve`, `step` and `initial_state`."""

import keras

from keras_rnnkit.export.checks import graph_inputs


def serve_signature(owner, model, batch_size=None, time_steps=None):
    """`tf.TensorSpec`s of the model's inputs: batch `batch_size`, time `time_steps`.

    None means dynamic. The feature sizes come from the model.
    """
    import tensorflow as tf

    specs = []
    for tensor in graph_inputs(owner, model):
        shape = list(tensor.shape)
        shape[0] = batch_size
        if len(shape) == 3:
            shape[1] = time_steps if time_steps is not None else shape[1]
        specs.append(tf.TensorSpec(shape, tf.as_dtype(tensor.dtype), name=tensor.name))
    return specs


def serve_function(model):
    """The model's inference call, one positional argument per input."""

    def serve(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    return serve


def step_signature(program, batch_size=None):
    import tensorflow as tf

    dtype = tf.as_dtype(program.input_dtype)
    return [tf.TensorSpec((batch_size, program.input_features), dtype, name="x_t")] + [
        tf.TensorSpec((batch_size, size), dtype, name=f"state_{i}")
        for i, size in enumerate(program.state_sizes)
    ]


def step_function(program):
    """`(x_t, *states) -> (y_t, *states)`: one step, y_t without its time axis."""

    def step(x_t, *states):
        outputs, new_states = program(x_t, list(states))
        flat = outputs if isinstance(outputs, list) else [outputs]
        flat = [
            keras.ops.squeeze(y, 1) if id(t) in program.timed_outputs else y
            for y, t in zip(flat, program.model_outputs)
        ]
        return (*flat, *new_states)

    return step


def initial_state_function(program, dtype):
    """`batch_size -> states`: zeros of the right shapes."""

    def initial_state(batch_size):
        return tuple(program.initial_state(batch_size, dtype))

    return initial_state
