"""Chinese-text rules, each written once; imports nothing from the project."""
