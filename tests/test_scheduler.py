"""The schedulers, driven by scripted loss sequences."""
from paddle_gan.roles import DIS, GEN
from paddle_gan.scheduler import Alternate, LossBased, pick_ahead


def run(scheduler, losses):
    return "".join(scheduler.choose(d, g)[0].upper() for d, g in losses)


def test_loss_based_follows_the_larger_loss():
    assert run(LossBased(), [(2, 1), (1, 2), (2, 1), (1, 2)]) == "DGDG"


def test_tie_trains_the_generator():
    # v1 trains D only when d_loss > g_loss strictly.
    assert run(LossBased(), [(1, 1)] * 3) == "GGG"


def test_discriminator_strike_limit():
    # D keeps the larger loss but may be picked at most 5 times in a row.
    assert run(LossBased(5), [(2, 1)] * 12) == "DDDDDGDDDDDG"


def test_generator_strike_limit():
    assert run(LossBased(5), [(1, 2)] * 12) == "GGGGGDGGGGGD"


def test_strike_limit_from_a_custom_max():
    assert run(LossBased(2), [(2, 1)] * 5) == "DDGDD"


def test_strike_resets_when_the_pick_changes():
    scheduler = LossBased(5)
    run(scheduler, [(2, 1)] * 4 + [(1, 2)])
    assert scheduler.state_dict() == {"current": "gen", "strike": 1}


def test_state_round_trip_continues_the_same_sequence():
    losses = [(2, 1)] * 3 + [(1, 2)] * 7 + [(2, 1)] * 4
    whole = run(LossBased(), losses)
    first = LossBased()
    head = run(first, losses[:5])
    resumed = LossBased()
    resumed.load_state_dict(first.state_dict())
    assert head + run(resumed, losses[5:]) == whole


def test_alternate_ignores_losses():
    assert run(Alternate(2, 1), [(0, 9)] * 7) == "DDGDDGD"
    assert run(Alternate(1, 3), [(9, 0)] * 8) == "DGGGDGGG"


def test_alternate_picks_ahead_what_it_would_choose():
    ahead = Alternate(2, 1)
    picks = "".join(pick_ahead(ahead)[0].upper() for _ in range(7))
    assert picks == run(Alternate(2, 1), [(0, 9)] * 7) == "DDGDDGD"
    resumed = Alternate(2, 1)
    resumed.load_state_dict(ahead.state_dict())
    assert [pick_ahead(resumed) for _ in range(2)] == [DIS, GEN]  # DDGDDGD | DG


def test_loss_based_and_a_scheduler_without_the_method_wait_for_the_losses():
    class Mine:  # a user's scheduler written before pick_ahead existed
        strike = 0

        def choose(self, d_loss, g_loss):
            return DIS

    loss_based = LossBased()
    assert pick_ahead(loss_based) is None and pick_ahead(Mine()) is None
    assert loss_based.state_dict() == LossBased().state_dict()  # asking changed nothing
