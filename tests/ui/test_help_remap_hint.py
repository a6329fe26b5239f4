"""The help screen's remap example must not take a key another action already has.

It read ``[keys] send = "f6"``: f6 opens the sessions browser, so a user who
followed the example lost that key.
"""

from __future__ import annotations

import re

from workbench.ui.keys import ACTIONS
from workbench.ui.screens.help import REMAP_HINT


def test_the_remap_example_uses_a_free_key():
    action, key = re.search(r'\[keys\] (\w+) = "([^"]+)"', REMAP_HINT).groups()
    assert action in {a.id for a in ACTIONS}
    taken = {a.key for a in ACTIONS if a.id != action}
    assert key not in taken
