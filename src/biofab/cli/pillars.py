"""The pillars' command groups, found in the plug-in registry and imported when used.

``biofab --help`` lists each pillar with the help line of its record; only
``biofab <pillar> ...`` imports the pillar's Typer app and builds its commands.
"""

from __future__ import annotations

import difflib
from typing import Any

import typer
from typer.core import TyperGroup

from biofab.core import plugins

# Built once per record (records compare by identity): registering a pillar's extensions
# twice on its Typer app would add its commands twice.
_built: dict[plugins.Pillar, Any] = {}


def pillar_command(pillar: plugins.Pillar) -> Any:
    """The pillar's Typer app with its extensions registered, as a click group (built once)."""
    if pillar not in _built:
        app = plugins.resolve(pillar.cli) if pillar.cli is not None else None
        if not isinstance(app, typer.Typer):
            raise plugins.PluginError(
                f"pillar {pillar.name!r}: cli must name a typer.Typer; found {type(app).__name__}"
            )
        for extension in pillar.cli_extensions:
            plugins.resolve(extension)(app)
        command = typer.main.get_group(app)
        command.name = pillar.command
        _built[pillar] = command
    return _built[pillar]


class PillarGroup(TyperGroup):
    """The root group: its own commands, then one lazily built group per pillar."""

    def _pillars(self) -> dict[str, plugins.Pillar]:
        offered = (p for p in plugins.pillars() if p.cli is not None)
        return {p.command: p for p in offered if p.command not in self.commands}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *self._pillars()]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        pillar = None if command is not None else self._pillars().get(cmd_name)
        if pillar is None:
            return command
        if pillar in _built:
            return _built[pillar]
        # Listing needs only the name and the help line: a placeholder, nothing imported.
        return TyperGroup(name=cmd_name, help=pillar.help, no_args_is_help=True)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        offered = self._pillars()
        name = args[0] if args else ""
        if name in offered:
            return name, pillar_command(offered[name]), args[1:]
        if name and name not in self.commands and not name.startswith("-"):
            # Typer suggests only among the commands it built; the pillars count too.
            close = difflib.get_close_matches(name, [*self.commands, *offered])
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {', '.join(map(repr, close))}?")
        return super().resolve_command(ctx, args)
