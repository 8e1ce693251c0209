"""TF-Keras peer timing, run by benchmarks/speed.py in benchmarks/peers/.venv-tf.

    benchmarks/peers/.venv-tf/bin/python benchmarks/peers/keras_lstm.py B T I H L REPEATS

Prints one JSON line: median train-step and inference times (seconds) for a stacked LSTM,
plain and with recurrent_dropout=0.25 (which makes Keras leave its fused kernel).
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import tensorflow as tf


def build(T, I, H, L, recurrent_dropout):
    inputs = tf.keras.Input((T, I))
    x = inputs
    for _ in range(L):
        x = tf.keras.layers.LSTM(H, return_sequences=True, recurrent_dropout=recurrent_dropout)(x)
    model = tf.keras.Model(inputs, x)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
    return model


def main():
    B, T, I, H, L, repeats = (int(v) for v in sys.argv[1:7])
    x = np.random.randn(B, T, I).astype("float32")
    y = np.zeros((B, T, H), "float32")
    models = {"plain": build(T, I, H, L, 0.0), "recurrent_dropout": build(T, I, H, L, 0.25)}
    times = {k: {"train": [], "infer": []} for k in models}
    for rep in range(repeats + 1):
        for name, model in models.items():
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            t1 = time.perf_counter()
            model.predict_on_batch(x)
            t2 = time.perf_counter()
            if rep:
                times[name]["train"].append(t1 - t0)
                times[name]["infer"].append(t2 - t1)
    result = {k: {w: statistics.median(v) for w, v in d.items()} for k, d in times.items()}
    result["tensorflow"] = tf.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
