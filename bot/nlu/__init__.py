"""Rasa NLU components for Vietnamese (this sub-package imports Rasa; the rest of bot/ does not)."""
