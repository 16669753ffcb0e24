"""Geographic layers: load, validate, normalise and score enforcement targets and their context."""
