"""Shared neural-network blocks used by several models."""
