"""The services behind the trainer's pages (:mod:`bot.console.training_views`), gathered in one object.

:class:`TrainingDesk` holds the NLU inbox, the model registry, the procedure catalogue (its search box),
the names of people to refuse in training data, and the project tree the writer changes (``root``,
``PROJECT_ROOT`` by default: tests point it at a copy). The background training runs
(:mod:`bot.training.runs`), the model loader (:mod:`bot.training.loader`) and the evaluation comparison
(:mod:`bot.training.evaluation`) are imported on first use, so the console starts (and its other pages
work) even where one of them is missing; a page that needs one then says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

__all__ = ["TrainingDesk", "default_training_desk"]

logger = logging.getLogger(__name__)


@dataclass
class TrainingDesk:
    """What the trainer's pages call; every field can be a fake in tests.

    ``runs``, ``loader`` and ``compare`` left None are built from :mod:`bot.training` on first use
    (None again when that module is not installed).
    """

    engine: Engine
    root: Path
    inbox: Any  # bot.training.inbox.Inbox
    registry: Any  # bot.training.registry.ModelRegistry
    catalog: Any  # bot.catalog.service.ProcedureCatalog (find, get)
    known_names: Callable[[], Iterable[str]] = lambda: ()
    runs_store: Any = None  # bot.training.runs.TrainingRuns
    model_loader: Any = None  # a ModelLoader; None: bot.training.loader.ReplicaLoader per promotion
    compare_reports: Callable[..., Any] | None = None  # bot.training.evaluation.compare
    _missing: set[str] = field(default_factory=set, repr=False)
    _intents: tuple[tuple[int, int], tuple[str, ...]] | None = field(default=None, repr=False)

    def runs(self) -> Any | None:
        """The background training runs, or None when :mod:`bot.training.runs` is not there."""
        if self.runs_store is None and "runs" not in self._missing:
            try:
                from bot.training.runs import TrainingRuns
            except ImportError:
                self._missing.add("runs")
                return None
            self.runs_store = TrainingRuns(self.engine)
        return self.runs_store

    def loader(self) -> Any | None:
        """What loads a promoted model into every running Rasa server (a fresh
        :class:`bot.training.loader.ReplicaLoader` that puts the live model back when a server fails), or None
        without :mod:`bot.training.loader`."""
        if self.model_loader is not None:
            return self.model_loader
        if "loader" in self._missing:
            return None
        try:
            from bot.training.loader import ReplicaLoader
        except ImportError:
            self._missing.add("loader")
            return None
        live = self.registry.live()
        return ReplicaLoader(previous=live.model_file if live is not None else None)

    def compare(self) -> Callable[..., Any] | None:
        """``compare(candidate_report, live_report)``, or None without :mod:`bot.training.evaluation`."""
        if self.compare_reports is None and "evaluation" not in self._missing:
            try:
                from bot.training.evaluation import compare
            except ImportError:
                self._missing.add("evaluation")
                return None
            self.compare_reports = compare
        return self.compare_reports

    def names(self) -> list[str]:
        """People's names that must not be in training data (dossier applicants); [] when unreadable."""
        try:
            return [n for n in self.known_names() if n]
        except Exception as exc:  # a names source that fails must not stop the trainer's work
            logger.warning("console: known names unavailable: %s", type(exc).__name__)
            return []

    def intents(self) -> list[str]:
        """The domain's intents a trainer may choose (``EXTERNAL_…`` ones left out), sorted."""
        from bot.training.data import INTENT_NAME
        from bot.training.writer import domain_intents

        path = self.root / "domain.yml"
        try:
            stamp = (path.stat().st_mtime_ns, path.stat().st_size)
            if self._intents is not None and self._intents[0] == stamp:  # parsed once per change of the file
                return list(self._intents[1])
            text = path.read_text(encoding="utf-8")
        except OSError:
            return []
        names = sorted({name for name in domain_intents(text) if INTENT_NAME.fullmatch(name)})
        self._intents = (stamp, tuple(names))
        return names

    def live_label(self) -> str:
        """The live model's id as the header shows it ("#3"), or "—" (none yet, or the registry unreadable)."""
        try:
            live = self.registry.live()
        except Exception as exc:
            logger.warning("console: live model unavailable: %s", type(exc).__name__)
            return "—"
        return "—" if live is None else f"#{live.id}"


def default_training_desk(engine: Engine, root: Path | None = None) -> TrainingDesk:
    """The real services over ``engine`` and the project tree ``root`` (default ``PROJECT_ROOT``)."""
    from bot.catalog.service import ProcedureCatalog
    from bot.dossiers.store import DossierStore
    from bot.settings import PROJECT_ROOT
    from bot.training.data import TrainingIndex
    from bot.training.inbox import Inbox
    from bot.training.registry import ModelRegistry

    root = root or PROJECT_ROOT
    catalog = ProcedureCatalog(engine)
    return TrainingDesk(
        engine=engine,
        root=root,
        inbox=Inbox(engine, TrainingIndex(root), catalog),
        registry=ModelRegistry(engine),
        catalog=catalog,
        known_names=DossierStore(engine).names_provider(),
    )
