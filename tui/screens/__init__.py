"""The views of ``jobbers top`` and its modal screens (detail, confirm, forms, help)."""
