"""The order a run's steps take: levels in turn, the echo app at the two ends, services shuffled
per level and reversed every other trial."""

from harness.results import LoadSettings
from harness.runs.plan import RunPlan, Target
from harness.terms import ECHO


def _plan(users: tuple[int, ...], trials: int = 1, echo: bool = True) -> RunPlan:
    targets = (Target("a", "m:app"), Target("b", "m:app"), Target("c", "m:app"))
    return RunPlan(targets=targets, load=LoadSettings(users=users, trials=trials, seed=3), echo=echo)


def test_the_echo_app_runs_first_at_the_lowest_and_highest_level_only():
    order = _plan((100, 50, 500, 250)).order()
    echo_levels = [users for service, users, _, _ in order if service == ECHO]
    assert echo_levels == [50, 500]
    for users in (50, 500):
        first = next(service for service, at, _, _ in order if at == users)
        assert first == ECHO
    assert len(order) == 4 * 3 + 2


def test_every_service_runs_once_per_level_and_trial_in_a_seeded_order():
    plan = _plan((50, 100), trials=2, echo=False)
    order = plan.order()
    assert order == plan.order()  # seeded: the same order every time
    for users in (50, 100):
        for trial in (0, 1):
            turn = [service for service, at, _, t in order if (at, t) == (users, trial)]
            assert sorted(turn) == ["a", "b", "c"]
    assert ECHO not in {service for service, *_ in order}


def test_every_other_trial_reverses_the_turn_so_no_service_always_goes_first():
    # An order effect (the second step of a level measured slower) falls on both sides equally.
    order = _plan((50, 100), trials=3, echo=False).order()
    for users in (50, 100):
        turns = [[s for s, at, _, t in order if (at, t) == (users, trial)] for trial in range(3)]
        assert turns[1] == turns[0][::-1] and turns[2] == turns[0]


def test_the_command_line_s_locust_workers_reach_the_plan(monkeypatch):
    """The distributed run the load tests share is planned in code: its flags are checked here."""
    from harness.cli import build_parser
    from harness.commands._runs import plan_from_args
    from harness.runs.variants import variant_target

    monkeypatch.setenv("WHATSAPP_APP_SECRET", "operator-secret")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "operator-token")
    argv = ["compare", "--locust-workers", "2", "--remote-workers", "1", "--master-port", "5600"]
    args = build_parser("compare").parse_args(argv)
    plan = plan_from_args(args, (variant_target("optimized"),), baseline=None, candidates=(), command="compare")
    assert (plan.load.locust_workers, plan.load.remote_workers, plan.load.master_port) == (2, 1, 5600)
    assert plan.secrets.app_secret == "operator-secret"  # the remote workers' own, from the environment
