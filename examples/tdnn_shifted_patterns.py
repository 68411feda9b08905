"""A TDNN recognises time-shifted patterns, then runs on a stream, one frame at a time.

Waibel et al. (1989) built the time-delay neural network for shift invariance:
the same weights look at every window of frames, and the frame scores are
summed over time, so a pattern is recognised wherever it starts. Here each
class owns a random pattern of 6 frames, hidden at a random offset in noise
(`keras_rnnkit.data.shifted_patterns`). Two causal TDNN layers (the second
with a dilated context) score every frame; the class is the softmax of the
frame scores averaged over time. The script reports the test accuracy, also
by where the pattern starts (the first, middle and last third of the possible
offsets): shift invariance means the three are alike.

Then the same weights run as a stream: `TDNNCell` computes one frame per call
from the frames before it (its states are buffers of partial sums), and a
running average of the frame scores gives a decision at every frame. After
the last frame the streamed decision equals the whole-sequence model's, which
the script checks, and it reports the latency per frame.

Run: `python examples/tdnn_shifted_patterns.py` (about a minute on 2 CPU
cores), or with `--smoke` to check that it runs, in seconds.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_rnnkit  # noqa: E402
from keras_rnnkit.data import shifted_patterns  # noqa: E402
from keras_rnnkit.data.splits import TEST_FRACTION  # noqa: E402
from keras_rnnkit.data.splits import VALIDATION_FRACTION  # noqa: E402
from keras_rnnkit.data.splits import split_fractions  # noqa: E402

# Causal contexts: each layer sees the current frame and frames before it.
CONTEXTS = ((-2, -1, 0), (-4, -2, 0))
CLASSES = 3
PATTERN_LENGTH = 6


def build(frames, features, units):
    """Whole sequences: (B, T, features) -> class probabilities (B, CLASSES)."""
    inputs = keras.Input((frames, features))
    hidden = inputs
    for context in CONTEXTS:
        hidden = keras_rnnkit.TDNN(units, context=context, padding="same")(hidden)
    frame_scores = keras.layers.Dense(CLASSES, name="frame_scores")(hidden)
    pooled = keras.layers.GlobalAveragePooling1D()(frame_scores)
    model = keras.Model(inputs, keras.layers.Softmax()(pooled))
    model.compile(
        keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def build_stream(model, features, batch_size):
    """One frame: (x_t, *states) -> (frame scores, *states), sharing `model`'s weights."""
    frame = keras.Input(batch_shape=(batch_size, 1, features))
    states_in, states_out = [], []
    hidden = frame
    tdnn_layers = [layer for layer in model.layers if isinstance(layer, keras_rnnkit.TDNN)]
    for tdnn in tdnn_layers:
        cell = keras_rnnkit.TDNNCell(tdnn.units, context=tdnn.context)
        stream = keras.layers.RNN(cell, return_sequences=True, return_state=True)
        shapes = [(batch_size, size) for size in cell.state_size]
        inputs = [keras.Input(batch_shape=shape) for shape in shapes]
        hidden, *new_states = stream(hidden, initial_state=inputs)
        stream.set_weights(tdnn.get_weights())  # same kernel (len(context), D, H) and bias
        states_in += inputs
        states_out += new_states
    scores = model.get_layer("frame_scores")(hidden)  # the trained layer itself
    return keras.Model([frame, *states_in], [scores, *states_out])


def stream_decisions(step_model, x):
    """Runs `x` (B, T, D) frame by frame: running class probabilities (B, T, C) and seconds."""
    states = [np.zeros(tuple(tensor.shape), "float32") for tensor in step_model.inputs[1:]]
    total = np.zeros((len(x), CLASSES), "float32")
    decisions, seconds = [], []
    for t in range(x.shape[1]):
        start = time.perf_counter()
        scores, *states = step_model.predict_on_batch([x[:, t : t + 1], *states])
        seconds.append(time.perf_counter() - start)
        total += np.asarray(scores)[:, 0]
        running = total / (t + 1)
        probabilities = np.exp(running - running.max(axis=1, keepdims=True))
        decisions.append(probabilities / probabilities.sum(axis=1, keepdims=True))
    return np.stack(decisions, axis=1), np.asarray(seconds)


def shifted_task(seed, samples=3000, frames=40):
    """`load_task("shifted")`'s splits, with where each test pattern starts (`offsets_test`)."""
    x, y, offsets = shifted_patterns(
        samples, frames, classes=CLASSES, pattern_length=PATTERN_LENGTH, seed=seed
    )
    # Splitting the sample indices as load_task splits the samples tells each
    # test sample's offset, which load_task drops.
    rows = split_fractions(
        "shifted", np.arange(samples), y, VALIDATION_FRACTION, TEST_FRACTION, seed, stratify=True
    )
    task = {
        f"{a}_{s}": v[rows[f"x_{s}"]]
        for s in ("train", "val", "test")
        for a, v in (("x", x), ("y", y))
    }
    task["offsets_test"] = offsets[rows["x_test"]]
    return task


def accuracy_by_offset(model, task):
    """Test accuracy of the patterns starting in each third of the possible offsets."""
    predicted = model.predict(task["x_test"], verbose=0).argmax(axis=-1)
    correct = predicted == task["y_test"]
    possible = task["x_test"].shape[1] - PATTERN_LENGTH + 1  # offsets 0 .. T - 6
    thirds = task["offsets_test"] * 3 // possible
    return {
        name: float(correct[thirds == index].mean())
        for index, name in enumerate(("early", "middle", "late"))
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, in seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.units, args.epochs = 4, 1

    keras.utils.set_random_seed(args.seed)
    task = shifted_task(args.seed)
    frames, features = task["x_train"].shape[1:]
    model = build(frames, features, args.units)
    start = time.perf_counter()
    model.fit(
        task["x_train"],
        task["y_train"],
        validation_data=(task["x_val"], task["y_val"]),
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(task["x_test"], task["y_test"], verbose=0, return_dict=True)
    by_offset = accuracy_by_offset(model, task)
    print(
        f"TDNN on {CLASSES} shifted patterns, {frames} frames: trained in {seconds:.1f} s, "
        f"test accuracy {accuracy['accuracy']:.3f} (chance {1 / CLASSES:.2f}); by where the "
        "pattern starts (thirds of the offsets): "
        + ", ".join(f"{name} {value:.3f}" for name, value in by_offset.items())
    )

    batch = task["x_test"][:32]
    whole = model.predict_on_batch(batch)
    step_model = build_stream(model, features, batch_size=len(batch))
    decisions, latency = stream_decisions(step_model, batch)
    difference = float(np.max(np.abs(decisions[:, -1] - whole)))
    labels = task["y_test"][: len(batch)]
    correct = (decisions.argmax(axis=-1) == labels[:, None]).mean(axis=0)
    print(
        f"streaming, one frame of {len(batch)} sequences per call: median latency "
        f"{np.median(latency) * 1e3:.2f} ms per frame; after the last frame the streamed "
        f"probabilities differ from the whole-sequence model's by at most {difference:.1e}"
    )
    print(
        "share of streamed decisions already right after frame "
        + ", ".join(f"{t}: {correct[t - 1]:.2f}" for t in (10, 20, 30, frames))
    )
    if difference > 1e-4:
        raise SystemExit("streaming and whole-sequence outputs differ")
    return {
        "accuracy": accuracy["accuracy"],
        "accuracy_by_offset": by_offset,
        "stream_difference": difference,
        "seconds": seconds,
        "settings": {"units": args.units, "epochs": args.epochs, "frames": frames},
    }


if __name__ == "__main__":
    main()
