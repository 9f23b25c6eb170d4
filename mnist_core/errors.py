"""The errors that mean "the user's input or environment is wrong": each subclasses UserError,
and every edge (the command line, a training process) shows them as one line."""


class UserError(Exception):
    """What the user can mend; its message is one line for them (a `detail`, where it has one,
    is the operator's: the command line prints it, pages and HTTP answers never do)."""


USER_ERRORS: tuple[type[Exception], ...] = (UserError, OSError)
