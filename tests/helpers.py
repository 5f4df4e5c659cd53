"""What tests share: the demo workspace's ids and the actors the tests act as.

The demo workspace is authored in ``geodata/demo/`` (``workbench.demo`` seeds it); its ids are
fixed there, so a test names a demo record by these constants instead of pasting its UUID.
The store fixtures (``store``, ``demo_store``, ``backend``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

from workbench.access import Actor

#: München-Milbertshofen, the demo lab most tests work on (city: München, Germany)
MUNICH_LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"
#: Nürnberg, Laufamholzstraße (Germany)
NUERNBERG_LAB = "3afbf2c7-321b-4e1f-b6e8-fdc289696a5b"
#: Bayreuth north, Neudrossenfeld (Germany)
BAYREUTH_LAB = "67a05de9-1f0e-4ad9-81aa-a2e2a4d1a955"
#: Baltimore, Inner Harbor East (USA)
BALTIMORE_LAB = "72ae62f6-1ea4-415a-9f06-e8ce90c5800f"
#: Seattle, Roosevelt Way (USA)
SEATTLE_LAB = "3a54af74-0882-4391-964c-d218a6055949"
#: Swellendam town centre (South Africa)
SWELLENDAM_LAB = "8c99bc7d-a03d-4db6-9b65-adda2453c452"
#: Kharkiv link road (Ukraine)
KHARKIV_LAB = "60c9443e-e45d-4969-a057-25ff4a0e90e9"
#: an id that names no demo lab
OTHER_LAB = "d0a3a1f0-54b5-4a43-9a4e-0e4e1b7c1a6f"

OWNER = Actor("owner", "Owner")
FACILITATOR = Actor("facilitator", "Fac")
