"""A toy package registry for resolver.clef: fetchAll is async, as a network call would be."""

import asyncio

REGISTRY = {
    "app": ["web", "db"],
    "web": ["http", "json"],
    "db": ["json"],
    "http": [],
    "json": [],
}


async def fetchAll(names):
    await asyncio.sleep(0)
    return [{"Id": name, "Deps": list(REGISTRY.get(name, []))} for name in names]


def constraintsOf(manifest):
    return list(manifest["Deps"]) if isinstance(manifest, dict) else list(manifest.Deps)
