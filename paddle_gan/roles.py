"""The names of the two networks a step can train: the scheduler's answers, the keys of the
per-network counters, the `network` argument of `Networks.update`.

They live apart from `state.py` so that the modules the train state refers to (networks,
scheduler, step, checkpoint) never need to import it for two strings.
"""
DIS, GEN = "dis", "gen"
