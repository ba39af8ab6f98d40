"""The noise stream: the numbers of one draw per iteration, chunked, and an exact resume."""
import numpy as np
import pytest

from paddle_gan.noise import CHUNK, NOISE_STREAM, NoiseStream, fixed_noise


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
