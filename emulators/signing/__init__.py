"""A cloud signing service stand-in: per-subject GOST R 34.10-2012 keys, ``POST /api/v1/sign``."""
