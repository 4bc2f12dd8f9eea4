"""Custom actions for the Rasa action server. Thin: they call services in ``bot``."""
