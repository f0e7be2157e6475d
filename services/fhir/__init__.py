"""FHIR R4 resources built as plain dicts (validated against ``fhir.resources.R4B`` in the tests)."""
