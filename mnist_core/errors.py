"""The errors that mean "the user's input or environment is wrong": shown as one line."""

from mnist_core.budget import BudgetError
from mnist_core.config import ConfigError
from mnist_core.data import DataError
from mnist_core.jobs.line import QueueError
from mnist_core.owners import NotAllowed
from mnist_core.people import NoSuchPerson
from mnist_core.reading.classifier import ModelError
from mnist_core.reading.image_file import ImageError
from mnist_core.store.database import StoreError
from mnist_core.store.drawings import DrawingError
from mnist_core.store.runs import RunError
from mnist_core.styles import NoFonts

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, DataError, DrawingError, ImageError, ModelError, NoFonts, NoSuchPerson, NotAllowed, RunError,
    StoreError, OSError, QueueError, BudgetError,
)
