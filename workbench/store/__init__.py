"""The store: what is kept of runs and what is read back from them.

Sessions on disk, a comparison recorded as it runs, ratings and votes, the leaderboard,
blind deals, diffs, replays and exports.
"""
