"""Reference data shipped with the bot: the drug list, an МКБ-10 subset, prescription form rules.

The shipped files are small subsets; ``load_drugs`` / ``load_icd10`` also read the full official
exports (formats in docs/reference-data.md), pointed to by settings.
"""
