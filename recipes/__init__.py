"""Recipes: orbit-env trained with other toolkits, one runnable file per stack (docs/recipes.md).

Each file has ``main(...)`` (the tests call it with a tiny budget) and runs a meaningful budget as a script.
"""
