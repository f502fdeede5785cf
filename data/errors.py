"""Domain errors, for every room (it lives in the lowest, data/, so any module may import it).

Library code raises these; the CLI prints them as one line."""


class ConflictClfError(Exception):
    """Base class: anything a user can fix by changing input, options or files."""


class DataError(ConflictClfError):
    """Missing, unreadable or malformed annotated data (message starts with `file:line:` when known)."""


class ConfigError(ConflictClfError):
    """An unknown config key, a bad value, or an unreadable config file."""


class ModelError(ConflictClfError):
    """A model directory that is missing, incomplete, corrupt or unsafe to load."""


class InputError(ConflictClfError):
    """Bad input to classify/batch: unreadable, binary, unknown format, missing field."""
