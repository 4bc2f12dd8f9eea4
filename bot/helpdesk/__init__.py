"""The help desk: office hours today; handoff, queue and call-backs as issue 11 lands (no Rasa or web imports)."""
