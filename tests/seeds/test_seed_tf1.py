"""Seed 003 (Lesson 8, "Recurrent Neural Networks", TensorFlow 1 graphs), ported.

TF1 keeps weights as ``X @ W`` (Wx (I, H)); torch and deeprnn as ``x @ W.T`` (``weight_ih``
(H, I)): copying a TF1 weight into deeprnn transposes it.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _seedkit import dense, fit_falls, lstm, n_params, simple_rnn
from torch import nn

import deeprnn
from deeprnn.cells import SimpleRNNCell

n_inputs, n_neurons = 3, 5
# X_batch = np.array([ # t = 0      t = 1
X_BATCH = torch.tensor(
    [
        [[0, 1, 2], [9, 8, 7]],  # instance 0
        [[3, 4, 5], [0, 0, 0]],  # instance 1
        [[6, 7, 8], [6, 5, 4]],  # instance 2
        [[9, 0, 1], [3, 2, 1]],  # instance 3
    ],
    dtype=torch.float32,
)


def _tf1_weights():
    # Wx = tf.Variable(tf.random_normal(shape=[n_inputs, n_neurons])); Wy = ... [n_neurons, n_neurons]
    # b = tf.Variable(tf.zeros([1, n_neurons]))
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(n_inputs, n_neurons, generator=g),
        torch.randn(n_neurons, n_neurons, generator=g),
        torch.zeros(1, n_neurons),
    )


def _simple_rnn(Wx, Wy, b, **kwargs):
    """deeprnn.SimpleRNN holding the TF1 graph's weights."""
    layer = deeprnn.SimpleRNN(n_inputs, n_neurons, **kwargs)
    cell = layer.blocks[0].cell
    with torch.no_grad():
        cell.weight_ih.copy_(Wx.T)  # (H, I)
        cell.weight_hh.copy_(Wy.T)  # (H, H)
        cell.bias.copy_(b[0])
    return layer


def test_t01_manual_two_step_rnn():
    # Y0 = tf.tanh(tf.matmul(X0, Wx) + b)
    # Y1 = tf.tanh(tf.matmul(Y0, Wy) + tf.matmul(X1, Wx) + b)
    # Y0_val, Y1_val = sess.run([Y0, Y1], feed_dict={X0: X0_batch, X1: X1_batch})
    Wx, Wy, b = _tf1_weights()
    X0, X1 = X_BATCH[:, 0], X_BATCH[:, 1]
    Y0 = torch.tanh(X0 @ Wx + b)
    Y1 = torch.tanh(Y0 @ Wy + X1 @ Wx + b)
    outputs, _states = _simple_rnn(Wx, Wy, b)(X_BATCH)
    torch.testing.assert_close(outputs[:, 0], Y0)
    torch.testing.assert_close(outputs[:, 1], Y1)
    assert outputs.shape == (4, 2, 5)  # "five output values per data instance"


def test_t02_static_rnn_basic_cell():
    # basic_cell = tf.contrib.rnn.BasicRNNCell(num_units=n_neurons)
    # output_seqs, states = tf.contrib.rnn.static_rnn(basic_cell, [X0, X1], dtype=tf.float32)
    # Y0, Y1 = output_seqs
    basic_cell = SimpleRNNCell(n_inputs, n_neurons)
    state = basic_cell.initial_state(4)
    output_seqs = []
    for X_t in (X_BATCH[:, 0], X_BATCH[:, 1]):  # a cell computes one step; we unroll it
        y, state = basic_cell(X_t, state)
        output_seqs.append(y)
    Y0, Y1 = output_seqs
    layer = deeprnn.Recurrent(basic_cell)  # the same cell, the loop run by the layer
    outputs, states = layer(X_BATCH)
    torch.testing.assert_close(outputs, torch.stack([Y0, Y1], dim=1))
    torch.testing.assert_close(states[0].h, state.h)


def test_t03_static_rnn_unstack_transpose_stack():
    # X = tf.placeholder(tf.float32, [None, n_steps, n_inputs])
    # X_seqs = tf.unstack(tf.transpose(X, perm=[1, 0, 2]))
    # output_seqs, states = tf.contrib.rnn.static_rnn(basic_cell, X_seqs, dtype=tf.float32)
    # outputs = tf.transpose(tf.stack(output_seqs), perm=[1, 0, 2])
    layer = deeprnn.SimpleRNN(n_inputs, n_neurons)
    outputs, _ = layer(X_BATCH)  # (N, T, I) in, (N, T, H) out: nothing to transpose
    time_major = deeprnn.SimpleRNN(n_inputs, n_neurons, batch_first=False)
    time_major.load_state_dict(layer.state_dict())
    out_tm, _ = time_major(X_BATCH.transpose(0, 1))  # (T, N, I), as tf.unstack wants it
    torch.testing.assert_close(out_tm.transpose(0, 1), outputs)


