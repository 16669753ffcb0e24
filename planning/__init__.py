"""Patrol planning: road travel times, the OR-Tools routing core, multi-day weekly plans."""
