"""Readers and writers for public dataset formats, and synthetic generators that write those formats."""
