"""The one error type users see: the CLI prints its message on one line and exits non-zero."""


class S2SAError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class S2SAWarning(UserWarning):
    """Something users should know that does not stop the command; the CLI prints it as one `warning:` line."""
