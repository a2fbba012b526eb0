"""The commands that the queues, roles and schedules groups share in shape.

Each of those groups lists its records, shows one by name, and pauses, resumes or deletes one
by name: the same parse, call, render with another client call, NAME argument and view.
``NamedRecords`` adds such a command to a group from those parts, so that each shape is
written once. Commands with options of their own (create, update, purge, ...) stay written
out in their modules; a module adds its commands in the order ``--help`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from . import views
from .output import Column, View
from .session import Session, api_command

if TYPE_CHECKING:
    from jobbers.api.client import JobbersClient

Answer = Coroutine[Any, Any, Any]
"""A client call, for ``Session.call`` to run."""


@dataclass(frozen=True)
class NamedRecords:
    """A group's commands on records known by name: its app, NAME argument and record fields.

    ``name_arg`` is the group's ``Annotated`` NAME argument (its help and completion).
    """

    app: typer.Typer
    name_arg: Any
    fields: Sequence[Column]

    def listing(
        self,
        help: str,
        call: Callable[[JobbersClient], Answer],
        rows: Callable[[Any], Iterable[Any]],
        view: View,
    ) -> None:
        """Add ``list``: the answer's ``rows``, one line each in ``view``."""

        def command(s: Session) -> None:
            answer = s.call(call(s.api))
            s.out.listing(answer, rows(answer), view)

        self._add("list", help, command)

    def show(self, verb: str, help: str, call: Callable[[JobbersClient, str], Answer]) -> None:
        """Add ``VERB NAME``: one call on the named record, then the record it answers with."""

        def command(s: Session, name: str) -> None:
            views.print_named(s.out, s.call(call(s.api, name)), self.fields)

        self._add(verb, help, command, name=self.name_arg)

    def delete(self, help: str, call: Callable[[JobbersClient, str], Answer]) -> None:
        """Add ``delete NAME``: the manager's message, or the name with ``-q``."""

        def command(s: Session, name: str) -> None:
            answer = s.call(call(s.api, name))
            s.out.done(answer, answer.message, [name])

        self._add("delete", help, command, name=self.name_arg)

    def _add(self, verb: str, help: str, command: Callable[..., None], **args: Any) -> None:
        # Typer reads the help from the docstring and each argument from its annotation.
        command.__doc__ = help
        command.__annotations__.update(args)
        self.app.command(verb)(api_command(command))
