"""Shared CLI plumbing: turning VsrError into one line on stderr and an exit code."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from vsr.errors import VsrError

debug_option = click.option("--debug", is_flag=True, help="Show tracebacks on errors.")


def fail(message: str, exit_code: int) -> None:
    """Print ``vsr: error: message`` (one line) on stderr and exit."""
    click.echo(f"vsr: error: {message}", err=True)
    sys.exit(exit_code)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body; VsrError and unexpected errors become one line unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return func(*args, **kwargs)
        except VsrError as exc:
            if debug:
                traceback.print_exc()
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - last resort: one line, never a silent pass
            if debug:
                traceback.print_exc()
            fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)

    return wrapper
