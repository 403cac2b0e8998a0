"""Exceptions that carry their BIDS-App exit code; only the CLI edge turns them into exits."""

from __future__ import annotations


class ExitCode:
    """Exit codes of the BIDS execution spec draft (BIDS Apps / bids-standard execution-spec, with sysexits.h codes 64-75)."""

    OK = 0
    FAILURE = 1
    BIDS_INVALID = 16
    UNKNOWN_LEVEL = 17
    NOTHING_SELECTED = 18
    USAGE = 64
    DATA_ERROR = 65
    NO_INPUT = 66
    CANT_CREATE = 73
    IO_ERROR = 74
    TEMP_FAILURE = 75
    NO_LICENSE = 126


class BidsEnergyError(Exception):
    """An error the user can act on; ``exit_code`` is what the process returns."""

    exit_code: int = ExitCode.FAILURE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(BidsEnergyError):
    exit_code = ExitCode.USAGE


class InputMissingError(BidsEnergyError):
    exit_code = ExitCode.NO_INPUT


class BidsValidationError(BidsEnergyError):
    exit_code = ExitCode.BIDS_INVALID


class NothingSelectedError(BidsEnergyError):
    exit_code = ExitCode.NOTHING_SELECTED


class DataError(BidsEnergyError):
    exit_code = ExitCode.DATA_ERROR


class OutputError(BidsEnergyError):
    exit_code = ExitCode.CANT_CREATE


class WriteError(BidsEnergyError):
    exit_code = ExitCode.IO_ERROR


class LicenseError(BidsEnergyError):
    exit_code = ExitCode.NO_LICENSE


class ParticipantSkipped(BidsEnergyError):
    """A participant lacks what the pipeline needs (e.g. no T1w): reported, not fatal."""

    exit_code = ExitCode.DATA_ERROR
