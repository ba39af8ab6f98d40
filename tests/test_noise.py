"""The noise stream: the numbers of one draw per iteration, chunked, and an exact resume; the
fixed class grid of a conditional run, and the step's stream of classes and extra noise."""
import numpy as np
import pytest

from paddle_gan.noise import (
    CHUNK,
    NOISE_STREAM,
    NoiseStream,
    RandomStream,
    balanced_labels,
    class_grid,
    class_grid_labels,
    fixed_noise,
)


def test_same_numbers_as_one_draw_per_iteration():
    stream = NoiseStream(seed=7, batch_shape=(4, 3))
    reference = np.random.default_rng([7, NOISE_STREAM])
    for _ in range(2 * CHUNK + 5):  # across two chunk boundaries
        expected = reference.standard_normal((4, 3), dtype=np.float32)
        np.testing.assert_array_equal(stream.next(), expected)


@pytest.mark.parametrize("drawn", [0, 1, CHUNK - 1, CHUNK, CHUNK + 3])
def test_state_dict_resumes_the_same_noise(drawn):
    stream = NoiseStream(seed=3, batch_shape=(2, 5))
    for _ in range(drawn):
        stream.next()
    saved = stream.state_dict()
    expected = [stream.next().copy() for _ in range(CHUNK + 2)]
    resumed = NoiseStream(seed=99, batch_shape=(2, 5))  # the saved state wins over the seed
    resumed.load_state_dict(saved)
    np.testing.assert_array_equal([resumed.next() for _ in range(CHUNK + 2)], expected)


def test_fixed_noise_is_its_own_stream():
    fixed = fixed_noise(seed=7, count=4, noise_dim=3)
    np.testing.assert_array_equal(fixed, fixed_noise(seed=7, count=4, noise_dim=3))
    assert not np.array_equal(fixed, NoiseStream(seed=7, batch_shape=(4, 3)).next())


def test_a_position_outside_the_chunk_is_refused():
    stream = NoiseStream(seed=1, batch_shape=(2, 2))
    state = stream.state_dict()
    with pytest.raises(ValueError, match="outside 0..64"):
        stream.load_state_dict({**state, "used": CHUNK + 1})


def test_the_class_grid_is_the_same_noise_for_every_class():
    noise, labels = class_grid(3, num_classes=4, noise_dim=5, distribution="uniform", columns=6)
    assert noise.shape == (24, 5) and noise.dtype == np.float32
    np.testing.assert_array_equal(labels, np.repeat(np.arange(4), 6))
    for row in range(4):  # row c = class c; column j keeps its noise down the rows
        np.testing.assert_array_equal(noise[6 * row : 6 * row + 6], noise[:6])
    assert len(np.unique(noise[:6], axis=0)) == 6
    np.testing.assert_array_equal(noise[:6], fixed_noise(3, 6, 5, "uniform"))
    np.testing.assert_array_equal(class_grid_labels(4, 24), labels)


def test_the_step_stream_draws_classes_and_noise_and_resumes():
    stream = RandomStream(1, "uniform")
    saved = stream.state_dict()
    classes, noise = stream.labels(1000, 7), stream.noise((50, 3))
    assert classes.dtype == np.int64 and set(classes) == set(range(7))
    assert noise.min() >= -1 and noise.max() < 1
    again = RandomStream(9)
    again.load_state_dict(saved)
    np.testing.assert_array_equal(again.labels(1000, 7), classes)


def test_balanced_labels_take_every_class_in_turn():
    np.testing.assert_array_equal(balanced_labels(7, 3), [0, 1, 2, 0, 1, 2, 0])
