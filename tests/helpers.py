"""What tests share: the demo workspace's ids and the actors the tests act as.

The demo workspace is authored in ``geodata/demo/`` (``workbench.demo`` seeds it); its ids are
fixed there, so a test names a demo record by these constants instead of pasting its UUID.
The store fixtures (``store``, ``demo_store``, ``backend``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

from workbench.access import Actor

#: München-Milbertshofen, the demo lab most tests work on (city: München, Germany)
MUNICH_LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"
#: an id that names no demo lab
OTHER_LAB = "d0a3a1f0-54b5-4a43-9a4e-0e4e1b7c1a6f"

OWNER = Actor("owner", "Owner")
FACILITATOR = Actor("facilitator", "Fac")
