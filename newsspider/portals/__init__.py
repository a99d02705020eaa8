"""The portal registry: every module in this package that declares ``PORTAL`` or ``PORTALS``.

Adding a portal is adding a module here (see README, "Adding a portal").
Definitions are validated at import (:func:`newsspider.portals.base.define`),
so a broken declaration fails ``scrapy list`` with the module and field named.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from newsspider.portals.base import Portal, PortalDefinitionError

__all__ = ["Portal", "PortalDefinitionError", "all_portals", "get_portal"]


@lru_cache(maxsize=1)
def all_portals() -> dict[str, Portal]:
    """Every declared portal by name, in module order."""
    found: dict[str, Portal] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = list(getattr(module, "PORTALS", []))
        if hasattr(module, "PORTAL"):
            declared.insert(0, module.PORTAL)
        for portal in declared:
            if not isinstance(portal, Portal):
                raise PortalDefinitionError(
                    f"{module.__name__}: PORTAL(S) must hold Portal objects, got {type(portal)!r}"
                )
            if portal.name in found:
                raise PortalDefinitionError(
                    f"{module.__name__}: portal name {portal.name!r} is declared twice"
                )
            found[portal.name] = portal
    return found


def get_portal(name: str) -> Portal:
    try:
        return all_portals()[name]
    except KeyError:
        known = ", ".join(sorted(all_portals()))
        raise KeyError(f"unknown portal {name!r}; known portals: {known}") from None
