"""Helpers shared by the ESIA and ЕГИСЗ/ФРМР emulators (never by the application)."""