def test_t04_feed_batch_outputs_val():
    # outputs_val = outputs.eval(feed_dict={X: X_batch});  print(outputs_val)  # (4, 2, 5)
    Wx, Wy, b = _tf1_weights()
    outputs_val, states_val = _simple_rnn(Wx, Wy, b)(X_BATCH)
    assert outputs_val.shape == (4, 2, 5)
    assert outputs_val.abs().max() <= 1  # tanh
    torch.testing.assert_close(states_val[0].h, outputs_val[:, -1])  # basic cell: state = output


def test_t05_dynamic_rnn():
    # x = tf.placeholder(tf.float32, [None, n_steps, n_inputs])
    # basic_cell = tf.contrib.rnn.BasicRNNCell(num_units=n_neurons)
    # outputs, states = tf.nn.dynamic_rnn(basic_cell, x, dtype=tf.float32)
    outputs, states = deeprnn.SimpleRNN(n_inputs, n_neurons)(X_BATCH)
    assert outputs.shape == (4, 2, 5) and states[0].h.shape == (4, 5)


def test_t06_dynamic_rnn_sequence_length():
    # seq_length = tf.placeholder(tf.int32, [None])
    # outputs, states = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32,
    #                                     sequence_length=seq_length)
    # seq_length_batch = np.array([2, 1, 2, 2])
    Wx, Wy, b = _tf1_weights()
    layer = _simple_rnn(Wx, Wy, b)
    seq_length_batch = torch.tensor([2, 1, 2, 2])
    outputs_val, states_val = layer(X_BATCH, lengths=seq_length_batch)
    assert outputs_val[1, 1].eq(0).all()  # "zero vector" past instance 1's length
    torch.testing.assert_close(states_val[0].h[1], outputs_val[1, 0])  # "t = 0 !!!"
    torch.testing.assert_close(states_val[0].h[[0, 2, 3]], outputs_val[[0, 2, 3], 1])
    full, _ = layer(X_BATCH)
    torch.testing.assert_close(outputs_val[[0, 2, 3]], full[[0, 2, 3]])


