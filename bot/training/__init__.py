"""The trainer loop (no Rasa imports)."""
