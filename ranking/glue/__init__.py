"""Ranking's Django glue beyond the standard module names: the refits (``refits``) and the style
features they read (``style_features``). ``ranking.services`` is the door other apps call."""
