"""Mediamon pipeline package."""
