"""The folders the sandbox hides and replaces: shared by its parent side (bubblewrap's
command line) and its child side (which imports nothing heavier: it runs per check)."""

#: Folders hidden behind an empty read-only tmpfs (users' secrets and sockets live there).
HIDDEN_DIRS = ("/root", "/home", "/run")
#: Folders any user may write to: private, small tmpfs in the namespaces and bwrap.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
SCRATCH_MB = 16
