"""Tests of the conversation record (bot.conversations)."""
