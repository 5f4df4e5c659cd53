"""Living Lab Workbench: plan living labs together on a shared map.

The package holds only its version; it must not import its modules, so that importing one of
them stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("living-lab-workbench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
