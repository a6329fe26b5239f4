"""The run core: one prompt fanned out to N backends, every chunk timed, the CPU shared.

Events, the record of a run, the runner, the CPU thread budget and the figures (metrics).
It drives ``models`` and knows nothing of sessions, checks, the command line or the UI.
"""
