"""The help-desk staff web console: its own HTTP process (Starlette, Jinja2, htmx), no Rasa imports.

``python -m bot.console.cli serve`` starts it; :func:`bot.console.app.create_app` builds the app.
"""