def _mnist_like(n=60, seed=0):
    """Tiny stand-in for MNIST: (n, 784) "images" whose class shows in the mean of one row."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 28, 28, generator=g) * 0.2
    images[torch.arange(n), labels * 2 + 3] += 0.8  # row 3, 5, ... 21 lights up
    return images.reshape(n, 784), labels


class _SequenceClassifier(nn.Module):
    # basic_cell = tf.contrib.rnn.BasicRNNCell(num_units=n_neurons)       # 150
    # outputs, states = tf.nn.dynamic_rnn(basic_cell, X, dtype=tf.float32)
    # logits = fully_connected(states, n_outputs, activation_fn=None)    # 10
    def __init__(self, n_inputs=28, n_neurons=150, n_outputs=10, cell=deeprnn.SimpleRNN, **kw):
        super().__init__()
        self.rnn = cell(n_inputs, n_neurons, **kw)
        self.fc = nn.Linear(n_neurons, n_outputs)

    def forward(self, X):
        _outputs, states = self.rnn(X)
        return self.fc(states.layer(-1)[0].h)  # the final state of the top layer


def test_t07_mnist_sequence_classifier_construction():
    # xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    # loss = tf.reduce_mean(xentropy)
    # correct = tf.nn.in_top_k(logits, y, 1); accuracy = tf.reduce_mean(tf.cast(correct, ...))
    model = _SequenceClassifier()
    assert n_params(model) == simple_rnn(150, 28) + dense(150, 10)
    images, y = _mnist_like(8)
    logits = model(images.reshape(-1, 28, 28))
    assert logits.shape == (8, 10)
    xentropy = -logits.log_softmax(-1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(F.cross_entropy(logits, y), xentropy.mean())
    correct = logits.topk(1, dim=1).indices.squeeze(1) == y  # in_top_k(logits, y, 1)
    assert torch.equal(correct, logits.argmax(1) == y)  # top-1 is the argmax


def test_t08_mnist_execution_reshape_and_train():
    # X_batch, y_batch = mnist.train.next_batch(batch_size)
    # X_batch = X_batch.reshape((-1, n_steps, n_inputs))
    # sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
    # acc_train = accuracy.eval(...); acc_test = accuracy.eval(feed_dict={X: X_test, ...})
    images, labels = _mnist_like(60)
    X_train = images.reshape((-1, 28, 28))  # 28 steps of 28 pixels
    model = _SequenceClassifier(n_neurons=16)
    history = fit_falls(
        model,
        X_train[:48],
        labels[:48],
        epochs=6,
        batch_size=16,
        loss="sparse_categorical_crossentropy_from_logits",
        metrics=["accuracy"],
    )
    assert "accuracy" in history
    _loss, acc_test = deeprnn.evaluate(model, X_train[48:], labels[48:])
    by_hand = (deeprnn.predict(model, X_train[48:]).argmax(1) == labels[48:]).float().mean()
    assert acc_test == pytest.approx(float(by_hand))


def test_t09_time_series_relu_basic_cell():
    # n_steps = 20; n_inputs = 1; n_neurons = 100; n_outputs = 1
    # cell = tf.contrib.rnn.BasicRNNCell(num_units=n_neurons, activation=tf.nn.relu)
    # outputs, states = tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)
    rnn = deeprnn.SimpleRNN(1, 100, activation="relu")
    outputs, _states = rnn(torch.randn(4, 20, 1))
    assert outputs.shape == (4, 20, 100) and outputs.min() >= 0
    assert n_params(rnn) == simple_rnn(100, 1)


def test_t10_output_projection_wrapper():
    # cell = tf.contrib.rnn.OutputProjectionWrapper(
    #     tf.contrib.rnn.BasicRNNCell(num_units=n_neurons, activation=tf.nn.relu),
    #     output_size=n_outputs)
    model = nn.Sequential(
        deeprnn.SimpleRNN(1, 100, activation="relu", return_state=False),
        nn.Linear(100, 1),  # on (N, T, 100): one shared projection per step (TimeDistributed)
    )
    x = torch.randn(4, 20, 1)
    out = model(x)
    assert out.shape == (4, 20, 1)
    assert n_params(model[1]) == dense(100, 1)
    torch.testing.assert_close(out[:, 7], model[1](model[0](x)[:, 7]))


def _series_batch(n, n_steps=20, seed=0):
    """Random windows of t*sin(t)/3 + 2*sin(5t); the target is the window shifted one step."""
    rng = np.random.default_rng(seed)
    start = rng.random((n, 1)) * 25
    t = start + np.arange(n_steps + 1) * 0.1
    s = (t * np.sin(t) / 3 + 2 * np.sin(5 * t)).astype(np.float32)
    return s[:, :-1, None], s[:, 1:, None]


def test_t11_mse_adam_training_loop_and_predictions():
    # loss = tf.reduce_mean(tf.square(outputs - y))
    # optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate); training_op = minimize(loss)
    # for iteration in range(n_iterations): sess.run(training_op, feed_dict={X: X_batch, ...})
    # y_pred = sess.run(outputs, feed_dict={X: X_new})
    X_batch, y_batch = _series_batch(50)
    model = nn.Sequential(
        deeprnn.SimpleRNN(1, 16, activation="relu", return_state=False), nn.Linear(16, 1)
    )
    fit_falls(model, X_batch, y_batch, epochs=6, batch_size=50, loss="mse", optimizer="adam")
    X_new, _ = _series_batch(3, seed=1)
    assert deeprnn.predict(model, X_new).shape == (3, 20, 1)


def test_t12_multi_rnn_cell_three_layers():
    # basic_cell = tf.contrib.rnn.BasicRNNCell(num_units=n_neurons)      # 100
    # multi_layer_cell = tf.contrib.rnn.MultiRNNCell([basic_cell] * n_layers)   # 3
    # outputs, states = tf.nn.dynamic_rnn(multi_layer_cell, x, dtype=tf.float32)
    rnn = deeprnn.SimpleRNN(2, 100, num_layers=3)  # three layers, each its own weights
    outputs, states = rnn(torch.randn(4, 6, 2))
    assert outputs.shape == (4, 6, 100)
    assert len(states) == 3 and all(s.h.shape == (4, 100) for s in states)  # one per layer
    torch.testing.assert_close(states[2].h, outputs[:, -1])
    flat = torch.cat([s.h for s in states], dim=-1)  # state_is_tuple=False
    assert flat.shape == (4, 300)
    assert n_params(rnn) == simple_rnn(100, 2) + 2 * simple_rnn(100, 100)


def test_t13_basic_lstm_cell_two_states_forget_bias():
    # lstm_cell = tf.contrib.rnn.BasicLSTMCell(num_units=n_neurons)
    # "TensorFlow initializes b_f to a vector full of 1s instead of 0s"
    rnn = deeprnn.LSTM(3, 5)
    outputs, states = rnn(X_BATCH)
    h, c = states[0]  # the short-term and the long-term state
    torch.testing.assert_close(h, outputs[:, -1])
    assert c.shape == (4, 5)
    bias = rnn.blocks[0].cell.bias  # torch gate order: input, forget, cell, output
    assert bias[5:10].eq(1).all() and bias[:5].eq(0).all()
    assert n_params(rnn) == lstm(5, 3)


def test_t14_dropout_wrapper_keep_prob_in_deep_rnn():
    # cells = [tf.contrib.rnn.DropoutWrapper(BasicRNNCell(n_neurons), input_keep_prob=keep_prob)
    #          for _ in range(n_layers)]    keep_prob = 0.5, only while training
    # multi_layer_cell = tf.contrib.rnn.MultiRNNCell(cells)
    rnn = deeprnn.SimpleRNN(3, 8, num_layers=3, input_dropout=0.5, input_dropout_same_mask=False)
    plain = deeprnn.SimpleRNN(3, 8, num_layers=3)
    plain.load_state_dict(rnn.state_dict())
    x = torch.randn(4, 6, 3)
    rnn.eval()  # is_training=False: keep_prob 1
    torch.testing.assert_close(rnn(x)[0], plain(x)[0])
    rnn.train()
    assert not torch.allclose(rnn(x)[0], plain(x)[0])
    out_drop = deeprnn.SimpleRNN(3, 8, output_dropout=0.5, return_state=False).train()
    zeros = (out_drop(torch.randn(64, 6, 3)) == 0).float().mean()  # output_keep_prob=0.5
    assert 0.35 < zeros < 0.65


def test_t15_lstm_mnist_classifier():
    # Demo 3: "Develop an MNIST classifier using LSTM RNNs. Print training and test accuracy."
    # lstm_cell = tf.contrib.rnn.BasicLSTMCell(num_units=n_neurons); dynamic_rnn; fully_connected
    assert n_params(_SequenceClassifier(cell=deeprnn.LSTM)) == lstm(150, 28) + dense(150, 10)
    images, labels = _mnist_like(48)
    model = _SequenceClassifier(n_neurons=16, cell=deeprnn.LSTM)
    fit_falls(
        model,
        images.reshape(-1, 28, 28),
        labels,
        epochs=6,
        batch_size=16,
        loss="sparse_categorical_crossentropy_from_logits",
        metrics=["accuracy"],
    )


def test_t16_word_embeddings_lookup():
    # embeddings = tf.Variable(tf.random_uniform([vocabulary_size, embedding_size], -1.0, 1.0))
    # train_inputs = tf.placeholder(tf.int32, shape=[None])
    # embed = tf.nn.embedding_lookup(embeddings, train_inputs)
    vocabulary_size, embedding_size = 50000, 150
    embeddings = deeprnn.Embedding(vocabulary_size, embedding_size, mask_zero=False)
    nn.init.uniform_(embeddings.weight, -1.0, 1.0)
    train_inputs = torch.tensor([3, 49999, 3])
    embed = embeddings(train_inputs)
    assert embed.shape == (3, 150) and embeddings.weight.abs().max() <= 1
    torch.testing.assert_close(embed[0], embed[2])
    torch.testing.assert_close(embed, F.embedding(train_inputs, embeddings.weight))


def test_t17_encoder_decoder_translation_reversed_source():
    # "An Encoder-Decoder RNN can translate ... target output is also fed to the Decoder but
    #  pushed back by one step. <go> ... <eos> ... input English sentence is reversed first"
    PAD, GO, EOS = 0, 1, 2
    model = deeprnn.Seq2Seq(
        12,
        go_id=GO,
        eos_id=EOS,
        pad_id=PAD,
        embedding_size=8,
        hidden_size=16,
        cell="lstm",
        bidirectional=False,
        attention=None,
        reverse_source=True,
    )
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 12, (32, 4), generator=g)
    tgt = torch.cat([src.flip(1), torch.full((32, 1), EOS)], dim=1)  # "translate" = reverse

    def loss(logits, y):
        return deeprnn.sequence_loss(logits, y.long(), pad_id=PAD)

    fit_falls(model, (src, tgt), tgt, epochs=6, batch_size=32, loss=loss)
    out = model.eval().generate(src[:2], max_len=6)  # inference: feed back the last word
    assert out.tokens.shape[0] == 2
