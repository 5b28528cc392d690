"""One error hierarchy; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class VsrError(Exception):
    """Base class for every error vsr raises on purpose. The message says what to do."""

    exit_code = 1


class UsageError(VsrError):
    """The user asked for something impossible or contradictory (exit code 2)."""

    exit_code = 2


class InputError(VsrError):
    """The input is missing, unreadable, or not a video."""


class OutputError(VsrError):
    """The output cannot be written where asked."""


class ModelError(VsrError):
    """A model cannot be found, detected, loaded or trusted."""


class BackendError(VsrError):
    """The compute backend (PyTorch device, TensorRT) is unavailable or failed."""


class DamagedInputError(VsrError):
    """Part of the input could not be decoded (raised only with --strict)."""


class Interrupted(VsrError):
    """Processing was stopped by a signal (exit code 130)."""

    exit_code = 130


class TrainingDiverged(VsrError):
    """The training loss became NaN or infinite (a runtime failure, exit code 1)."""


class UnknownModelError(ModelError):
    """A model name that is neither registered, cached, nor a file (a usage error, exit code 2)."""

    exit_code = 2


class UnsupportedModelError(ModelError):
    """A model file vsr cannot use as asked: an unknown layout, a truncated file, a graph that is not
    image-to-image, chained links that disagree (a usage error, exit code 2: pick another file)."""

    exit_code = 2
