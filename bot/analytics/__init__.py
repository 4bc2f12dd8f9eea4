"""Analytics: daily roll-ups of the record of conversations, the help desk and the dossier log
(:mod:`bot.analytics.rollup`), the dashboard's figures (:mod:`bot.analytics.query`) and the monthly
report (:mod:`bot.analytics.report`). Definitions of every figure: ``docs/ANALYTICS.md``."""
