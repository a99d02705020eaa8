"""One Scrapy spider class per declared portal (``scrapy list`` names them all)."""

from __future__ import annotations

from newsspider.portals import all_portals
from newsspider.spiders.base import PortalSpider


def _spider_class(name: str) -> type[PortalSpider]:
    portal = all_portals()[name]
    class_name = "".join(part.capitalize() for part in name.split("_")) + "Spider"
    return type(
        class_name,
        (PortalSpider,),
        {"name": portal.name, "portal": portal, "__module__": __name__,
         "__doc__": f"{portal.site_name} ({portal.channel}): {portal.start_urls[0]}"},
    )


for _name in all_portals():
    _cls = _spider_class(_name)
    globals()[_cls.__name__] = _cls

del _name, _cls
